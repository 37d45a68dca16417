"""``stdp-window``: the Bi & Poo (1998) window as produced by the pair-based STDP rule.

Protocol: one synapse, 60 pre/post pairings at 1 Hz with a fixed delay ``dt = t_post -
t_pre`` (-100 .. 100 ms); the weight change per pairing is measured with the rule of
:mod:`spikewave.plasticity.stdp` (bounds moved out of the way so nothing clips), and
exponentials are fitted to each side. The fitted time constants must recover the rule's
``tau+ = 16.8 ms`` and ``tau- = 33.7 ms`` (Bi & Poo's fits, as used by Masquelier et al.).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

import numpy as np
from scipy.optimize import curve_fit

from spikewave._validation import check_choice
from spikewave.experiments.registry import Reproduction, Result, RunContext, within_rel
from spikewave.plasticity.stdp import PAIRINGS, STDPParams, apply_spike_pairs
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
    fig = stdp_window_figure(dts, dw, (a_plus, tau_plus), (a_minus, tau_minus),
                             ctx.figure_path("stdp_window.png"))
    metrics = [
        within_rel("tau_plus_ms", tau_plus, ref.tau_plus_ms, 0.01, "ms", "Bi & Poo fit"),
        within_rel("tau_minus_ms", tau_minus, ref.tau_minus_ms, 0.01, "ms", "Bi & Poo fit"),
        within_rel("a_plus", a_plus, ref.a_plus, 0.01, "", "rule"),
        within_rel("a_minus", -a_minus, ref.a_minus, 0.01, "", "rule"),
    ]
    return Result("stdp-window", REPRODUCTION.title, metrics, [fig],
                  extra={"dt_ms": dts, "dw_per_pairing": dw},
                  config={"pairing": pairing, "pairings": N_PAIRINGS,
                          "pairing_period_ms": PERIOD_MS, "stdp": asdict(ref)})


REPRODUCTION = Reproduction(
    name="stdp-window",
    title="Bi & Poo STDP window from the pair-based rule",
    run=run,
    add_arguments=add_arguments,
    description=__doc__ or "",
)
