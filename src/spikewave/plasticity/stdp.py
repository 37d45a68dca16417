"""Spike-timing-dependent plasticity: the exponential (Bi & Poo) window and its pairing rules.

Window, for ``dt = t_post - t_pre``::

    dw = +a_plus  exp(-dt / tau_plus)     if dt >= 0   (pre before post: potentiation)
    dw = -a_minus exp(+dt / tau_minus)    if dt <  0   (post before pre: depression)

Additive STDP adds ``dw``; multiplicative (soft-bound) STDP scales potentiation by
``(w_max - w)`` and depression by ``(w - w_min)``. Weights are clipped to ``[w_min, w_max]``.

Which spike pairs count is the *pairing* (docs/references.md section 1.3):

- ``"all-to-all"`` -- every pre/post pair: traces accumulate (``x += a_plus`` at each pre).
- ``"nearest"`` -- each spike pairs with the nearest earlier spike of the other side:
  traces are *set* (``x = a_plus``) rather than accumulated.
- ``"reduced-nearest"`` -- Masquelier et al. 2008: as ``"nearest"``, but a trace is used
  once and then cleared, so an afferent is potentiated at most once per output spike (by
  its latest input spike after the previous output spike) and depressed at most once (by
  its first input spike after an output spike).

The rule is written once, here, as two event functions on per-synapse trace state
``(value, time of value)``; the event-driven engine, the clock-driven reference and the
window reproduction all call them. A trace of value 0 costs no exponential.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spikewave._numba import njit
from spikewave._validation import POSITIVE, REAL, Params, check_choice, fail, param

PAIRINGS = {"all-to-all": 0, "nearest": 1, "reduced-nearest": 2}


@dataclass(frozen=True)
class STDPParams(Params):
    """STDP window and rule (defaults: Masquelier et al. 2008)."""

    tau_plus_ms: float = param(16.8, POSITIVE, "potentiation time constant (ms)")
    tau_minus_ms: float = param(33.7, POSITIVE, "depression time constant (ms)")
    a_plus: float = param(2.0**-5, REAL, "potentiation amplitude (>= 0)")
    a_minus: float = param(0.85 * 2.0**-5, REAL, "depression amplitude (>= 0)")
    w_min: float = param(0.0, REAL, "lower weight bound")
    w_max: float = param(1.0, REAL, "upper weight bound")
    pairing: str = "reduced-nearest"
    multiplicative: bool = False

    def _check_consistency(self) -> None:
        check_choice("pairing", self.pairing, PAIRINGS, "STDPParams")
        if self.a_plus < 0 or self.a_minus < 0:
            raise fail("a_plus" if self.a_plus < 0 else "a_minus",
                       min(self.a_plus, self.a_minus), "a number >= 0 (signs are fixed by "
                       "the rule: potentiation adds, depression subtracts)", "STDPParams")
        if self.w_max <= self.w_min:
            raise fail("w_max", self.w_max, f"above w_min = {self.w_min:g}", "STDPParams")
        if not isinstance(self.multiplicative, bool):
            raise fail("multiplicative", self.multiplicative, "True or False", "STDPParams")

    def as_array(self) -> np.ndarray:
        """``[a_plus, a_minus, tau_plus, tau_minus, w_min, w_max, pairing, multiplicative]``."""
        return np.array([self.a_plus, self.a_minus, self.tau_plus_ms, self.tau_minus_ms,
                         self.w_min, self.w_max, PAIRINGS[self.pairing],
                         1.0 if self.multiplicative else 0.0])


def stdp_window(dt_ms: np.ndarray | float, p: STDPParams) -> np.ndarray:
    """The pair window ``dw(dt)`` for ``dt = t_post - t_pre`` (additive, one pair)."""
    dt = np.asarray(dt_ms, dtype=float)
    return np.where(dt >= 0, p.a_plus * np.exp(-np.abs(dt) / p.tau_plus_ms),
                    -p.a_minus * np.exp(-np.abs(dt) / p.tau_minus_ms))


@njit
def _clip(w, lo, hi):  # pragma: no cover - compiled
    return lo if w < lo else (hi if w > hi else w)


@njit
def stdp_on_pre(w, x, x_t, y, y_t, t, rule):  # pragma: no cover - compiled
    """A presynaptic spike at ``t``: depress by the post trace, then update the pre trace.

    ``x`` (pre trace, ``a_plus`` units) was ``x`` at time ``x_t``; ``y`` likewise for the
    post trace. Returns ``(w, x, x_t, y, y_t)``.
    """
    a_plus, tau_plus, tau_minus = rule[0], rule[2], rule[3]
    w_min, w_max, pairing, mult = rule[4], rule[5], rule[6], rule[7]
    if y != 0.0:
        y = y * math.exp(-(t - y_t) / tau_minus)
        dw = -y * (w - w_min) if mult != 0.0 else -y
        w = _clip(w + dw, w_min, w_max)
        if pairing == 2.0:
            y = 0.0
        y_t = t
    if pairing == 0.0 and x != 0.0:
        x = x * math.exp(-(t - x_t) / tau_plus) + a_plus
    else:
        x = a_plus
    return w, x, t, y, y_t


@njit
def stdp_on_post(w, x, x_t, y, y_t, t, rule):  # pragma: no cover - compiled
    """A postsynaptic spike at ``t``: potentiate by the pre trace, then update the post trace."""
    a_minus, tau_plus, tau_minus = rule[1], rule[2], rule[3]
    w_min, w_max, pairing, mult = rule[4], rule[5], rule[6], rule[7]
    if x != 0.0:
        x = x * math.exp(-(t - x_t) / tau_plus)
        dw = x * (w_max - w) if mult != 0.0 else x
        w = _clip(w + dw, w_min, w_max)
        if pairing == 2.0:
            x = 0.0
        x_t = t
    if pairing == 0.0 and y != 0.0:
        y = y * math.exp(-(t - y_t) / tau_minus) + a_minus
    else:
        y = a_minus
    return w, x, x_t, y, t


def apply_spike_pairs(w0: float, pre_ms: np.ndarray, post_ms: np.ndarray, p: STDPParams) -> float:
    """Weight after the pre and post spike trains (ms) of one synapse, events in time order.

    At equal times the presynaptic spike is processed first (it counts as "before").
    """
    rule = p.as_array()
    events = sorted([(float(t), 0) for t in np.atleast_1d(pre_ms)]
                    + [(float(t), 1) for t in np.atleast_1d(post_ms)])
    w, x, x_t, y, y_t = float(w0), 0.0, 0.0, 0.0, 0.0
    for t, kind in events:
        fn = stdp_on_post if kind else stdp_on_pre
        w, x, x_t, y, y_t = fn(w, x, x_t, y, y_t, t, rule)
    return w


def ordinal_stdp_update(weights, pre_before_post, a_plus: float, a_minus: float,
                        stabilizer: bool = True, w_min: float = 0.0, w_max: float = 1.0):
    """The simplified STDP of Kheradpisheh et al. 2018 and Mozafari et al. 2019.

    Only the *order* of the spikes counts, not their time difference::

        dw = a_plus  * w (1 - w)   where the presynaptic neuron fired at or before the
                                   postsynaptic spike (t_pre <= t_post)
        dw = a_minus * w (1 - w)   otherwise (fired later or never; a_minus < 0 depresses)

    without the stabiliser ``w (1 - w)`` when ``stabilizer`` is False (the R-STDP layer).
    Returns the new weights, kept in ``[w_min, w_max]`` (the rule's bounds). ``weights`` and
    the boolean ``pre_before_post`` broadcast together; NumPy arrays or torch tensors.
    """
    if not w_max > w_min:
        raise fail("w_max", w_max, f"above w_min = {w_min:g}")
    if hasattr(weights, "new_tensor"):  # torch: the mask in the weights' dtype
        pre = pre_before_post.to(weights.dtype)
    else:
        pre = np.asarray(pre_before_post, dtype=np.asarray(weights).dtype)
    rate = a_plus * pre + a_minus * (1 - pre)  # exactly a_plus or a_minus
    dw = rate * weights * (1 - weights) if stabilizer else rate + 0 * weights
    new = weights + dw
    return new.clip(w_min, w_max)
