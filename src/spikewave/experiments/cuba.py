"""``cuba``: the CUBA benchmark network (Vogels & Abbott 2005; Brette et al. 2007, benchmark
2) exactly as Brian2's example ``examples/CUBA.py`` defines it, on the clock-driven engine.

4000 LIF neurons, the first 3200 excitatory, with current-based exponential synapses
(docs/references.md section 10, checked against brian-team/brian2 ``examples/CUBA.py`` at
aec54d2)::

    dv/dt = (ge + gi - (v - El)) / taum   (unless refractory)
    dge/dt = -ge / taue,  dgi/dt = -gi / taui
    taum 20 ms, taue 5 ms, taui 10 ms, Vt -50 mV, Vr -60 mV, El -49 mV, refractory 5 ms
    every pair connected with p = 0.02 (autapses allowed); a spike adds 1.62 mV to ge
    (excitatory) or -9 mV to gi (inhibitory), without delay; v(0) uniform in [Vr, Vt];
    dt = 0.1 ms, exact integration

``El`` lies above ``Vt``: every neuron fires on its own and the network is held at a low
rate by inhibition. Each run draws its own connectivity and initial potentials (seed,
seed + 1, ...). Checked against Brian2 2.9 running the same example on this machine
(cython target, 10 seeds x 1 s): mean rate and mean ISI CV, within tolerances of a few
seed-to-seed standard deviations. ``--n-neurons`` scales the network keeping 80 inputs
per neuron (``p = 80 / N``, weights unchanged), as the benchmark does.
"""

from __future__ import annotations

import argparse

import numpy as np

from spikewave._validation import POSITIVE, check_int, check_number
from spikewave.experiments.registry import Metric, Reproduction, Result, RunContext
from spikewave.experiments.seeds import add_scheduler_argument, check_scheduler, run_seeds
from spikewave.sim.connectivity import bernoulli
from spikewave.sim.network import Network, NetworkState, NeuronParams, Projection
from spikewave.sim.network_clock import run_clock
from spikewave.sim.population_stats import (
    firing_rates_hz,
    isi_cv,
    population_rate_hz,
    synchrony_chi,
)

NEURON = NeuronParams(tau_m_ms=20.0, e_l_mv=-49.0, v_th_mv=-50.0, v_reset_mv=-60.0,
                      t_ref_ms=5.0, tau_exc_ms=5.0, tau_inh_ms=10.0)
W_EXC_MV = 60 * 0.27 / 10   # 1.62 mV
W_INH_MV = -20 * 4.5 / 10   # -9 mV
DT_MS = 0.1
# Brian2 2.9.0, examples/CUBA.py, cython target, seeds 0-9, 1 s each, whole run (this machine)
BRIAN2_RATE_HZ, BRIAN2_RATE_SD = 5.693, 0.227
BRIAN2_CV, BRIAN2_CV_SD = 0.5244, 0.0094


def cuba_network(n_neurons: int = 4000, rng=None) -> tuple[Network, np.ndarray]:
    """The network and its initial potentials, drawn from ``rng`` (connectivity first)."""
    n = check_int("n_neurons", n_neurons, 5)
    gen = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    n_exc = n * 4 // 5
    p = 0.02 * 4000 / n
    exc = bernoulli(n_exc, n, p, gen)
    inh = bernoulli(n - n_exc, n, p, gen)
    net = Network.build(n, NEURON, [Projection(exc, W_EXC_MV, 0.0, "exc"),
                                    Projection(inh, W_INH_MV, 0.0, "inh", pre_start=n_exc)])
    v0 = NEURON.v_reset_mv + gen.random(n) * (NEURON.v_th_mv - NEURON.v_reset_mv)
    return net, v0


def simulate(seed: int, duration_s: float = 1.0, n_neurons: int = 4000):
    """One run: ``(network, NetworkRun)``."""
    net, v0 = cuba_network(n_neurons, seed)
    run = run_clock(net, NetworkState.initial(net, v0), duration_s * 1000.0, DT_MS)
    return net, run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration-s", type=float, default=1.0,
                        help="biological time per run (s, default 1, as Brian2's example)")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs (seeds seed .. seed+runs-1; default 10, 2 with --quick)")
    parser.add_argument("--n-neurons", type=int, default=4000,
                        help="network size (default 4000; in-degree kept at 80)")
    add_scheduler_argument(parser)


def run_summary(seed: int, duration_s: float, n_neurons: int, keep: bool = False) -> dict:
    """What the report takes of one run: its mean rate (Hz), mean ISI CV, synchrony,
    simulation time, synaptic events and spikes; with ``keep`` also its spikes and CVs
    ``(t, k, cv)`` for the figure. A task of its own for
    :func:`~spikewave.experiments.seeds.run_seeds`."""
    n = n_neurons
    t_end = duration_s * 1000.0
    _, res = simulate(seed, duration_s, n)
    t, k = res.spike_times_ms, res.spike_neurons
    cv = isi_cv(t, k, n, 0.0, t_end)
    return {"rate_hz": float(firing_rates_hz(t, k, n, 0.0, t_end).mean()),
            "cv_isi": float(np.nanmean(cv)), "chi": synchrony_chi(t, k, n, 0.0, t_end, 1.0),
            "simulation_s": res.simulation_s, "synaptic_events": res.synaptic_events,
            "spikes": int(t.size), "first": (t, k, cv) if keep else None}


def run(ctx: RunContext, duration_s: float = 1.0, runs: int | None = None,
        n_neurons: int = 4000, scheduler: str | None = None) -> Result:
    """The reproduction; ``scheduler``: run the seeds on that Dask cluster (one task a
    seed; locally they run one after the other, each timed on one core)."""
    from spikewave.plot.network import network_activity_figure

    duration = check_number("duration_s", duration_s, POSITIVE)
    runs = check_int("runs", runs if runs is not None else (2 if ctx.quick else 10), 1, 10_000)
    n = check_int("n_neurons", n_neurons, 5)
    scheduler = check_scheduler(scheduler)
    t_end = duration * 1000.0
    bar = ctx.progress_bar(total=runs, desc="cuba")
    done = run_seeds(run_summary, range(ctx.seed, ctx.seed + runs), workers=1, progress=bar,
                     first_options={"keep": True}, scheduler=scheduler, duration_s=duration,
                     n_neurons=n)
    bar.close()
    rates = [d["rate_hz"] for d in done]
    cvs = [d["cv_isi"] for d in done]
    chis = [d["chi"] for d in done]
    sim_s = sum(d["simulation_s"] for d in done)
    events = sum(d["synaptic_events"] for d in done)
    spikes = sum(d["spikes"] for d in done)
    first = done[0]["first"]
    rate, cv_mean = float(np.mean(rates)), float(np.mean(cvs))
    # tolerance: three standard errors of the difference of the two means over seeds
    rate_tol = 3 * np.hypot(BRIAN2_RATE_SD / np.sqrt(10), BRIAN2_RATE_SD / np.sqrt(runs))
    cv_tol = 3 * np.hypot(BRIAN2_CV_SD / np.sqrt(10), BRIAN2_CV_SD / np.sqrt(runs))
    scaled = n != 4000
    metrics = [
        Metric("rate_hz", rate, BRIAN2_RATE_HZ, f"within {rate_tol:.2g} Hz of Brian2's mean "
               "(3 standard errors over seeds)", None if scaled else bool(
                   abs(rate - BRIAN2_RATE_HZ) <= rate_tol), "Hz"),
        Metric("cv_isi", cv_mean, BRIAN2_CV, f"within {cv_tol:.2g} of Brian2's mean",
               None if scaled else bool(abs(cv_mean - BRIAN2_CV) <= cv_tol)),
        Metric("synaptic_events", float(events), None, "reported: spikes x out-degree", None),
        Metric("events_per_s", events / sim_s if sim_s > 0 else float("nan"), None,
               "reported: synaptic events per second of simulation loop (one core)", None),
        Metric("simulation_s", sim_s, None, f"reported: compiled loop, {runs} x "
               f"{duration:g} s of biological time", None, "s"),
    ]
    t, k, cv = first
    rate_t, rate_hz = population_rate_hz(t, k, n, 0.0, t_end, 1.0)
    fig = network_activity_figure(
        t, k, rate_t, rate_hz, f"CUBA, {n} neurons (seed {ctx.seed})",
        ctx.figure_path("cuba_activity.png"), cv=cv, reference_cv=BRIAN2_CV)
    extra = {"rates_hz_per_run": rates, "cv_isi_per_run": cvs, "synchrony_chi": float(
        np.mean(chis)), "spikes": spikes, "simulation_s_per_biological_s": sim_s / (
        runs * duration), "brian2_reference": {"version": "2.9.0", "target": "cython",
                                               "seeds": 10, "duration_s": 1.0,
                                               "rate_hz": BRIAN2_RATE_HZ,
                                               "rate_sd_hz": BRIAN2_RATE_SD,
                                               "cv_isi": BRIAN2_CV, "cv_isi_sd": BRIAN2_CV_SD}}
    config = {"n_neurons": n, "duration_s": duration, "runs": runs, "seed": ctx.seed,
              "dt_ms": DT_MS}
    return Result("cuba", REPRODUCTION.title, metrics, [fig], extra=extra, config=config)


REPRODUCTION = Reproduction(
    name="cuba",
    title="CUBA benchmark network, as Brian2's example (Vogels & Abbott 2005)",
    run=run,
    add_arguments=add_arguments,
    description=__doc__ or "",
)
