"""``lif``: f-I curve of the LIF neuron against the closed form.

Closed form (constant current, ``V_reset = E_L``)::

    rate = 1 / (t_ref + tau ln(R I / (R I - (V_th - E_L))))

The exact event-driven path must match it to rounding (< 1e-9 relative); the
clock-driven path (exact exponential update, spikes on a grid of dt = 0.01 ms) to 0.5 %.
The rheobase ``(V_th - E_L) / R`` is found by bisection on the exact simulation.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

import numpy as np

from spikewave._budget import check_budget
from spikewave._validation import POSITIVE, check_number
from spikewave.experiments.registry import Reproduction, Result, RunContext, below, within_rel
from spikewave.neurons.lif import (
    LIFParams,
    lif_rate_hz,
    rate_from_spikes_hz,
    simulate_lif_clock,
    simulate_lif_exact,
)
from spikewave.plot.neurons import fi_curve_figure, lif_trace_figure


def measure_rheobase_na(p: LIFParams, duration_ms: float = 2000.0, rel_tol: float = 1e-10,
                        high_na: float = 100.0) -> float:
    """Smallest constant current that fires within ``duration_ms`` (bisection, exact path)."""
    lo, hi = 0.0, high_na
    while hi - lo > rel_tol * hi:
        mid = 0.5 * (lo + hi)
        if simulate_lif_exact(p, duration_ms, current_na=mid).size:
            hi = mid
        else:
            lo = mid
    return hi


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dt-ms", type=float, default=0.01,
                        help="step of the clock-driven path (ms, default 0.01)")


def run(ctx: RunContext, dt_ms: float = 0.01) -> Result:
    p = LIFParams()
    dt_ms = check_number("dt_ms", dt_ms, POSITIVE)
    n_cur = 12 if ctx.quick else 40
    duration_ms = 300.0 if ctx.quick else 1000.0
    check_budget("reproduce lif", (n_cur + 4) * duration_ms / dt_ms,
                 why=f"{n_cur + 4} neurons for {duration_ms:g} ms at dt = {dt_ms:g} ms",
                 fix="use a larger --dt-ms")
    # firing currents from just above rheobase to 4x rheobase, plus subthreshold ones
    currents = np.concatenate([np.linspace(0.0, 0.95, 4) * p.rheobase_na,
                               np.linspace(1.1, 4.0, n_cur) * p.rheobase_na])
    closed = lif_rate_hz(currents, p)
    exact = np.array([rate_from_spikes_hz(simulate_lif_exact(p, duration_ms, current_na=i))
                      for i in ctx.progress_bar(currents, desc="lif exact")])
    clock_run = simulate_lif_clock(p, duration_ms, currents, dt_ms=dt_ms)
    clock = np.array([rate_from_spikes_hz(s) for s in clock_run.spike_times_ms])
    firing = closed > 0
    rel_exact = np.abs(exact[firing] - closed[firing]) / closed[firing]
    rel_clock = np.abs(clock[firing] - closed[firing]) / closed[firing]
    silent_ok = bool(np.all(exact[~firing] == 0) and np.all(clock[~firing] == 0))
    rheobase = measure_rheobase_na(p)

    trace_current = 2.0 * p.rheobase_na
    trace = simulate_lif_clock(p, 100.0, trace_current, dt_ms=dt_ms, record_v=True)
    figures = [
        fi_curve_figure(currents, closed, exact, clock, rel_exact, rel_clock, firing, dt_ms,
                        ctx.figure_path("fi_curve.png")),
        lif_trace_figure(trace.t_ms, trace.v_mv[:, 0], p, trace_current,
                         ctx.figure_path("membrane_trace.png")),
    ]
    metrics = [
        below("max_rel_error", float(rel_clock.max()), 5e-3, reference=0.0,
              what=f"(clock-driven, dt = {dt_ms:g} ms)"),
        below("max_rel_error_exact", float(rel_exact.max()), 1e-9, reference=0.0,
              what="(exact event-driven path)"),
        within_rel("rheobase", rheobase, p.rheobase_na, 1e-6, "nA", "(V_th - E_L) / R"),
    ]
    return Result(
        "lif", REPRODUCTION.title, metrics, figures,
        extra={"subthreshold_silent": silent_ok, "currents_na": currents,
               "rate_closed_form_hz": closed, "rate_exact_hz": exact, "rate_clock_hz": clock},
        config={"dt_ms": dt_ms, "duration_ms": duration_ms, "params": asdict(p)},
    )


REPRODUCTION = Reproduction(
    name="lif",
    title="LIF f-I curve against the closed form",
    run=run,
    add_arguments=add_arguments,
    description=__doc__ or "",
)
