"""``adaptive``: spike-frequency adaptation of the adaptive-threshold LIF.

A current step drives the neuron; each spike raises the threshold by ``theta_jump``, which
decays with ``tau_theta``, so inter-spike intervals lengthen until they settle. Measured on
the clock-driven path (dt = 0.01 ms); references:

- first ISI: the exact event-driven solution (closed-form trajectories, Brent root);
- steady ISI: the fixed point ``T`` of :func:`~spikewave.neurons.adaptive.alif_steady_isi_ms`.

Each must agree within 1 %; ``adaptation_ratio = steady / first`` must exceed 1.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

import numpy as np

from spikewave._budget import check_budget
from spikewave._validation import Interval, check_number, fail
from spikewave.experiments.registry import Metric, Reproduction, Result, RunContext, within_rel
from spikewave.neurons.adaptive import (
    ALIFParams,
    alif_steady_isi_ms,
    simulate_alif_clock,
    simulate_alif_exact,
)
from spikewave.plot.neurons import adaptation_figure

ONSET_MS = 50.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--current-na", type=float, default=3.0,
                        help="amplitude of the current step (nA, above the rheobase of 1.5 "
                             "and at most 1000; default 3)")
    parser.add_argument("--dt-ms", type=float, default=0.01,
                        help="step of the clock-driven path (ms, in (0, 1]; default 0.01)")


MAX_CURRENT_NA = 1000.0


def run(ctx: RunContext, current_na: float = 3.0, dt_ms: float = 0.01) -> Result:
    p = ALIFParams()
    dt_ms = check_number("dt_ms", dt_ms, Interval(0.0, 1.0, "right"))
    current_na = check_number("current_na", current_na,
                              Interval(p.lif.rheobase_na, MAX_CURRENT_NA, "right"))
    step_ms = 800.0 if ctx.quick else 2000.0
    duration = ONSET_MS + step_ms
    check_budget("reproduce adaptive", duration / dt_ms, 32.0 * duration / dt_ms,
                 why=f"{duration:g} ms at dt = {dt_ms:g} ms", fix="use a larger --dt-ms")
    n = int(round(duration / dt_ms))
    t = (np.arange(n) + 1) * dt_ms
    current = np.where(t > ONSET_MS, current_na, 0.0)
    trace = simulate_alif_clock(p, current, duration, dt_ms)
    isi = np.diff(trace.spike_times_ms)
    if isi.size < 3:
        raise fail("current_na", current_na,
                   f"a current well above rheobase ({p.lif.rheobase_na:g} nA); it gave "
                   f"{trace.spike_times_ms.size} spikes")
    first_isi, steady_isi = float(isi[0]), float(isi[-1])
    exact = simulate_alif_exact(p, current_na, 50.0 * p.tau_theta_ms)
    ref_first = float(exact.isi_ms[0])
    ref_steady = alif_steady_isi_ms(p, current_na)
    ratio = steady_isi / first_isi

    fig = adaptation_figure(trace, current, ONSET_MS, ref_steady,
                            ctx.figure_path("adaptation.png"))
    metrics = [
        within_rel("first_isi_ms", first_isi, ref_first, 0.01, "ms", "exact solution"),
        within_rel("steady_isi_ms", steady_isi, ref_steady, 0.01, "ms", "fixed point"),
        Metric("adaptation_ratio", ratio, ref_steady / ref_first, "> 1 (ISIs lengthen)",
               ratio > 1.0),
    ]
    return Result("adaptive", REPRODUCTION.title, metrics, [fig],
                  extra={"isi_ms": isi, "exact_first_isi_ms": ref_first},
                  config={"current_na": current_na, "dt_ms": dt_ms, "step_ms": step_ms,
                          "params": asdict(p)})


REPRODUCTION = Reproduction(
    name="adaptive",
    title="Adaptive-threshold LIF: spike-frequency adaptation",
    run=run,
    add_arguments=add_arguments,
    description=__doc__ or "",
)
