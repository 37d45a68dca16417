"""``stdp-window``: the STDP window that Bi & Poo's (1998) pairing protocol gives.

Protocol (Bi & Poo 1998; docs/references.md section 6.1): one synapse, 60 pre/post
pairings at 1 Hz with a fixed delay ``dt = t_post - t_pre`` (-100 .. 100 ms). The weight
change per pairing is measured by running the spike pairs through the event-driven rule of
:mod:`spikewave.plasticity.stdp` (its traces, pairing scheme and bounds, the bounds moved
out of the way so nothing clips) and checked against the rule's closed-form window
``+a+ exp(-dt / tau+)`` (dt >= 0), ``-a- exp(dt / tau-)`` (dt < 0), with the time constants
Bi & Poo's data were fitted with (tau+ = 16.8 ms, tau- = 33.7 ms). This checks the
pairing machinery, not the biology: Bi & Poo's own data points are not compared, because
no cited digitisation of them was found. Exponentials fitted to the simulated window are
reported (they give back the rule's parameters).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

import numpy as np
from scipy.optimize import curve_fit

from spikewave._validation import check_choice
from spikewave.experiments.registry import Metric, Reproduction, Result, RunContext, below
from spikewave.plasticity.stdp import PAIRINGS, STDPParams, apply_spike_pairs, stdp_window
from spikewave.plot.stdp import stdp_window_figure

N_PAIRINGS = 60
PERIOD_MS = 1000.0


def measure_window(dts_ms: np.ndarray, p: STDPParams) -> np.ndarray:
    """Mean weight change per pairing for each delay (60 pairings at 1 Hz from w = 0)."""
    pre_base = np.arange(N_PAIRINGS) * PERIOD_MS + 200.0
    return np.array([apply_spike_pairs(0.0, pre_base, pre_base + dt, p) / N_PAIRINGS
                     for dt in dts_ms])


def fit_exponential(dts_ms: np.ndarray, dw: np.ndarray) -> tuple[float, float]:
    """Fit ``dw = A exp(-|dt| / tau)``; returns ``(A, tau_ms)``."""
    (amp, tau), _ = curve_fit(lambda d, a, t: a * np.exp(-np.abs(d) / t), dts_ms, dw,
                              p0=(dw[np.argmax(np.abs(dw))], 20.0), maxfev=10_000)
    return float(amp), float(tau)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairing", choices=sorted(PAIRINGS), default="reduced-nearest",
                        help="which spike pairs count (default reduced-nearest)")


def run(ctx: RunContext, pairing: str = "reduced-nearest") -> Result:
    check_choice("pairing", pairing, PAIRINGS)
    ref = STDPParams()
    p = ref.replace(pairing=pairing, w_min=-1e6, w_max=1e6)
    n = 41 if ctx.quick else 201
    dts = np.concatenate([-np.geomspace(100.0, 0.5, n // 2), [0.0], np.geomspace(0.5, 100.0,
                                                                                 n // 2)])
    dw = measure_window(dts, p)
    pos, neg = dts >= 0, dts < 0
    a_plus, tau_plus = fit_exponential(dts[pos], dw[pos])
    a_minus, tau_minus = fit_exponential(dts[neg], dw[neg])
    window = stdp_window(dts, ref)
    rel_error = float(np.max(np.abs(dw - window)) / ref.a_plus)
    fig = stdp_window_figure(dts, dw, window, ref, ctx.figure_path("stdp_window.png"))
    fitted = "reported: exponential fit to the simulated window"
    metrics = [
        below("max_window_error", rel_error, 1e-9, reference=0.0,
              what="of a+ (simulated protocol against the closed-form window)"),
        Metric("tau_plus_ms", tau_plus, ref.tau_plus_ms, fitted + " (Bi & Poo's 16.8 ms)",
               None, "ms"),
        Metric("tau_minus_ms", tau_minus, ref.tau_minus_ms, fitted + " (Bi & Poo's 33.7 ms)",
               None, "ms"),
        Metric("a_plus", a_plus, ref.a_plus, fitted, None),
        Metric("a_minus", -a_minus, ref.a_minus, fitted, None),
    ]
    return Result("stdp-window", REPRODUCTION.title, metrics, [fig],
                  extra={"dt_ms": dts, "dw_per_pairing": dw},
                  config={"pairing": pairing, "pairings": N_PAIRINGS,
                          "pairing_period_ms": PERIOD_MS, "stdp": asdict(ref)})


REPRODUCTION = Reproduction(
    name="stdp-window",
    title="STDP window of Bi & Poo's pairing protocol",
    run=run,
    add_arguments=add_arguments,
    description=__doc__ or "",
)
