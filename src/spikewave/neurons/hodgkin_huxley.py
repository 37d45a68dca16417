"""Hodgkin-Huxley squid-axon model, modern convention (rest near -65 mV).

Equations (V in mV, t in ms, currents in uA/cm^2, conductances in mS/cm^2)::

    C dV/dt = I - gNa m^3 h (V - ENa) - gK n^4 (V - EK) - gL (V - EL)
    dx/dt   = phi (alpha_x(V) (1 - x) - beta_x(V) x)          for x in m, h, n
    phi     = 3^((T - 6.3) / 10)

    alpha_m = 0.1 (V + 40) / (1 - exp(-(V + 40) / 10))    beta_m = 4 exp(-(V + 65) / 18)
    alpha_h = 0.07 exp(-(V + 65) / 20)                    beta_h = 1 / (1 + exp(-(V + 35) / 10))
    alpha_n = 0.01 (V + 55) / (1 - exp(-(V + 55) / 10))   beta_n = 0.125 exp(-(V + 65) / 80)

(NEURON's ``hh.mod``; docs/references.md section 6.2.) The removable singularities of
``alpha_m`` and ``alpha_n`` are evaluated with ``x / expm1(x)`` and its limit.

Integration schemes, chosen by name (``SCHEMES``):

- ``"rk4"`` -- classical fourth-order Runge-Kutta on all four variables.
- ``"exponential_euler"`` -- each gate is advanced exactly for frozen V
  (``x <- x_inf + (x - x_inf) exp(-dt / tau_x)``), then V is advanced exactly for frozen
  conductances (a linear ODE); first order, unconditionally stable.

Spikes are upward crossings of 0 mV, timed by linear interpolation between steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spikewave._budget import Budget, check_budget
from spikewave._numba import grow, njit
from spikewave._validation import (
    POSITIVE,
    REAL,
    Params,
    check_array,
    check_choice,
    check_number,
    fail,
    param,
)

SCHEMES = {"rk4": 0, "exponential_euler": 1}
SPIKE_THRESHOLD_MV = 0.0


@dataclass(frozen=True)
class HHParams(Params):
    """Standard squid-axon parameters at 6.3 degC (docs/references.md section 6.2)."""

    c_m_uf_cm2: float = param(1.0, POSITIVE, "membrane capacitance (uF/cm^2)")
    g_na_ms_cm2: float = param(120.0, POSITIVE, "maximal sodium conductance (mS/cm^2)")
    g_k_ms_cm2: float = param(36.0, POSITIVE, "maximal potassium conductance (mS/cm^2)")
    g_l_ms_cm2: float = param(0.3, POSITIVE, "leak conductance (mS/cm^2)")
    e_na_mv: float = param(50.0, REAL, "sodium reversal potential (mV)")
    e_k_mv: float = param(-77.0, REAL, "potassium reversal potential (mV)")
    e_l_mv: float = param(-54.387, REAL, "leak reversal potential (mV)")
    temperature_c: float = param(6.3, REAL, "temperature (degC); rates scale by 3^((T-6.3)/10)")

    def _check_consistency(self) -> None:
        if self.e_k_mv >= self.e_na_mv:
            raise fail("e_k_mv", self.e_k_mv, f"below e_na_mv = {self.e_na_mv:g}", "HHParams")

    def as_array(self) -> np.ndarray:
        phi = 3.0 ** ((self.temperature_c - 6.3) / 10.0)
        return np.array([self.c_m_uf_cm2, self.g_na_ms_cm2, self.g_k_ms_cm2, self.g_l_ms_cm2,
                         self.e_na_mv, self.e_k_mv, self.e_l_mv, phi])


@njit
def _vtrap(x, y):  # pragma: no cover - compiled
    """``x / (1 - exp(-x / y))`` with its limit ``y`` at ``x = 0``."""
    u = x / y
    if abs(u) < 1e-7:
        return y * (1.0 + 0.5 * u)
    return x / -math.expm1(-u)


@njit
def _rates(v):  # pragma: no cover - compiled
    am = 0.1 * _vtrap(v + 40.0, 10.0)
    bm = 4.0 * math.exp(-(v + 65.0) / 18.0)
    ah = 0.07 * math.exp(-(v + 65.0) / 20.0)
    bh = 1.0 / (1.0 + math.exp(-(v + 35.0) / 10.0))
    an = 0.01 * _vtrap(v + 55.0, 10.0)
    bn = 0.125 * math.exp(-(v + 65.0) / 80.0)
    return am, bm, ah, bh, an, bn


@njit
def _derivs(v, m, h, n, i_ext, par):  # pragma: no cover - compiled
    c, gna, gk, gl, ena, ek, el, phi = par[0], par[1], par[2], par[3], par[4], par[5], \
        par[6], par[7]
    am, bm, ah, bh, an, bn = _rates(v)
    i_ion = gna * m * m * m * h * (v - ena) + gk * n * n * n * n * (v - ek) + gl * (v - el)
    return ((i_ext - i_ion) / c, phi * (am * (1.0 - m) - bm * m),
            phi * (ah * (1.0 - h) - bh * h), phi * (an * (1.0 - n) - bn * n))


@njit
def _step(v, m, h, n, i_ext, dt, par, scheme):  # pragma: no cover - compiled
    if scheme == 0:
        k1 = _derivs(v, m, h, n, i_ext, par)
        k2 = _derivs(v + 0.5 * dt * k1[0], m + 0.5 * dt * k1[1], h + 0.5 * dt * k1[2],
                     n + 0.5 * dt * k1[3], i_ext, par)
        k3 = _derivs(v + 0.5 * dt * k2[0], m + 0.5 * dt * k2[1], h + 0.5 * dt * k2[2],
                     n + 0.5 * dt * k2[3], i_ext, par)
        k4 = _derivs(v + dt * k3[0], m + dt * k3[1], h + dt * k3[2], n + dt * k3[3], i_ext, par)
        return (v + dt / 6.0 * (k1[0] + 2.0 * k2[0] + 2.0 * k3[0] + k4[0]),
                m + dt / 6.0 * (k1[1] + 2.0 * k2[1] + 2.0 * k3[1] + k4[1]),
                h + dt / 6.0 * (k1[2] + 2.0 * k2[2] + 2.0 * k3[2] + k4[2]),
                n + dt / 6.0 * (k1[3] + 2.0 * k2[3] + 2.0 * k3[3] + k4[3]))
    # exponential Euler: gates exact for frozen V, then V exact for frozen conductances
    c, gna, gk, gl, ena, ek, el, phi = par[0], par[1], par[2], par[3], par[4], par[5], \
        par[6], par[7]
    am, bm, ah, bh, an, bn = _rates(v)
    sm, sh, sn = phi * (am + bm), phi * (ah + bh), phi * (an + bn)
    m2 = am / (am + bm) + (m - am / (am + bm)) * math.exp(-dt * sm)
    h2 = ah / (ah + bh) + (h - ah / (ah + bh)) * math.exp(-dt * sh)
    n2 = an / (an + bn) + (n - an / (an + bn)) * math.exp(-dt * sn)
    g_na = gna * m2 * m2 * m2 * h2
    g_k = gk * n2 * n2 * n2 * n2
    g_tot = g_na + g_k + gl
    v_inf = (g_na * ena + g_k * ek + gl * el + i_ext) / g_tot
    v2 = v_inf + (v - v_inf) * math.exp(-dt * g_tot / c)
    return v2, m2, h2, n2


@njit
def _integrate(state0, current, n_steps, dt, par, scheme, record):  # pragma: no cover - compiled
    """``n_steps`` steps from ``state0``; ``current`` holds one value per step, or one for
    all of them."""
    constant = current.shape[0] == 1
    n_rec = n_steps + 1 if record else 1
    trace = np.empty((n_rec, 4))
    v, m, h, n = state0[0], state0[1], state0[2], state0[3]
    trace[0, 0], trace[0, 1], trace[0, 2], trace[0, 3] = v, m, h, n
    spikes = np.empty(16)
    n_spk = 0
    for k in range(n_steps):
        v2, m, h, n = _step(v, m, h, n, current[0] if constant else current[k], dt, par,
                            scheme)
        if v < 0.0 <= v2:
            if n_spk == spikes.shape[0]:
                spikes = grow(spikes, n_spk)
            spikes[n_spk] = (k + (0.0 - v) / (v2 - v)) * dt
            n_spk += 1
        v = v2
        if record:
            trace[k + 1, 0], trace[k + 1, 1], trace[k + 1, 2], trace[k + 1, 3] = v, m, h, n
    if not record:
        trace[0, 0], trace[0, 1], trace[0, 2], trace[0, 3] = v, m, h, n
    return trace, spikes[:n_spk]


def resting_state(p: HHParams) -> np.ndarray:
    """The resting state ``[V, m, h, n]`` at zero current (gates at their steady state)."""
    from scipy.optimize import brentq

    par = p.as_array()

    def dv(v: float) -> float:
        am, bm, ah, bh, an, bn = _rates(v)
        m, h, n = am / (am + bm), ah / (ah + bh), an / (an + bn)
        return _derivs(v, m, h, n, 0.0, par)[0]

    v = brentq(dv, -90.0, -40.0, xtol=1e-12)
    am, bm, ah, bh, an, bn = _rates(v)
    return np.array([v, am / (am + bm), ah / (ah + bh), an / (an + bn)])


@dataclass(frozen=True)
class HHRun:
    """Result of :func:`simulate_hh`. ``v_mv``, ``m``, ``h``, ``n`` are ``None`` unless recorded."""

    spike_times_ms: np.ndarray
    final_state: np.ndarray
    t_ms: np.ndarray | None = None
    v_mv: np.ndarray | None = None
    m: np.ndarray | None = None
    h: np.ndarray | None = None
    n: np.ndarray | None = None


def simulate_hh(
    p: HHParams,
    current_ua_cm2: np.ndarray | float,
    duration_ms: float,
    dt_ms: float = 0.01,
    scheme: str = "rk4",
    state0: np.ndarray | None = None,
    record: bool = False,
    budget: Budget | None = None,
) -> HHRun:
    """Integrate the HH equations from ``state0`` (default: rest) under a current.

    Args:
        current_ua_cm2: a constant, or one value per step (``round(duration / dt)`` values).
        dt_ms: integration step; RK4 is stable up to about 0.05 ms.
        scheme: ``"rk4"`` or ``"exponential_euler"``.
        record: keep the whole trajectory (``t_ms``, ``v_mv``, ``m``, ``h``, ``n``).
        budget: the most steps and memory to spend, checked before the run.
    """
    duration = check_number("duration_ms", duration_ms, POSITIVE)
    dt = check_number("dt_ms", dt_ms, POSITIVE)
    check_choice("scheme", scheme, SCHEMES)
    if dt > 0.1:
        raise fail("dt_ms", dt_ms, "at most 0.1 ms (larger steps are unstable or inaccurate)")
    steps = round(duration / dt)
    check_budget("simulate_hh", steps, (48.0 if record else 0.0) * steps, budget,
                 f"{duration:g} ms at dt = {dt:g} ms")
    n_steps = int(steps)
    current = check_array("current_ua_cm2", current_ua_cm2, ndim=(0, 1))
    if current.ndim == 0:
        current = np.full(1, float(current))
    elif current.shape != (n_steps,):
        raise fail("current_ua_cm2", f"array of shape {current.shape}",
                   f"a number or {n_steps} values (one per step)")
    x0 = resting_state(p) if state0 is None else check_array("state0", state0, ndim=1)
    if x0.shape != (4,):
        raise fail("state0", f"array of shape {x0.shape}", "[V, m, h, n] (shape (4,))")
    trace, spikes = _integrate(x0, np.ascontiguousarray(current), n_steps, dt, p.as_array(),
                               SCHEMES[scheme], record)
    if not record:
        return HHRun(spikes, trace[0].copy())
    t = np.arange(n_steps + 1) * dt
    return HHRun(spikes, trace[-1].copy(), t, trace[:, 0], trace[:, 1], trace[:, 2], trace[:, 3])


def count_spikes_step(p: HHParams, current_ua_cm2: float, duration_ms: float = 500.0,
                      dt_ms: float = 0.01, scheme: str = "rk4") -> int:
    """Number of spikes for a current step of ``duration_ms`` switched on at rest."""
    return int(simulate_hh(p, current_ua_cm2, duration_ms, dt_ms, scheme).spike_times_ms.size)
