"""Spike response model (SRM) kernels of Masquelier, Guyonneau & Thorpe 2008.

The potential (arbitrary units) is::

    u(t) = eta(t - t_i) + sum_j w_j eps(t - t_j)

summing only the input spikes that arrived after the last output spike ``t_i`` (all EPSPs
are flushed at an output spike). With ``s`` in ms and ``s >= 0`` (both kernels are 0 for
``s < 0``)::

    eps(s) = K (exp(-s / tau_m) - exp(-s / tau_s))        K normalises the peak to 1
    eta(s) = T (K1 exp(-s / tau_m) - K2 (exp(-s / tau_m) - exp(-s / tau_s)))

with ``tau_m = 10 ms``, ``tau_s = 2.5 ms``, threshold ``T = 500``, ``K1 = 2``, ``K2 = 4``
(docs/references.md section 1.2). The EPSP peaks at ``t_peak = tau_m tau_s / (tau_m - tau_s)
ln(tau_m / tau_s)`` = 4.62 ms, so ``K = 2.1165``; ``eta`` starts at ``2 T``, crosses 0 at
2.31 ms and has its minimum ``-0.75 T`` at 6.93 ms (a negative after-potential).
The original code neglects kernels beyond ``cut_taus * tau_m`` (7 by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spikewave._budget import Budget, check_budget
from spikewave._validation import (
    NON_NEGATIVE,
    POSITIVE,
    REAL,
    Params,
    check_array,
    check_number,
    fail,
    param,
)


@dataclass(frozen=True)
class SRMParams(Params):
    """SRM neuron of Masquelier et al. 2008 (defaults are the paper's)."""

    tau_m_ms: float = param(10.0, POSITIVE, "membrane time constant (ms)")
    tau_s_ms: float = param(2.5, POSITIVE, "synaptic time constant (ms)")
    threshold: float = param(500.0, POSITIVE, "firing threshold T (arbitrary units)")
    k1: float = param(2.0, REAL, "after-potential reset amplitude, in units of T")
    k2: float = param(4.0, REAL, "after-potential negative part, in units of T")
    t_ref_ms: float = param(1.0, NON_NEGATIVE, "refractory period (ms)")
    cut_taus: float = param(7.0, POSITIVE, "kernels are neglected after cut_taus * tau_m")

    def _check_consistency(self) -> None:
        if self.tau_s_ms >= self.tau_m_ms:
            raise fail("tau_s_ms", self.tau_s_ms, f"below tau_m_ms = {self.tau_m_ms:g}",
                       "SRMParams")

    @property
    def epsp_peak_ms(self) -> float:
        """Time of the EPSP maximum, ``tau_m tau_s / (tau_m - tau_s) ln(tau_m / tau_s)``."""
        tm, ts = self.tau_m_ms, self.tau_s_ms
        return tm * ts / (tm - ts) * math.log(tm / ts)

    @property
    def epsp_norm(self) -> float:
        """``K`` such that the EPSP peak is exactly 1."""
        s = self.epsp_peak_ms
        return 1.0 / (math.exp(-s / self.tau_m_ms) - math.exp(-s / self.tau_s_ms))

    @property
    def cut_ms(self) -> float:
        return self.cut_taus * self.tau_m_ms


def epsp_kernel(s_ms: np.ndarray | float, p: SRMParams) -> np.ndarray:
    """``eps(s) = K (exp(-s/tau_m) - exp(-s/tau_s))`` for ``0 <= s < cut``, else 0."""
    s = np.asarray(s_ms, dtype=float)
    inside = (s >= 0) & (s < p.cut_ms)
    sc = np.where(inside, s, 0.0)
    val = p.epsp_norm * (np.exp(-sc / p.tau_m_ms) - np.exp(-sc / p.tau_s_ms))
    return np.where(inside, val, 0.0)


def eta_kernel(s_ms: np.ndarray | float, p: SRMParams) -> np.ndarray:
    """``eta(s) = T (K1 e^{-s/tau_m} - K2 (e^{-s/tau_m} - e^{-s/tau_s}))`` for ``0 <= s < cut``."""
    s = np.asarray(s_ms, dtype=float)
    inside = (s >= 0) & (s < p.cut_ms)
    sc = np.where(inside, s, 0.0)
    em, es = np.exp(-sc / p.tau_m_ms), np.exp(-sc / p.tau_s_ms)
    val = p.threshold * (p.k1 * em - p.k2 * (em - es))
    return np.where(inside, val, 0.0)


def srm_potential(
    t_ms: np.ndarray | float,
    input_times_ms: np.ndarray,
    input_afferents: np.ndarray,
    weights: np.ndarray,
    last_output_ms: float | None,
    p: SRMParams,
    budget: Budget | None = None,
) -> np.ndarray:
    """Reference (dense) evaluation of ``u(t)`` at the times ``t_ms``.

    Only input spikes after ``last_output_ms`` count (EPSPs are flushed at an output spike);
    ``last_output_ms = None`` means no output spike yet (no ``eta`` term). This is the plain
    reference against which the event-driven engine is tested. It evaluates a dense
    ``[times, inputs]`` matrix: ``budget`` bounds its size, checked first.
    """
    t = np.atleast_1d(check_array("t_ms", t_ms, ndim=(0, 1)))
    times = check_array("input_times_ms", input_times_ms, ndim=1)
    pairs = float(t.size) * float(times.size)
    check_budget("srm_potential", pairs, 32.0 * pairs, budget,
                 f"{t.size} evaluation times x {times.size} input spikes")
    aff = np.asarray(input_afferents)
    if aff.shape != times.shape or not np.issubdtype(aff.dtype, np.integer):
        raise fail("input_afferents", f"array of shape {aff.shape} and dtype {aff.dtype}",
                   f"integer indices of shape {times.shape}")
    w = check_array("weights", weights, ndim=1)
    if aff.size and (aff.min() < 0 or aff.max() >= w.size):
        raise fail("input_afferents", f"indices in [{aff.min()}, {aff.max()}]",
                   f"indices in [0, {w.size - 1}] (one weight per afferent)")
    u = np.zeros_like(t)
    if last_output_ms is not None:
        t_last = check_number("last_output_ms", last_output_ms)
        keep = times > t_last
        times, aff = times[keep], aff[keep]
        u += eta_kernel(t - t_last, p)
    u += (epsp_kernel(t[:, None] - times[None, :], p) * w[aff][None, :]).sum(axis=1)
    return u
