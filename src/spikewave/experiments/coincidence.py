"""``coincidence``: the LIF neuron as a coincidence detector.

Two input spikes of weight 1 separated by ``d`` arrive on ``tau dV/dt = -V`` (rest 0) with
threshold ``V_t`` in (1, 2]. Just after the second spike ``V = 1 + exp(-|d| / tau)``, the
maximum of the trajectory, so the neuron fires iff::

    |d| < -tau ln(V_t - 1)

The boundary is found for each ``V_t`` by bisection on ``d`` with the exact event-driven
simulation and compared with the closed form.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from spikewave._validation import POSITIVE, check_number
from spikewave.experiments.registry import Metric, Reproduction, Result, RunContext, below
from spikewave.neurons.lif import LIFParams, simulate_lif_exact
from spikewave.plot.neurons import coincidence_figure

FIRST_SPIKE_MS = 5.0


def coincidence_params(tau_ms: float, v_t: float) -> LIFParams:
    """``tau dV/dt = -V``: rest and reset at 0, no current, no refractory period."""
    return LIFParams(tau_m_ms=tau_ms, e_l_mv=0.0, r_mohm=1.0, v_th_mv=v_t, v_reset_mv=0.0,
                     t_ref_ms=0.0)


def fires(p: LIFParams, d_ms: float) -> bool:
    """Does the pair of unit-weight inputs separated by ``d_ms`` make the neuron fire?"""
    t1, t2 = FIRST_SPIKE_MS, FIRST_SPIKE_MS + abs(d_ms)  # symmetric in the order of arrival
    duration = t2 + 10.0 * p.tau_m_ms
    return simulate_lif_exact(p, duration, input_times_ms=np.array([t1, t2]),
                              input_weights_mv=1.0).size > 0


def boundary_closed_form_ms(tau_ms: float, v_t: float) -> float:
    """``-tau ln(V_t - 1)``: the largest separation that still fires."""
    return -tau_ms * math.log(v_t - 1.0)


def measure_boundary_ms(p: LIFParams, tol_ms: float = 1e-10) -> float:
    """Largest ``|d|`` that fires, by bisection on the exact simulation."""
    lo, hi = 0.0, 50.0 * p.tau_m_ms
    if not fires(p, lo):
        return 0.0
    while hi - lo > tol_ms:
        mid = 0.5 * (lo + hi)
        if fires(p, mid):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tau-ms", type=float, default=10.0,
                        help="membrane time constant (ms, default 10)")


def run(ctx: RunContext, tau_ms: float = 10.0) -> Result:
    tau = check_number("tau_ms", tau_ms, POSITIVE)
    n_vt = 10 if ctx.quick else 40
    thresholds = np.linspace(1.02, 2.0, n_vt)
    measured = np.array([measure_boundary_ms(coincidence_params(tau, vt))
                         for vt in ctx.progress_bar(thresholds, desc="coincidence")])
    closed = np.array([boundary_closed_form_ms(tau, vt) for vt in thresholds])
    err = np.abs(measured - closed)

    # the map: fire / no fire over (d, V_t)
    n_d = 61 if ctx.quick else 161
    d_grid = np.linspace(-4 * tau, 4 * tau, n_d)
    vt_grid = np.linspace(1.01, 2.0, 25 if ctx.quick else 60)
    fire_map = np.array([[fires(coincidence_params(tau, vt), d) for d in d_grid]
                         for vt in vt_grid])
    # the map must agree with the closed form everywhere off the boundary itself
    bound = np.array([boundary_closed_form_ms(tau, vt) for vt in vt_grid])[:, None]
    expected = np.abs(d_grid)[None, :] < bound
    off_boundary = np.abs(np.abs(d_grid)[None, :] - bound) > 1e-9
    map_agreement = float(np.mean((fire_map == expected)[off_boundary]))

    fig = coincidence_figure(d_grid, vt_grid, fire_map, thresholds, measured, tau,
                             ctx.figure_path("coincidence_boundary.png"))
    metrics = [
        below("boundary_max_abs_error_ms", float(err.max()), 1e-6, unit="ms", reference=0.0,
              what="against -tau ln(V_t - 1)"),
        Metric("map_agreement", map_agreement, 1.0, "= 1 (grid of (d, V_t) off the boundary)",
               map_agreement == 1.0),
    ]
    return Result("coincidence", REPRODUCTION.title, metrics, [fig],
                  extra={"thresholds": thresholds, "boundary_ms": measured,
                         "boundary_closed_form_ms": closed},
                  config={"tau_ms": tau})


REPRODUCTION = Reproduction(
    name="coincidence",
    title="LIF neuron as a coincidence detector",
    run=run,
    add_arguments=add_arguments,
    description=__doc__ or "",
)
