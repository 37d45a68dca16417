"""The first time a sum of decaying exponentials reaches a level, found exactly.

Between two inputs the potential of a LIF neuron with exponential synaptic currents is
(``u = v - E_L``, ``s`` the time since the last event)::

    u(s) = A exp(-a s) + B exp(-b s) + C exp(-c s)     a = 1/tau_m, b = 1/tau_exc, c = 1/tau_inh

:func:`first_crossing` returns the smallest ``s >= 0`` with ``u(s) >= theta`` (``inf`` if
there is none). It is exact in the sense of the existing event-driven engine: every
interval on which ``u`` is monotone is located in closed form, and the crossing inside
the first one that contains it is bisected to machine precision.

Why this finds every crossing: ``u'`` is again a sum of three exponentials;
``h(s) = u'(s) exp(a s)`` has the same zeros and its derivative has only two terms, whose
single zero is explicit. So ``h`` is monotone on at most two pieces, ``u'`` has at most
two zeros (each bisected in its piece) and ``u`` is monotone on at most three pieces.
Beyond the horizon ``H`` at which every term is below ``|theta| / 3`` the sign of
``u - theta`` is that of ``-theta``, so a crossing can only lie in ``[0, H]`` (or be
certain, when ``theta < 0``). With one term (instantaneous synapses) the answer is in
closed form.
"""

from __future__ import annotations

import math

from spikewave._numba import njit

_BISECTIONS = 200  # more than enough to reach adjacent doubles


@njit
def _value(A, B, C, a, b, c, s):  # pragma: no cover - compiled
    return A * math.exp(-a * s) + B * math.exp(-b * s) + C * math.exp(-c * s)


@njit
def _slope_scaled(A, B, C, a, b, c, s):  # pragma: no cover - compiled
    """``h(s) = u'(s) exp(a s)``: the zeros of ``u'`` without its fastest decay."""
    return -a * A - b * B * math.exp(-(b - a) * s) - c * C * math.exp(-(c - a) * s)


@njit
def _bisect_value(A, B, C, a, b, c, theta, lo, hi):  # pragma: no cover - compiled
    """``u(lo) < theta <= u(hi)``: the smallest representable ``s`` with ``u(s) >= theta``."""
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if _value(A, B, C, a, b, c, mid) >= theta:
            hi = mid
        else:
            lo = mid
    return hi


@njit
def _bisect_slope(A, B, C, a, b, c, lo, hi):  # pragma: no cover - compiled
    """A zero of ``h`` between ``lo`` and ``hi``, where ``h`` changes sign."""
    h_lo = _slope_scaled(A, B, C, a, b, c, lo)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        h_mid = _slope_scaled(A, B, C, a, b, c, mid)
        if (h_mid > 0.0) == (h_lo > 0.0):
            lo, h_lo = mid, h_mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit
def first_crossing(A, B, C, a, b, c, theta):  # pragma: no cover - compiled
    """Smallest ``s >= 0`` with ``A e^{-as} + B e^{-bs} + C e^{-cs} >= theta``, else inf.

    ``a, b, c > 0`` and pairwise different where the coefficient is not zero (merge equal
    rates first); a term with a zero coefficient is absent."""
    if A + B + C >= theta:
        return 0.0
    if theta > 0.0 and max(A, 0.0) + max(B, 0.0) + max(C, 0.0) < theta:
        return math.inf  # every term is at most its positive part for s >= 0
    if B == 0.0 and C == 0.0:  # one term: A e^{-as} - theta is monotone
        if theta < 0.0:  # A < theta < 0: rises to 0 and crosses at A e^{-as} = theta
            return math.log(A / theta) / a
        return math.inf
    level = abs(theta) if theta != 0.0 else 1e-12 * (abs(A) + abs(B) + abs(C))
    horizon = 0.0
    for coef, rate in ((A, a), (B, b), (C, c)):
        if coef != 0.0 and 3.0 * abs(coef) > level:
            horizon = max(horizon, math.log(3.0 * abs(coef) / level) / rate)
    # the zero of h' (two terms): b (b - a) B e^{-(b-a)s} = -c (c - a) C e^{-(c-a)s}
    split = -1.0
    if B != 0.0 and C != 0.0 and b != c:
        ratio = -(c * (c - a) * C) / (b * (b - a) * B)
        if ratio > 0.0:
            s_h = math.log(ratio) / (c - b)
            if 0.0 < s_h < horizon:
                split = s_h
    # zeros of u' (at most two, one per monotone piece of h), in increasing order
    z1 = z2 = -1.0
    mid = horizon if split < 0.0 else split
    if (_slope_scaled(A, B, C, a, b, c, 0.0) > 0.0) != (
            _slope_scaled(A, B, C, a, b, c, mid) > 0.0):
        z1 = _bisect_slope(A, B, C, a, b, c, 0.0, mid)
    if split >= 0.0 and (_slope_scaled(A, B, C, a, b, c, split) > 0.0) != (
            _slope_scaled(A, B, C, a, b, c, horizon) > 0.0):
        z2 = _bisect_slope(A, B, C, a, b, c, split, horizon)
    # the monotone pieces of u: [0, z1], [z1, z2], [z2, H] (absent zeros skipped); u < theta
    # at the start of each piece examined, so the first piece whose end reaches theta
    # holds the crossing
    lo = 0.0
    for hi in (z1, z2, horizon):
        if hi <= lo:
            continue
        if _value(A, B, C, a, b, c, hi) >= theta:
            return _bisect_value(A, B, C, a, b, c, theta, lo, hi)
        lo = hi
    return math.inf
