"""Leaky integrate-and-fire neuron in continuous time.

Membrane equation (V in mV, t in ms, I in nA, R in MOhm so that R*I is in mV)::

    tau_m dV/dt = E_L - V + R I(t)

between events; an input spike of weight ``w_i`` (mV) is an instantaneous jump
``V -> V + w_i``. When V reaches the threshold (``V >= V_th``, the tie counts as a spike)
the neuron emits a spike, V is reset to ``V_reset`` and held there for ``t_ref``;
input spikes that arrive during the refractory period are ignored.

Two paths, tested against each other:

- :func:`simulate_lif_exact` -- event driven and exact: under constant current the
  solution between events is ``V(t) = V_inf + (V0 - V_inf) exp(-t / tau_m)`` with
  ``V_inf = E_L + R I``, and the threshold-crossing time is solved in closed form.
- :func:`simulate_lif_clock` -- clock driven on a grid of step ``dt``, with the exact
  exponential update (``method="exact"``) or forward Euler (``method="euler"``); spikes
  fall on grid points. This is the lecture's numerical reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spikewave._budget import Budget, check_budget
from spikewave._numba import grow, njit
from spikewave._validation import (
    NON_NEGATIVE,
    POSITIVE,
    REAL,
    Params,
    check_array,
    check_choice,
    check_number,
    fail,
    param,
)


@dataclass(frozen=True)
class LIFParams(Params):
    """Parameters of the continuous-time LIF neuron (defaults: a cortical-like cell)."""

    tau_m_ms: float = param(10.0, POSITIVE, "membrane time constant (ms)")
    e_l_mv: float = param(-65.0, REAL, "resting (leak reversal) potential (mV)")
    r_mohm: float = param(10.0, POSITIVE, "membrane resistance (MOhm); R*I is in mV for I in nA")
    v_th_mv: float = param(-50.0, REAL, "firing threshold (mV)")
    v_reset_mv: float = param(-65.0, REAL, "reset potential after a spike (mV)")
    t_ref_ms: float = param(2.0, NON_NEGATIVE, "absolute refractory period (ms)")

    def _check_consistency(self) -> None:
        if self.v_th_mv <= self.v_reset_mv:
            raise fail(
                "v_th_mv", self.v_th_mv,
                f"above v_reset_mv = {self.v_reset_mv:g} mV (a threshold at or below the "
                "reset potential would fire forever)", "LIFParams",
            )

    @property
    def rheobase_na(self) -> float:
        """Smallest constant current that makes the neuron fire: ``(V_th - E_L) / R`` (nA)."""
        return (self.v_th_mv - self.e_l_mv) / self.r_mohm


# ----------------------------------------------------------------------------- closed forms


def lif_free_solution(v0_mv: float, t_ms: np.ndarray | float, current_na: float,
                      p: LIFParams) -> np.ndarray:
    """Exact solution without spikes: ``V(t) = V_inf + (V0 - V_inf) exp(-t / tau_m)``."""
    v_inf = p.e_l_mv + p.r_mohm * current_na
    return v_inf + (v0_mv - v_inf) * np.exp(-np.asarray(t_ms, dtype=float) / p.tau_m_ms)


def lif_rate_hz(current_na: np.ndarray | float, p: LIFParams) -> np.ndarray:
    """Closed-form firing rate under constant current (Hz).

    ``rate = 1 / (t_ref + tau_m ln((R I - (V_reset - E_L)) / (R I - (V_th - E_L))))``
    for ``R I > V_th - E_L`` and 0 otherwise. With ``V_reset = E_L`` this is the lecture's
    ``1 / (t_ref + tau ln(R I / (R I - (V_th - E_L))))``.
    """
    ri = p.r_mohm * check_array("current_na", current_na, ndim=(0, 1))
    rate = np.zeros_like(ri)
    firing = ri > p.v_th_mv - p.e_l_mv
    num = ri[firing] - (p.v_reset_mv - p.e_l_mv)
    den = ri[firing] - (p.v_th_mv - p.e_l_mv)
    rate[firing] = 1000.0 / (p.t_ref_ms + p.tau_m_ms * np.log(num / den))
    return rate if rate.ndim else rate[()]


# ----------------------------------------------------------------------------- exact path


@njit
def _lif_exact_core(tau, e_l, r, v_th, v_reset, t_ref, current, v0, duration,
                    in_times, in_weights):  # pragma: no cover - compiled
    """Event-driven exact LIF; returns the output spike times (ms)."""
    v_inf = e_l + r * current
    out = np.empty(16)
    n_out = 0
    n_in = in_times.shape[0]
    t = 0.0
    v = v0
    ref_until = -1.0
    k = 0
    if v >= v_th:  # starts at or above threshold: fires at t = 0
        out[0] = 0.0
        n_out = 1
        v = v_reset
        ref_until = t_ref
    while True:
        t_next = in_times[k] if k < n_in else duration
        if t < ref_until:
            if ref_until >= t_next:
                # the next input falls inside the refractory period: it is ignored
                if k >= n_in:
                    break
                t = t_next
                k += 1
                continue
            t = ref_until
            v = v_reset
        # threshold crossing under constant drive before the next event?
        if v_inf > v_th:
            t_cross = t + tau * math.log((v - v_inf) / (v_th - v_inf))
            if t_cross <= t_next and t_cross < duration:
                if n_out == out.shape[0]:
                    out = grow(out, n_out)
                out[n_out] = t_cross
                n_out += 1
                v = v_reset
                t = t_cross
                ref_until = t_cross + t_ref
                continue
        if k >= n_in:
            break
        v = v_inf + (v - v_inf) * math.exp(-(t_next - t) / tau)
        t = t_next
        v += in_weights[k]
        k += 1
        if v >= v_th:
            if n_out == out.shape[0]:
                out = grow(out, n_out)
            out[n_out] = t
            n_out += 1
            v = v_reset
            ref_until = t + t_ref
    return out[:n_out]


def drive_mv(p: LIFParams, current_na: float) -> float:
    """The asymptotic potential ``V_inf = E_L + R I`` (mV), checked to be finite."""
    v_inf = p.e_l_mv + p.r_mohm * current_na
    if not math.isfinite(v_inf):
        raise fail("current_na", current_na, f"a current whose drive R*I is finite (R = "
                   f"{p.r_mohm:g} MOhm)")
    return v_inf


def max_spikes_constant_drive(p: LIFParams, current_na: float, duration_ms: float) -> float:
    """An upper bound of the spikes a LIF fires in ``duration_ms`` under constant current
    alone: ``1 + duration / ISI`` with the closed-form ISI from reset,
    ``t_ref + tau_m ln((V_reset - V_inf) / (V_th - V_inf))``; ``inf`` when the ISI is 0."""
    v_inf = drive_mv(p, current_na)
    if v_inf <= p.v_th_mv:
        return 1.0
    isi = p.t_ref_ms + p.tau_m_ms * math.log((p.v_reset_mv - v_inf) / (p.v_th_mv - v_inf))
    return 1.0 + duration_ms / isi if isi > 0.0 else math.inf


def simulate_lif_exact(
    p: LIFParams,
    duration_ms: float,
    current_na: float = 0.0,
    input_times_ms: np.ndarray | None = None,
    input_weights_mv: np.ndarray | float | None = None,
    v0_mv: float | None = None,
    budget: Budget | None = None,
) -> np.ndarray:
    """Exact event-driven simulation; returns the output spike times (ms).

    Args:
        p: neuron parameters.
        duration_ms: simulated time; spikes at ``t >= duration_ms`` are not returned.
        current_na: constant input current (nA).
        input_times_ms: sorted input spike times in ``[0, duration_ms)``.
        input_weights_mv: jump of V per input spike (mV): a scalar or one per input spike.
        v0_mv: initial potential (default ``E_L``).
        budget: the most spikes and memory to spend (see :mod:`spikewave._budget`); the
            bound of :func:`max_spikes_constant_drive` plus one spike per input is checked
            before the run.
    """
    duration = check_number("duration_ms", duration_ms, POSITIVE)
    current = check_number("current_na", current_na)
    v0 = p.e_l_mv if v0_mv is None else check_number("v0_mv", v0_mv)
    times, weights = _check_inputs(input_times_ms, input_weights_mv, duration)
    spikes = max_spikes_constant_drive(p, current, duration) + 1.0 + times.size
    check_budget("simulate_lif_exact", spikes + times.size, 8.0 * spikes, budget,
                 f"up to {spikes:.3g} output spikes in {duration:g} ms")
    return _lif_exact_core(p.tau_m_ms, p.e_l_mv, p.r_mohm, p.v_th_mv, p.v_reset_mv,
                           p.t_ref_ms, current, v0, duration, times, weights)


def _check_inputs(input_times_ms, input_weights_mv, duration: float):
    if input_times_ms is None:
        if input_weights_mv is not None and np.size(input_weights_mv) > 1:
            raise fail("input_weights_mv", input_weights_mv,
                       "None when input_times_ms is None")
        return np.empty(0), np.empty(0)
    times = check_array("input_times_ms", input_times_ms, ndim=1)
    if times.size and (times[0] < 0 or times[-1] >= duration):
        raise fail("input_times_ms", f"times spanning [{times.min():g}, {times.max():g}]",
                   f"times in [0, duration_ms={duration:g})")
    if np.any(np.diff(times) < 0):
        raise fail("input_times_ms", "an unsorted array", "sorted in increasing order")
    if input_weights_mv is None:
        raise fail("input_weights_mv", None, "a number or one weight per input spike")
    weights = check_array("input_weights_mv", input_weights_mv, ndim=(0, 1))
    if weights.ndim == 0:
        weights = np.full(times.shape, float(weights))
    elif weights.shape != times.shape:
        raise fail("input_weights_mv", f"array of shape {weights.shape}",
                   f"a scalar or shape {times.shape} like input_times_ms")
    return np.ascontiguousarray(times), np.ascontiguousarray(weights)


# ----------------------------------------------------------------------------- clock path

LIF_METHODS = ("exact", "euler")


def lif_clock_step(v_mv: np.ndarray, refractory_left_ms: np.ndarray, current_na: np.ndarray,
                   p: LIFParams, dt_ms: float, method: str = "exact"):
    """One clock-driven step of size ``dt``; returns ``(v, refractory_left, spiked)``.

    ``exact``: ``V <- V_inf + (V - V_inf) exp(-dt / tau_m)`` (exact for constant current);
    ``euler``: ``V <- V + dt / tau_m (E_L - V + R I)``. A neuron with refractory time left
    stays at ``V_reset``. A spike is emitted when ``V >= V_th`` after the update. ``dt_ms``
    and ``method`` are checked as :func:`simulate_lif_clock` checks them.
    """
    check_number("dt_ms", dt_ms, POSITIVE)
    check_choice("method", method, LIF_METHODS)
    v_inf = p.e_l_mv + p.r_mohm * current_na
    if method == "exact":
        v_new = v_inf + (v_mv - v_inf) * math.exp(-dt_ms / p.tau_m_ms)
    else:
        v_new = v_mv + dt_ms / p.tau_m_ms * (v_inf - v_mv)
    refractory = refractory_left_ms > 1e-9 * dt_ms
    v_new = np.where(refractory, p.v_reset_mv, v_new)
    spiked = v_new >= p.v_th_mv
    v_new = np.where(spiked, p.v_reset_mv, v_new)
    left = np.where(spiked, p.t_ref_ms, np.maximum(refractory_left_ms - dt_ms, 0.0))
    return v_new, left, spiked


@dataclass(frozen=True)
class ClockRun:
    """Result of :func:`simulate_lif_clock`: spikes per neuron and (optionally) the trace."""

    spike_times_ms: list[np.ndarray]
    t_ms: np.ndarray | None = None
    v_mv: np.ndarray | None = None  # [steps, neurons]


def simulate_lif_clock(
    p: LIFParams,
    duration_ms: float,
    current_na: np.ndarray | float,
    dt_ms: float = 0.01,
    method: str = "exact",
    record_v: bool = False,
    budget: Budget | None = None,
) -> ClockRun:
    """Clock-driven simulation of independent neurons, one per entry of ``current_na``.

    Spike times fall on the grid ``n * dt``. Returns a :class:`ClockRun`. ``budget`` bounds
    the steps (time steps times neurons) and the recorded trace, checked before the run.
    """
    duration = check_number("duration_ms", duration_ms, POSITIVE)
    dt = check_number("dt_ms", dt_ms, POSITIVE)
    if dt > duration:
        raise fail("dt_ms", dt_ms, f"at most duration_ms = {duration:g}")
    check_choice("method", method, LIF_METHODS)
    currents = np.atleast_1d(check_array("current_na", current_na, ndim=(0, 1)))
    with np.errstate(over="ignore"):
        finite = np.isfinite(p.e_l_mv + p.r_mohm * currents)
    if not finite.all():
        drive_mv(p, float(currents[~finite][0]))
    steps = round(duration / dt) * currents.size
    check_budget("simulate_lif_clock", steps, 8.0 * (steps + duration / dt) if record_v else 0.0,
                 budget, f"{duration:g} ms at dt = {dt:g} ms, {currents.size} neuron(s)")
    n_steps = int(round(duration / dt))
    v = np.full(currents.shape, p.e_l_mv)
    left = np.zeros(currents.shape)
    spikes: list[list[float]] = [[] for _ in currents]
    trace = np.empty((n_steps, currents.size)) if record_v else None
    for n in range(n_steps):
        v, left, spiked = lif_clock_step(v, left, currents, p, dt, method)
        if spiked.any():
            for i in np.flatnonzero(spiked):
                spikes[i].append((n + 1) * dt)
        if trace is not None:
            # record the pre-reset peak as threshold so that spikes are visible
            trace[n] = np.where(spiked, p.v_th_mv, v)
    t = (np.arange(n_steps) + 1) * dt if record_v else None
    return ClockRun([np.asarray(s) for s in spikes], t, trace)


def rate_from_spikes_hz(spike_times_ms: np.ndarray, skip: int = 0) -> float:
    """Firing rate as ``1000 / mean ISI`` (Hz) after dropping ``skip`` spikes; 0 if < 2 spikes."""
    s = np.asarray(spike_times_ms)[skip:]
    if s.size < 2:
        return 0.0
    return 1000.0 * (s.size - 1) / (s[-1] - s[0])
