"""LIF neuron with an adaptive threshold (spike-frequency adaptation).

The membrane follows the LIF of :mod:`spikewave.neurons.lif`; the threshold is
``V_th + a(t)`` where the adaptation ``a`` jumps by ``theta_jump_mv`` at each spike and
relaxes back with its own time constant::

    tau_m     dV/dt = E_L - V + R I
    tau_theta da/dt = -a,          a -> a + theta_jump at each spike
    spike when V >= V_th + a;  then V -> V_reset, held for t_ref

Under constant current, between spikes ``V`` rises monotonically towards ``V_inf`` and
``a`` decays monotonically, so ``V(t) - V_th - a(t)`` is increasing and the next spike time
is its unique root: :func:`simulate_alif_exact` finds it to machine precision (Brent's
method on the closed-form solution). :func:`simulate_alif_clock` is the clock-driven
reference (exact exponential updates, spikes on the grid). The steady-state inter-spike
interval is the fixed point given by :func:`alif_steady_isi_ms`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from spikewave._budget import Budget, check_budget
from spikewave._validation import NON_NEGATIVE, POSITIVE, Params, check_number, fail, param
from spikewave.neurons.lif import LIFParams, drive_mv, max_spikes_constant_drive

# function evaluations of the root finder per spike, for the work estimate
_EVALS_PER_SPIKE = 100


@dataclass(frozen=True)
class ALIFParams(Params):
    """Adaptive-threshold LIF: the LIF parameters plus the threshold's jump and decay."""

    lif: LIFParams = field(default_factory=LIFParams)
    theta_jump_mv: float = param(3.0, NON_NEGATIVE, "threshold increase per spike (mV)")
    tau_theta_ms: float = param(100.0, POSITIVE, "threshold relaxation time constant (ms)")

    def _check_consistency(self) -> None:
        if not isinstance(self.lif, LIFParams):
            raise fail("lif", self.lif, "a LIFParams record", "ALIFParams")


def _v_after(v0: float, t: float, v_inf: float, tau: float) -> float:
    return v_inf + (v0 - v_inf) * math.exp(-t / tau)


@dataclass(frozen=True)
class ALIFRun:
    """Spike times (ms) and the adaptation ``a`` (mV) just after each spike."""

    spike_times_ms: np.ndarray
    adaptation_after_spike_mv: np.ndarray

    @property
    def isi_ms(self) -> np.ndarray:
        return np.diff(self.spike_times_ms)


def simulate_alif_exact(p: ALIFParams, current_na: float, duration_ms: float,
                        budget: Budget | None = None) -> ALIFRun:
    """Exact simulation under constant current from rest (``V = E_L``, ``a = 0``).

    The adaptation only delays spikes, so the LIF's closed-form spike count bounds this
    one's; ``budget`` is checked against it before the run."""
    current = check_number("current_na", current_na)
    duration = check_number("duration_ms", duration_ms, POSITIVE)
    q = p.lif
    v_inf = drive_mv(q, current)
    spikes_max = max_spikes_constant_drive(q, current, duration) + 1.0
    check_budget("simulate_alif_exact", _EVALS_PER_SPIKE * spikes_max, 16.0 * spikes_max,
                 budget, f"up to {spikes_max:.3g} spikes in {duration:g} ms")
    t, v, a = 0.0, q.e_l_mv, 0.0
    spikes, adapt = [], []
    while True:
        if v_inf <= q.v_th_mv:  # V never exceeds V_inf <= V_th <= threshold: silent
            break
        # gap g(s) = V(s) - V_th - a(s), increasing in s; g(inf) = V_inf - V_th > 0
        def gap(s: float, v=v, a=a) -> float:
            return (_v_after(v, s, v_inf, q.tau_m_ms) - q.v_th_mv
                    - a * math.exp(-s / p.tau_theta_ms))

        if gap(0.0) >= 0.0:
            s = 0.0
        else:
            hi = q.tau_m_ms
            while gap(hi) < 0.0:
                hi *= 2.0
            s = brentq(gap, 0.0, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps)
        t_spike = t + s
        if t_spike >= duration:
            break
        a = a * math.exp(-s / p.tau_theta_ms) + p.theta_jump_mv
        spikes.append(t_spike)
        adapt.append(a)
        # refractory: V held at reset, a keeps decaying
        t = t_spike + q.t_ref_ms
        v = q.v_reset_mv
        a *= math.exp(-q.t_ref_ms / p.tau_theta_ms)
    return ALIFRun(np.asarray(spikes), np.asarray(adapt))


def alif_steady_isi_ms(p: ALIFParams, current_na: float) -> float:
    """Fixed-point inter-spike interval under constant current (ms); ``inf`` if silent.

    At steady state the adaptation just after a spike is ``A = J / (1 - exp(-T / tau_theta))``
    (a geometric series of jumps ``J``). ``T = t_ref + s`` where ``s`` solves
    ``V_reset-trajectory(s) = V_th + A exp(-T / tau_theta)``, i.e. the root in ``s`` of
    ``V_inf + (V_reset - V_inf) e^{-s/tau_m} - V_th - J e^{-T/tau_theta} / (1 - e^{-T/tau_theta})``.
    """
    current = check_number("current_na", current_na)
    q = p.lif
    v_inf = q.e_l_mv + q.r_mohm * current
    if v_inf <= q.v_th_mv:
        return math.inf
    jump = p.theta_jump_mv

    def gap(s: float) -> float:
        period = q.t_ref_ms + s
        decay = math.exp(-period / p.tau_theta_ms)
        adapt_before = jump * decay / (1.0 - decay) if jump > 0 else 0.0
        return _v_after(q.v_reset_mv, s, v_inf, q.tau_m_ms) - q.v_th_mv - adapt_before

    lo = 1e-12
    if gap(lo) >= 0.0:
        return q.t_ref_ms
    hi = q.tau_m_ms
    while gap(hi) < 0.0:
        hi *= 2.0
    return q.t_ref_ms + brentq(gap, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps)


@dataclass(frozen=True)
class ALIFTrace:
    """Clock-driven run: time grid (ms), V (mV), threshold (mV) and spike times (ms)."""

    t_ms: np.ndarray
    v_mv: np.ndarray
    threshold_mv: np.ndarray
    spike_times_ms: np.ndarray


def simulate_alif_clock(p: ALIFParams, current_na: np.ndarray | float, duration_ms: float,
                        dt_ms: float = 0.01, budget: Budget | None = None) -> ALIFTrace:
    """Clock-driven reference: exact exponential updates of V and a, spikes on the grid.

    ``current_na`` is a constant or one value per step (a current step, say). ``budget``
    bounds the steps and the trace (checked before the run).
    """
    duration = check_number("duration_ms", duration_ms, POSITIVE)
    dt = check_number("dt_ms", dt_ms, POSITIVE)
    if dt > duration:
        raise fail("dt_ms", dt_ms, f"at most duration_ms = {duration:g}")
    steps = round(duration / dt)
    check_budget("simulate_alif_clock", steps, 32.0 * steps, budget,
                 f"{duration:g} ms at dt = {dt:g} ms")
    n_steps = int(steps)
    current = np.asarray(current_na, dtype=float)
    if current.ndim == 0:
        current = np.full(n_steps, float(current))
    if current.shape != (n_steps,) or not np.all(np.isfinite(current)):
        raise fail("current_na", f"array of shape {current.shape}",
                   f"a finite number or {n_steps} finite values (one per step)")
    q = p.lif
    with np.errstate(over="ignore"):
        finite = np.isfinite(q.e_l_mv + q.r_mohm * current)
    if not finite.all():
        drive_mv(q, float(current[~finite][0]))
    decay_v = math.exp(-dt / q.tau_m_ms)
    decay_a = math.exp(-dt / p.tau_theta_ms)
    v, a, left = q.e_l_mv, 0.0, 0.0
    vs, ths, spikes = np.empty(n_steps), np.empty(n_steps), []
    for n in range(n_steps):
        a *= decay_a
        if left > 1e-9 * dt:
            v = q.v_reset_mv
            left = max(left - dt, 0.0)
        else:
            v_inf = q.e_l_mv + q.r_mohm * current[n]
            v = v_inf + (v - v_inf) * decay_v
        if v >= q.v_th_mv + a:
            spikes.append((n + 1) * dt)
            vs[n] = q.v_th_mv + a
            v = q.v_reset_mv
            a += p.theta_jump_mv
            left = q.t_ref_ms
        else:
            vs[n] = v
        ths[n] = q.v_th_mv + a
    return ALIFTrace((np.arange(n_steps) + 1) * dt, vs, ths, np.asarray(spikes))
