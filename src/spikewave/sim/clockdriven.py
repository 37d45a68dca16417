"""Clock-driven reference for the SRM network of :mod:`spikewave.sim.eventdriven`.

Plain Python and NumPy, step ``dt``: input spikes are delivered at the end of the step
they fall in (their times rounded up to the grid, as a clock-driven simulator does), the
two exponential components decay exactly over each step, and a neuron fires at the first
grid point where ``u >= threshold`` once its refractory period is over. Plasticity calls
the same rule functions as the event-driven engine (their Python source). It is slow and
meant for tests and for checking the event-driven engine on short inputs.
"""

from __future__ import annotations

import math

import numpy as np

from spikewave._budget import Budget, check_budget
from spikewave._validation import NON_NEGATIVE, POSITIVE, check_number
from spikewave.neurons.srm import SRMParams
from spikewave.plasticity.stdp import STDPParams, stdp_on_post, stdp_on_pre
from spikewave.sim.spiketrains import SpikeTrains


def run_srm_network_clock(trains: SpikeTrains, weights: np.ndarray, dt_ms: float,
                          srm: SRMParams | None = None, stdp: STDPParams | None = None,
                          inhibition: float = 0.0, budget: Budget | None = None):
    """Simulate from rest; returns ``(spike_times_ms, spike_neurons, final_weights)``.

    ``budget`` bounds the work (steps times neurons, plus input deliveries), checked first.
    """
    srm = SRMParams() if srm is None else srm
    dt = check_number("dt_ms", dt_ms, POSITIVE)
    alpha = check_number("inhibition", inhibition, NON_NEGATIVE)
    w = np.array(weights, dtype=float, copy=True)
    n_k, n_aff = w.shape
    kn, thr = srm.epsp_norm, srm.threshold
    a, b = np.zeros(n_k), np.zeros(n_k)
    last_post = np.full(n_k, -np.inf)
    x, x_t, y, y_t = (np.zeros((n_k, n_aff)) for _ in range(4))
    rule = (stdp or STDPParams()).as_array()
    on_pre, on_post = stdp_on_pre.py_func, stdp_on_post.py_func
    dm, ds = math.exp(-dt / srm.tau_m_ms), math.exp(-dt / srm.tau_s_ms)
    steps = math.ceil(trains.duration_ms / dt)
    check_budget("run_srm_network_clock", steps * n_k + len(trains) * n_k, 8.0 * steps, budget,
                 f"{trains.duration_ms:g} ms at dt = {dt:g} ms, {n_k} neuron(s)")
    n_steps = int(steps)
    # step n covers (n dt, (n+1) dt]; an input at t is delivered at the end of its step
    step_of = np.maximum(np.ceil(trains.times_ms / dt).astype(np.int64) - 1, 0)
    bounds = np.searchsorted(step_of, np.arange(n_steps + 1), side="left")
    out_t, out_k = [], []
    for n in range(n_steps):
        t = (n + 1) * dt
        a *= dm
        b *= ds
        for e in range(bounds[n], bounds[n + 1]):
            i = trains.afferents[e]
            a += kn * w[:, i]
            b += kn * w[:, i]
            if stdp is not None:
                for k in range(n_k):
                    w[k, i], x[k, i], x_t[k, i], y[k, i], y_t[k, i] = on_pre(
                        w[k, i], x[k, i], x_t[k, i], y[k, i], y_t[k, i], t, rule)
        u = a - b
        for k in np.flatnonzero((u >= thr) & (t >= last_post + srm.t_ref_ms - 1e-9 * dt)):
            if u[k] < thr:  # lowered by a neuron that fired earlier in this step
                continue
            out_t.append(t)
            out_k.append(k)
            a[k], b[k] = thr * (srm.k1 - srm.k2), -thr * srm.k2
            last_post[k] = t
            if stdp is not None:
                for i in range(n_aff):
                    w[k, i], x[k, i], x_t[k, i], y[k, i], y_t[k, i] = on_post(
                        w[k, i], x[k, i], x_t[k, i], y[k, i], y_t[k, i], t, rule)
            if alpha:
                others = np.arange(n_k) != k
                a[others] -= alpha * thr * kn
                b[others] -= alpha * thr * kn
                u = a - b
    return np.asarray(out_t), np.asarray(out_k, dtype=np.int64), w
