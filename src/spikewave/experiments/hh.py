"""``hh``: Hodgkin-Huxley spike shape, thresholds and f-I curve.

For a current step switched on at rest and held for 500 ms (docs/references.md section 6.2,
computed there with scipy's solve_ivp at rtol 1e-8):

- single-spike threshold, the smallest current giving at least one spike: 2.2403 µA/cm²;
- onset of repetitive firing, the smallest current giving at least 10 spikes: 6.2538;
- firing rate at 10 µA/cm²: about 68 Hz (here: ``1000 / mean ISI`` over the second half
  of a 1 s step, i.e. the steady rate).

Thresholds are found by bisection on the spike count; each must be within 2 %.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict

import numpy as np

from spikewave.experiments.registry import Reproduction, Result, RunContext, within_rel
from spikewave.neurons.hodgkin_huxley import SCHEMES, HHParams, count_spikes_step, simulate_hh
from spikewave.plot.neurons import hh_fi_figure, hh_spike_figure

REF_SINGLE_SPIKE = 2.2403
REF_REPETITIVE = 6.2538
REF_RATE_AT_10 = 68.0
STEP_MS = 500.0


def bisect_current(predicate: Callable[[float], bool], lo: float, hi: float,
                   tol: float) -> float:
    """Smallest current in ``[lo, hi]`` where ``predicate`` holds (monotone), to ``tol``."""
    if not predicate(hi) or predicate(lo):
        raise RuntimeError(f"no threshold between {lo} and {hi} µA/cm²")
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if predicate(mid):
            hi = mid
        else:
            lo = mid
    return hi


def steady_rate_hz(p: HHParams, current: float, dt_ms: float, scheme: str,
                   duration_ms: float = 1000.0) -> float:
    """``1000 / mean ISI`` over the second half of a ``duration_ms`` step (0 if < 3 spikes)."""
    s = simulate_hh(p, current, duration_ms, dt_ms, scheme).spike_times_ms
    late = s[s >= duration_ms / 2]
    return 1000.0 / float(np.mean(np.diff(late))) if late.size >= 3 else 0.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dt-ms", type=float, default=0.01,
                        help="integration step (ms, default 0.01)")
    parser.add_argument("--scheme", choices=sorted(SCHEMES), default="rk4",
                        help="integration scheme (default rk4)")


def run(ctx: RunContext, dt_ms: float = 0.01, scheme: str = "rk4") -> Result:
    p = HHParams()
    tol = 1e-3 if ctx.quick else 1e-5
    steps = ctx.progress_bar(total=4, desc="hh")
    single = bisect_current(lambda i: count_spikes_step(p, i, STEP_MS, dt_ms, scheme) >= 1,
                            0.0, 5.0, tol)
    steps.update()
    repetitive = bisect_current(
        lambda i: count_spikes_step(p, i, STEP_MS, dt_ms, scheme) >= 10, single, 9.0, tol)
    steps.update()
    rate10 = steady_rate_hz(p, 10.0, dt_ms, scheme)
    steps.update()
    currents = np.linspace(0.0, 40.0, 21 if ctx.quick else 81)
    rates = np.array([steady_rate_hz(p, i, dt_ms, scheme) for i in currents])
    counts = np.array([count_spikes_step(p, i, STEP_MS, dt_ms, scheme) for i in currents])
    steps.update()
    steps.close()

    shape = simulate_hh(p, 10.0, 60.0, dt_ms, scheme, record=True)
    figures = [
        hh_spike_figure(shape, 10.0, ctx.figure_path("spike_shape.png")),
        hh_fi_figure(currents, rates, counts, STEP_MS, single, repetitive,
                     ctx.figure_path("fi_curve.png")),
    ]
    metrics = [
        within_rel("single_spike_threshold_uA_cm2", single, REF_SINGLE_SPIKE, 0.02, "µA/cm²",
                   "references 6.2"),
        within_rel("repetitive_onset_uA_cm2", repetitive, REF_REPETITIVE, 0.02, "µA/cm²",
                   "references 6.2"),
        within_rel("rate_at_10uA_hz", rate10, REF_RATE_AT_10, 0.02, "Hz", "references 6.2"),
    ]
    return Result("hh", REPRODUCTION.title, metrics, figures,
                  extra={"currents_uA_cm2": currents, "steady_rate_hz": rates,
                         "spikes_in_500ms": counts},
                  config={"dt_ms": dt_ms, "scheme": scheme, "bisection_tol_uA_cm2": tol,
                          "params": asdict(p)})


REPRODUCTION = Reproduction(
    name="hh",
    title="Hodgkin-Huxley thresholds and f-I curve",
    run=run,
    add_arguments=add_arguments,
    description=__doc__ or "",
)
