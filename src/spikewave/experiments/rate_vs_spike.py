"""``rate-vs-spike``: two levels of description of the same LIF neuron.

Spike level: a LIF neuron receives ``N`` independent Poisson spike trains of rate ``nu``,
each input spike a jump of ``w`` mV, simulated exactly (event driven). Rate level: the
steady-state (mean-field) description replaces the input by its mean drive
``mu = tau w N nu`` (mV) and predicts the closed-form LIF rate for ``R I = mu``. A second,
finer rate description keeps the input's fluctuations (diffusion approximation, the
Siegert formula with ``sigma = w sqrt(N nu tau)``)::

    1 / rate = t_ref + tau sqrt(pi) int_{(V_reset - mu')/sigma}^{(V_th - mu')/sigma}
               exp(u^2) (1 + erf u) du,        mu' = E_L + mu

The mean-field description holds where the mean drive is clearly suprathreshold
(``mu >= 1.5 (V_th - E_L)``): there the fluctuations (``sigma`` of a few mV) barely move
the time to threshold. Near and below rheobase it predicts silence while the neuron fires
on fluctuations; the Siegert curve captures that regime.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict

import numpy as np
from scipy.integrate import quad
from scipy.special import erfcx

from spikewave._validation import POSITIVE, check_int, check_number
from spikewave.experiments.registry import Reproduction, Result, RunContext, below
from spikewave.neurons.lif import LIFParams, lif_rate_hz, simulate_lif_exact
from spikewave.plot.neurons import rate_vs_spike_figure

REGIME_FACTOR = 1.5
TRANSIENT_MS = 100.0


def mean_drive_mv(p: LIFParams, n_inputs: int, weight_mv: float, rate_hz: np.ndarray):
    """``mu = tau w N nu`` (mV), the mean depolarisation the inputs sustain."""
    return p.tau_m_ms * weight_mv * n_inputs * np.asarray(rate_hz) / 1000.0


def mean_field_rate_hz(p: LIFParams, n_inputs: int, weight_mv: float, rate_hz: np.ndarray):
    """Rate-level prediction: the closed-form f-I curve at ``R I = mu``."""
    return lif_rate_hz(mean_drive_mv(p, n_inputs, weight_mv, rate_hz) / p.r_mohm, p)


def siegert_rate_hz(p: LIFParams, n_inputs: int, weight_mv: float, rate_hz: float) -> float:
    """Diffusion-approximation rate (Siegert formula) for Poisson shot-noise input."""
    if rate_hz <= 0:
        return 0.0
    mu = p.e_l_mv + float(mean_drive_mv(p, n_inputs, weight_mv, rate_hz))
    sigma = weight_mv * math.sqrt(n_inputs * rate_hz / 1000.0 * p.tau_m_ms)
    lo, hi = (p.v_reset_mv - mu) / sigma, (p.v_th_mv - mu) / sigma
    if hi > 26.0:  # exp(hi^2) overflows long before: the rate is zero to double precision
        return 0.0
    integral, _ = quad(lambda u: erfcx(-u), lo, hi, limit=200)
    return 1000.0 / (p.t_ref_ms + p.tau_m_ms * math.sqrt(math.pi) * integral)


def poisson_superposition_ms(total_rate_hz: float, duration_ms: float,
                             rng: np.random.Generator) -> np.ndarray:
    """Times (ms) of a homogeneous Poisson process of rate ``total_rate_hz`` on [0, duration)."""
    if total_rate_hz <= 0:
        return np.empty(0)
    mean_gap = 1000.0 / total_rate_hz
    n_guess = int(duration_ms / mean_gap + 6 * math.sqrt(duration_ms / mean_gap) + 16)
    times = np.cumsum(rng.exponential(mean_gap, n_guess))
    while times[-1] < duration_ms:
        more = times[-1] + np.cumsum(rng.exponential(mean_gap, n_guess))
        times = np.concatenate([times, more])
    return times[times < duration_ms]


def measured_rate_hz(p: LIFParams, n_inputs: int, weight_mv: float, rate_hz: float,
                     duration_ms: float, rng: np.random.Generator) -> float:
    """Output rate of the exact spiking simulation, counted after a transient."""
    times = poisson_superposition_ms(n_inputs * rate_hz, duration_ms, rng)
    out = simulate_lif_exact(p, duration_ms, input_times_ms=times, input_weights_mv=weight_mv)
    return 1000.0 * np.count_nonzero(out >= TRANSIENT_MS) / (duration_ms - TRANSIENT_MS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-inputs", type=int, default=1000,
                        help="number of Poisson afferents (default 1000)")
    parser.add_argument("--weight-mv", type=float, default=0.1,
                        help="jump of V per input spike (mV, default 0.1)")


def run(ctx: RunContext, n_inputs: int = 1000, weight_mv: float = 0.1) -> Result:
    n_inputs = check_int("n_inputs", n_inputs, 1)
    weight_mv = check_number("weight_mv", weight_mv, POSITIVE)
    p = LIFParams()
    rng = np.random.default_rng(ctx.seed)
    # input rates spanning 0 .. 4x the rate that brings the mean drive to threshold
    nu_rheo = (p.v_th_mv - p.e_l_mv) / (p.tau_m_ms * weight_mv * n_inputs / 1000.0)
    rates_in = np.linspace(0.0, 4.0 * nu_rheo, 13 if ctx.quick else 41)
    duration_ms = 2000.0 if ctx.quick else 20000.0
    measured = np.array([measured_rate_hz(p, n_inputs, weight_mv, nu, duration_ms, rng)
                         for nu in ctx.progress_bar(rates_in, desc="rate-vs-spike")])
    mean_field = np.asarray(mean_field_rate_hz(p, n_inputs, weight_mv, rates_in))
    siegert = np.array([siegert_rate_hz(p, n_inputs, weight_mv, nu) for nu in rates_in])
    drive = mean_drive_mv(p, n_inputs, weight_mv, rates_in)
    regime = drive >= REGIME_FACTOR * (p.v_th_mv - p.e_l_mv)
    err_mf = float(np.max(np.abs(measured - mean_field)[regime]))
    err_siegert = float(np.max(np.abs(measured - siegert)))
    fine = np.linspace(0.0, rates_in.max(), 200)
    fig = rate_vs_spike_figure(
        rates_in, measured, fine, np.asarray(mean_field_rate_hz(p, n_inputs, weight_mv, fine)),
        np.array([siegert_rate_hz(p, n_inputs, weight_mv, nu) for nu in fine]),
        rates_in[regime].min() if regime.any() else None, ctx.figure_path("rate_vs_spike.png"))
    metrics = [
        below("max_abs_error_hz", err_mf, 2.0, "Hz", reference=0.0,
              what=f"(mean-field, where mu >= {REGIME_FACTOR:g} (V_th - E_L))"),
        below("siegert_max_abs_error_hz", err_siegert, 3.0, "Hz", reference=0.0,
              what="(diffusion approximation, all input rates)"),
    ]
    return Result("rate-vs-spike", REPRODUCTION.title, metrics, [fig],
                  extra={"regime": f"mean drive tau*w*N*nu >= {REGIME_FACTOR:g} x (V_th - E_L)"
                                   f" = {REGIME_FACTOR * (p.v_th_mv - p.e_l_mv):g} mV",
                         "input_rates_hz": rates_in, "measured_rate_hz": measured,
                         "mean_field_rate_hz": mean_field, "siegert_rate_hz": siegert},
                  config={"n_inputs": n_inputs, "weight_mv": weight_mv,
                          "duration_ms": duration_ms, "seed": ctx.seed, "params": asdict(p)})


REPRODUCTION = Reproduction(
    name="rate-vs-spike",
    title="Spike-level LIF against its rate-level description",
    run=run,
    add_arguments=add_arguments,
    description=__doc__ or "",
)
