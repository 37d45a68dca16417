"""``brunel2000``: the four dynamical regimes of Brunel's (2000) sparse network of
excitatory and inhibitory LIF neurons (model A), on the clock-driven engine.

Model A (docs/references.md section 10; parameters as in brian-team/brian2
``examples/frompapers/Brunel_2000.py`` at aec54d2, which reproduces the paper's figure of
four simulations, and NEST's ``brunel_delta_nest.py``)::

    tau dV/dt = -V (unless refractory);  V > theta: spike, V -> V_r, refractory tau_rp
    N_E = 10000, N_I = 2500; each neuron receives C_E = 1000 excitatory and C_I = 250
    inhibitory synapses (fixed in-degree, epsilon = 0.1), delta synapses J = 0.1 mV and
    -g J, delay D = 1.5 ms, and C_E external Poisson inputs of weight J at
    nu_ext = eta nu_thr, nu_thr = theta / (J C_E tau) = 10 Hz
    tau = 20 ms, theta = 20 mV, V_r = 10 mV, tau_rp = 2 ms, V(0) = 0, dt = 0.1 ms

The four regimes and the paper's description of each (its figure's caption, as the Brian2
example and public reimplementations quote it):

- SR, g = 3, eta = 2: "almost fully synchronized network, neurons firing regularly at
  high rates";
- SI fast, g = 6, eta = 4: "fast oscillation of the global activity, neurons firing
  irregularly at a rate that is lower than the global frequency";
- AI, g = 5, eta = 2: "stationary global activity, neurons firing irregularly";
- SI slow, g = 4.5, eta = 0.9: "slow oscillation of the global activity, neurons firing
  irregularly at very low rates".

Measured after a transient, per regime: mean rate, mean CV of ISI, Golomb's synchrony
``chi`` (1 ms bins), and the dominant frequency of the population rate (0.1 ms bins,
Welch). Each is checked against its regime's description; the AI rate against the
paper's mean-field theory (its self-consistent stationary rate, computed here), and every
value is shown beside Brian2's run of its example on this machine. One connectivity (from
the seed) serves the four regimes.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import erfcx

from spikewave._validation import check_choice
from spikewave.experiments.registry import Metric, Reproduction, Result, RunContext
from spikewave.sim.connectivity import fixed_indegree
from spikewave.sim.network import Network, NetworkState, NeuronParams, PoissonDrive, Projection
from spikewave.sim.network_clock import run_clock
from spikewave.sim.population_stats import (
    dominant_frequency_hz,
    firing_rates_hz,
    isi_cv,
    population_rate_hz,
    rate_spectrum,
    synchrony_chi,
)

N_E, N_I, C_E, C_I = 10_000, 2_500, 1_000, 250
J_MV, DELAY_MS, DT_MS = 0.1, 1.5, 0.1
NEURON = NeuronParams(tau_m_ms=20.0, e_l_mv=0.0, v_th_mv=20.0, v_reset_mv=10.0, t_ref_ms=2.0)
NU_THR_HZ = NEURON.v_th_mv / (J_MV * C_E * NEURON.tau_m_ms) * 1000.0

# name -> (g, eta, title, Brian2 2.9 run of its example here: seed 0, 600 ms, stats over
# 200-600 ms: rate Hz, CV, chi, dominant frequency Hz)
REGIMES = {
    "sr": (3.0, 2.0, "SR: synchronous regular", (310.8, 0.008, 0.51, 625.0)),
    "si_fast": (6.0, 4.0, "SI fast: synchronous irregular", (58.1, 0.58, 0.19, 175.8)),
    "ai": (5.0, 2.0, "AI: asynchronous irregular", (37.5, 0.36, 0.089, 107.4)),
    "si_slow": (4.5, 0.9, "SI slow: synchronous irregular", (4.9, 0.32, 0.11, 14.6)),
}


def stationary_rate_hz(g: float, eta: float, j_mv: float = J_MV) -> float:
    """The paper's self-consistent rate of the stationary (asynchronous) state::

        1 / nu = tau_rp + tau sqrt(pi) int_{(V_r - mu)/sigma}^{(theta - mu)/sigma}
                 e^{u^2} (1 + erf u) du
        mu = C_E J tau (nu_ext + nu (1 - g gamma)),
        sigma^2 = C_E J^2 tau (nu_ext + nu (1 + g^2 gamma)),   gamma = C_I / C_E
    """
    tau = NEURON.tau_m_ms / 1000.0
    nu_ext = eta * NEURON.v_th_mv / (j_mv * C_E * tau)  # eta nu_thr, Hz
    gamma = C_I / C_E

    def siegert(nu: float) -> float:
        mu = C_E * j_mv * tau * (nu_ext + nu * (1 - g * gamma))
        sigma = j_mv * math.sqrt(C_E * tau * (nu_ext + nu * (1 + g * g * gamma)))
        lo, hi = (NEURON.v_reset_mv - mu) / sigma, (NEURON.v_th_mv - mu) / sigma
        if hi > 26.0:
            return 0.0
        integral, _ = quad(lambda u: erfcx(-u), lo, hi, limit=200)
        return 1.0 / (NEURON.t_ref_ms / 1000.0 + tau * math.sqrt(math.pi) * integral)

    return float(brentq(lambda nu: siegert(nu) - nu, 1e-3, 1000.0 / NEURON.t_ref_ms - 1e-6))


def brunel_connectivity(seed: int) -> Network:
    """Model A's synapses (weights for g = 1, no drive): build once, re-weight per regime."""
    rng = np.random.default_rng(seed)
    n = N_E + N_I
    exc = fixed_indegree(N_E, n, C_E, rng)
    inh = fixed_indegree(N_I, n, C_I, rng)
    return Network.build(n, NEURON, [Projection(exc, J_MV, DELAY_MS, "exc"),
                                     Projection(inh, -J_MV, DELAY_MS, "inh", pre_start=N_E)])


def regime_network(base: Network, g: float, eta: float) -> Network:
    """``base`` with inhibitory weights ``-g J`` and the external drive ``eta nu_thr``."""
    weights = np.where(base.port == 0, J_MV, -g * J_MV)
    drive = PoissonDrive(n_inputs=C_E, rate_hz=eta * NU_THR_HZ, weight_mv=J_MV, port="exc")
    return base.with_weights(weights, drive)


def analyse(t, k, n: int, start_ms: float, stop_ms: float, segment_bins: int) -> dict:
    """The four measures of a regime over ``[start_ms, stop_ms)``."""
    rate = float(firing_rates_hz(t, k, n, start_ms, stop_ms).mean())
    cv = isi_cv(t, k, n, start_ms, stop_ms)
    chi = synchrony_chi(t, k, n, start_ms, stop_ms, 1.0)
    rate_t, pop = population_rate_hz(t, k, n, start_ms, stop_ms, DT_MS)
    freqs, psd = rate_spectrum(pop, DT_MS, segment_bins)
    peak, ratio = dominant_frequency_hz(freqs, psd, 5.0)
    return {"rate_hz": rate, "cv_isi": float(np.nanmean(cv)) if np.isfinite(cv).any() else
            float("nan"), "cv_neurons": int(np.isfinite(cv).sum()), "synchrony_chi": chi,
            "dominant_hz": peak, "peak_over_median": ratio, "rate_t_ms": rate_t,
            "population_rate_hz": pop, "freqs_hz": freqs, "psd": psd}


def _checks(name: str, m: dict, mean_field: float) -> list[tuple[str, bool | None, str]]:
    """(key suffix, passed, criterion) for the regime's description."""
    if name == "sr":
        return [("cv_isi", m["cv_isi"] < 0.2, "< 0.2 (regular)"),
                ("synchrony_chi", m["synchrony_chi"] > 0.3, "> 0.3 (synchronous)"),
                ("rate_hz", m["rate_hz"] > 100.0, "> 100 Hz (high rates)")]
    if name == "si_fast":
        return [("dominant_hz", 100.0 <= m["dominant_hz"] <= 300.0, "in [100, 300] Hz (fast)"),
                ("rate_hz", m["rate_hz"] < 0.5 * m["dominant_hz"],
                 "< half the global frequency"),
                ("cv_isi", m["cv_isi"] > 0.3, "> 0.3 (irregular)")]
    if name == "ai":
        return [("synchrony_chi", m["synchrony_chi"] < 0.15, "< 0.15 (asynchronous)"),
                ("rate_hz", abs(m["rate_hz"] - mean_field) <= 0.15 * mean_field,
                 f"within 15 % of the mean-field rate {mean_field:.1f} Hz")]
    return [("rate_hz", m["rate_hz"] < 10.0, "< 10 Hz (very low rates)"),
            ("dominant_hz", m["dominant_hz"] < 60.0, "< 60 Hz (slow)"),
            ("synchrony_chi", m["synchrony_chi"] > 0.05, "> 0.05 (oscillating activity)")]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--regime", default="all", choices=["all", *REGIMES],
                        help="run one regime only (default all four)")


def run(ctx: RunContext, regime: str = "all") -> Result:
    from spikewave.plot.network import network_activity_figure, regimes_figure

    check_choice("regime", regime, ["all", *REGIMES])
    names = list(REGIMES) if regime == "all" else [regime]
    transient_ms = 50.0 if ctx.quick else 200.0
    segment = 1024 if ctx.quick else 4096
    base = brunel_connectivity(ctx.seed)
    n = base.n_neurons
    metrics, panels, figures, per_regime = [], [], [], {}
    sim_s, events, ext_events = 0.0, 0, 0
    for idx, name in enumerate(ctx.progress_bar(names, desc="brunel2000")):
        g, eta, title, ref = REGIMES[name]
        # the regular regime is the costliest (every neuron at ~300 Hz) and the shortest
        # to characterise: 40 ms hold a dozen of its cycles
        analysed_ms = (40.0 if name == "sr" else 150.0) if ctx.quick else 1000.0
        t_end = transient_ms + analysed_ms
        net = regime_network(base, g, eta)
        res = run_clock(net, NetworkState.initial(net, 0.0), t_end, DT_MS, rng=ctx.seed + idx)
        sim_s += res.simulation_s
        events += res.synaptic_events
        ext_events += res.external_events
        t, k = res.spike_times_ms, res.spike_neurons
        m = analyse(t, k, n, transient_ms, t_end, segment)
        mean_field = stationary_rate_hz(g, eta)
        checks = {key: (ok, crit) for key, ok, crit in _checks(name, m, mean_field)}
        for j, key in enumerate(("rate_hz", "cv_isi", "synchrony_chi", "dominant_hz")):
            ok, crit = checks.get(key, (None, "reported"))
            crit += f" (Brian2's example: {ref[j]:g})"
            metrics.append(Metric(f"{name}_{key}", m[key], ref[j], crit,
                                  None if ok is None else bool(ok),
                                  "Hz" if key.endswith("hz") else ""))
        per_regime[name] = {"g": g, "eta": eta, "analysed_ms": analysed_ms,
                            "nu_ext_hz": eta * NU_THR_HZ,
                            "mean_field_rate_hz": mean_field, "spikes": int(t.size),
                            **{key: m[key] for key in ("rate_hz", "cv_isi", "cv_neurons",
                                                       "synchrony_chi", "dominant_hz",
                                                       "peak_over_median")},
                            "simulation_s": res.simulation_s,
                            "synaptic_events": res.synaptic_events}
        shown = k < 50  # the first 50 excitatory neurons, as the paper's rasters
        window = (t_end - (40.0 if name == "sr" else 100.0), t_end)
        panels.append({"name": name, "title": f"{title}\ng = {g:g}, eta = {eta:g}",
                       "spike_times_ms": t[shown], "spike_neurons": k[shown],
                       "rate_t_ms": m["rate_t_ms"], "rate_hz": m["population_rate_hz"],
                       "window_ms": window, "freqs_hz": m["freqs_hz"], "psd": m["psd"],
                       "dominant_hz": m["dominant_hz"]})
        if name == "ai":
            rt, rh = population_rate_hz(t, k, n, transient_ms, t_end, 1.0)
            figures.append(network_activity_figure(
                t, k, rt, rh, "Brunel 2000, AI regime (500 neurons shown)",
                ctx.figure_path("brunel_ai_activity.png"), n_shown=500))
    figures.insert(0, regimes_figure(panels, ctx.figure_path("brunel_regimes.png")))
    metrics += [
        Metric("synaptic_events", float(events), None, "reported: recurrent, all regimes",
               None),
        Metric("events_per_s", events / sim_s if sim_s > 0 else float("nan"), None,
               "reported: recurrent synaptic events per second of simulation loop", None),
        Metric("simulation_s", sim_s, None, "reported: compiled loops, all regimes", None,
               "s"),
    ]
    extra = {"regimes": per_regime, "external_events": ext_events,
             "transient_ms": transient_ms}
    config = {"regime": regime, "seed": ctx.seed, "n_e": N_E, "n_i": N_I, "c_e": C_E,
              "c_i": C_I, "j_mv": J_MV, "delay_ms": DELAY_MS, "dt_ms": DT_MS,
              "nu_thr_hz": NU_THR_HZ}
    return Result("brunel2000", REPRODUCTION.title, metrics, figures, extra=extra,
                  config=config)


REPRODUCTION = Reproduction(
    name="brunel2000",
    title="Regimes of a sparse E/I network: SR, SI fast, AI, SI slow (Brunel 2000)",
    run=run,
    add_arguments=add_arguments,
    description=__doc__ or "",
)
