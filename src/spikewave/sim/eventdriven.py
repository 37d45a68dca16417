"""Exact event-driven simulation of SRM (and LIF) neurons with online STDP and lateral
inhibition.

Each output neuron ``k`` follows the spike response model of
:mod:`spikewave.neurons.srm`. Because both kernels are sums of the exponentials
``exp(-s/tau_m)`` and ``exp(-s/tau_s)``, the potential is carried by two numbers::

    u_k(t) = A_k(t) - B_k(t),   A decays with tau_m, B with tau_s
    input spike of weight w:    A += K w,  B += K w            (EPSP of peak w)
    own output spike:           A = T (K1 - K2),  B = -T K2    (EPSPs flushed, eta added)
    another neuron's spike:     A -= alpha T K,  B -= alpha T K  (IPSP of peak alpha T)
                                (or A -= alpha T: an immediate drop, ``ipsp="step"``)

Between two input spikes ``u`` is a two-exponential curve, so threshold crossings are
found exactly: the potential is checked at the end of each interval and, when its
derivative changes sign inside it, at its interior maximum; the crossing time is then
bisected to machine precision. A single neuron runs its quiet stretches (not refractory,
no crossing possible) in a tight loop that keeps ``A`` and ``B`` in registers and takes
``exp(-s/tau_s)`` as ``exp(-s/tau_m)^4`` when ``tau_m = 4 tau_s``; the result is
bit-identical to the general loop (tested). No crossing is tested during the refractory period
``t_ref`` after a neuron's spike. When several neurons would cross in one interval the
earliest fires first and its inhibition is applied before the others are tested.

The same engine runs leaky integrate-and-fire neurons with instantaneous synapses
(:func:`run_lif_network`): ``u = V - E_L`` is ``A`` alone (``B = 0``), an input spike
jumps ``A`` by its weight (mV) unless the neuron is refractory, a spike resets ``A`` to 0;
spikes then fall on the input that crosses, and equal those of
:func:`spikewave.neurons.lif.simulate_lif_exact` (tested).

Plasticity uses the rule functions of :mod:`spikewave.plasticity.stdp` (one copy of the
rule for every engine). The state is explicit (:class:`SRMNetworkState`): a run takes a
state and returns a new one, so a long input can be presented block by block.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from spikewave._numba import grow, njit
from spikewave._validation import (
    NON_NEGATIVE,
    POSITIVE,
    check_array,
    check_choice,
    check_number,
    fail,
)
from spikewave.neurons.lif import LIFParams
from spikewave.neurons.srm import SRMParams
from spikewave.plasticity.stdp import STDPParams, stdp_on_post, stdp_on_pre
from spikewave.sim.spiketrains import SpikeTrains


@dataclass(frozen=True)
class SRMNetworkState:
    """State of ``K`` SRM neurons listening to ``N`` afferents (arrays are never shared)."""

    weights: np.ndarray          # [K, N]
    a: np.ndarray                # [K] slow (tau_m) component of u
    b: np.ndarray                # [K] fast (tau_s) component of u
    last_post_ms: np.ndarray     # [K] time of the last output spike (-inf: none)
    pre_trace: np.ndarray        # [K, N] STDP pre trace value ...
    pre_trace_ms: np.ndarray     # [K, N] ... at this time
    post_trace: np.ndarray       # [K, N] STDP post trace value ...
    post_trace_ms: np.ndarray    # [K, N] ... at this time
    t_ms: float = 0.0            # time the state refers to

    @classmethod
    def initial(cls, weights: np.ndarray) -> SRMNetworkState:
        """Neurons at rest with the given initial weights ``[K, N]``."""
        w = check_array("weights", weights, ndim=2)
        k, n = w.shape
        zeros = np.zeros((k, n))
        return cls(w.copy(), np.zeros(k), np.zeros(k), np.full(k, -np.inf), zeros.copy(),
                   zeros.copy(), zeros.copy(), zeros.copy(), 0.0)

    def copy(self) -> SRMNetworkState:
        return replace(self, **{f: getattr(self, f).copy() for f in (
            "weights", "a", "b", "last_post_ms", "pre_trace", "pre_trace_ms", "post_trace",
            "post_trace_ms")})


@dataclass(frozen=True)
class EventDrivenRun:
    """Output of :func:`run_srm_network`."""

    state: SRMNetworkState
    spike_times_ms: np.ndarray     # output spikes, in time order
    spike_neurons: np.ndarray      # which neuron fired each
    recorded_u: np.ndarray         # [n_record, K] potential at the record times
    weight_snapshots: np.ndarray   # [n_snap, K, N]


@njit
def _u_at(a, b, s, tau_m, tau_s):  # pragma: no cover - compiled
    return a * math.exp(-s / tau_m) - b * math.exp(-s / tau_s)


@njit
def _exp_neg(x):  # pragma: no cover - compiled
    """``exp(-x)`` for ``x >= 0``; below 2^-7 (almost every interval between two input
    spikes) by its Taylor polynomial of degree 8, relative error < 2e-16."""
    if x < 0.0078125:
        return 1.0 - x * (1.0 - x * (0.5 - x * (1.0 / 6.0 - x * (1.0 / 24.0 - x * (
            1.0 / 120.0 - x * (1.0 / 720.0 - x * (1.0 / 5040.0 - x * (1.0 / 40320.0))))))))
    return math.exp(-x)


@njit
def _decays(span, inv_m, inv_s, n_pow):  # pragma: no cover - compiled
    """``(exp(-span/tau_m), exp(-span/tau_s))``; when ``tau_m = n_pow tau_s`` (4 in the
    paper) the second is the first to the power ``n_pow``: one exponential, not two."""
    dm = _exp_neg(span * inv_m)
    if n_pow == 0:
        return dm, _exp_neg(span * inv_s)
    ds = dm
    for _ in range(n_pow - 1):
        ds *= dm
    return dm, ds


@njit
def _surely_below(a, b, dm, ds, thr, inv_m, inv_s):  # pragma: no cover - compiled
    """The fast test of an interval (no exponential): ``u`` below threshold at both ends
    (``u = a - b`` at the start, ``a dm - b ds`` at the end) and no interior maximum (the
    derivative ``b/tau_s - a/tau_m`` does not go from + to -). Evaluated without short
    cuts: the rising test is a coin flip for the branch predictor."""
    rising_then_falling = (b * inv_s > a * inv_m) & (b * ds * inv_s < a * dm * inv_m)
    return (a - b < thr) & (a * dm - b * ds < thr) & (not rising_then_falling)


@njit
def _quiet_single(times, afferents, e, n_in, offset, t_now, t_limit, a, b, weights, x, x_t,
                  y, y_t, rule, plastic, thr, inv_m, inv_s, n_pow, kn, kn_b
                  ):  # pragma: no cover - compiled
    """One neuron, not refractory: present input spikes ``e, e+1, ...`` for as long as no
    threshold crossing is possible (:func:`_surely_below`) and the spikes come
    before ``t_limit``. The potential stays in two registers. Returns ``(e, a, b, t_now)``:
    the first spike not presented, the state just after the last one presented."""
    while e < n_in:
        t_next = offset + times[e]
        if t_next >= t_limit:
            break
        dm, ds = _decays(t_next - t_now, inv_m, inv_s, n_pow)
        if not _surely_below(a, b, dm, ds, thr, inv_m, inv_s):
            break
        i = afferents[e]
        w = weights[0, i]
        a = a * dm
        b = b * ds
        a += kn * w
        b += kn_b * w
        t_now = t_next
        if plastic:
            weights[0, i], x[0, i], x_t[0, i], y[0, i], y_t[0, i] = stdp_on_pre(
                w, x[0, i], x_t[0, i], y[0, i], y_t[0, i], t_now, rule)
        e += 1
    return e, a, b, t_now


@njit
def _first_crossing(a, b, lo, hi, thr, tau_m, tau_s):  # pragma: no cover - compiled
    """Earliest ``s`` in ``[lo, hi]`` with ``u(s) >= thr`` (state given at ``s = 0``), else -1."""
    u_lo = _u_at(a, b, lo, tau_m, tau_s)
    if u_lo >= thr:
        return lo
    u_hi = _u_at(a, b, hi, tau_m, tau_s)
    top = hi
    if u_hi < thr:
        # an interior maximum? u'(s) = -A(s)/tau_m + B(s)/tau_s changes sign from + to -
        d_lo = -a * math.exp(-lo / tau_m) / tau_m + b * math.exp(-lo / tau_s) / tau_s
        d_hi = -a * math.exp(-hi / tau_m) / tau_m + b * math.exp(-hi / tau_s) / tau_s
        if not (d_lo > 0.0 and d_hi < 0.0):
            return -1.0
        ratio = (b * tau_m) / (a * tau_s)
        s_star = math.log(ratio) / (1.0 / tau_s - 1.0 / tau_m)
        if s_star <= lo or s_star >= hi or _u_at(a, b, s_star, tau_m, tau_s) < thr:
            return -1.0
        top = s_star
    left, right = lo, top  # u(left) < thr <= u(right)
    for _ in range(200):
        mid = 0.5 * (left + right)
        if mid <= left or mid >= right:
            break
        if _u_at(a, b, mid, tau_m, tau_s) >= thr:
            right = mid
        else:
            left = mid
    return right


@njit
def _run_core(times, afferents, offset, t_end, weights, a, b, last_post, x, x_t, y, y_t,
              t_now, srm, rule, plastic, inh_a, inh_b, record_times,
              snapshot_times):  # pragma: no cover - compiled
    tau_m, tau_s, thr, k1, k2, t_ref, kn = srm[0], srm[1], srm[2], srm[3], srm[4], srm[5], srm[6]
    # LIF mode (srm[7] = 0 there): inputs jump A only and are ignored while refractory
    kn_b, lif = srm[7], srm[8] != 0.0
    n_k, n_aff = weights.shape
    n_in = times.shape[0]
    inv_m, inv_s = 1.0 / tau_m, 1.0 / tau_s
    ratio = tau_m / tau_s
    n_pow = int(ratio) if ratio == math.floor(ratio) and ratio <= 8.0 else 0
    out_t = np.empty(64)
    out_k = np.empty(64, np.int64)
    n_out = 0
    rec = np.empty((record_times.shape[0], n_k))
    ri = 0
    snaps = np.empty((snapshot_times.shape[0], n_k, n_aff))
    si = 0
    t_free = -np.inf  # no neuron is refractory from this time on
    for k in range(n_k):
        t_free = max(t_free, last_post[k] + t_ref)
    e = 0
    while e <= n_in:
        if n_k == 1 and e < n_in and t_now > t_free:
            t_limit = t_end
            if ri < record_times.shape[0]:
                t_limit = min(t_limit, record_times[ri])
            if si < snapshot_times.shape[0]:
                t_limit = min(t_limit, snapshot_times[si])
            e, a[0], b[0], t_now = _quiet_single(
                times, afferents, e, n_in, offset, t_now, t_limit, a[0], b[0], weights, x,
                x_t, y, y_t, rule, plastic, thr, inv_m, inv_s, n_pow, kn, kn_b)
        t_next = offset + times[e] if e < n_in else t_end
        while e < n_in and si < snapshot_times.shape[0] and snapshot_times[si] <= t_next:
            snaps[si] = weights
            si += 1
        # advance from t_now to t_next, firing wherever a neuron crosses threshold
        while True:
            span = t_next - t_now
            dm_span, ds_span = _decays(span, inv_m, inv_s, n_pow)
            best_k = -1
            best_s = span
            for k in range(n_k):
                lo = max(last_post[k] + t_ref - t_now, 0.0)
                if lo > best_s:
                    continue
                if lo == 0.0 and best_s == span and _surely_below(
                        a[k], b[k], dm_span, ds_span, thr, inv_m, inv_s):
                    continue  # no crossing in this interval
                s = _first_crossing(a[k], b[k], lo, best_s, thr, tau_m, tau_s)
                if s >= 0.0 and (best_k < 0 or s < best_s):
                    best_k = k
                    best_s = s
            t_stop = t_now + best_s if best_k >= 0 else t_next
            while ri < record_times.shape[0] and record_times[ri] < t_stop:
                for k in range(n_k):
                    rec[ri, k] = _u_at(a[k], b[k], record_times[ri] - t_now, tau_m, tau_s)
                ri += 1
            if best_k < 0:
                dm, ds = dm_span, ds_span
            else:
                dm, ds = _decays(t_stop - t_now, inv_m, inv_s, n_pow)
            for k in range(n_k):
                a[k] *= dm
                b[k] *= ds
            t_now = t_stop
            if best_k < 0:
                break
            k = best_k
            if n_out == out_t.shape[0]:
                out_t, out_k = grow(out_t, n_out), grow(out_k, n_out)
            out_t[n_out] = t_now
            out_k[n_out] = k
            n_out += 1
            a[k] = thr * (k1 - k2)
            b[k] = -thr * k2
            last_post[k] = t_now
            t_free = max(t_free, t_now + t_ref)
            if plastic:
                for i in range(n_aff):
                    weights[k, i], x[k, i], x_t[k, i], y[k, i], y_t[k, i] = stdp_on_post(
                        weights[k, i], x[k, i], x_t[k, i], y[k, i], y_t[k, i], t_now, rule)
            if inh_a != 0.0 or inh_b != 0.0:
                for j in range(n_k):
                    if j != k:
                        a[j] -= inh_a
                        b[j] -= inh_b
        if e == n_in:
            break
        i = afferents[e]
        for k in range(n_k):
            w = weights[k, i]
            if not (lif and t_now <= last_post[k] + t_ref):
                a[k] += kn * w
                b[k] += kn_b * w
            if plastic:
                weights[k, i], x[k, i], x_t[k, i], y[k, i], y_t[k, i] = stdp_on_pre(
                    w, x[k, i], x_t[k, i], y[k, i], y_t[k, i], t_now, rule)
        e += 1
    while si < snapshot_times.shape[0]:
        snaps[si] = weights
        si += 1
    return out_t[:n_out], out_k[:n_out], rec, snaps


def srm_array(p: SRMParams) -> np.ndarray:
    return np.array([p.tau_m_ms, p.tau_s_ms, p.threshold, p.k1, p.k2, p.t_ref_ms, p.epsp_norm,
                     p.epsp_norm, 0.0])


def lif_array(p: LIFParams) -> np.ndarray:
    """The LIF with instantaneous synapses in the engine's terms: ``u = V - E_L = A`` (no
    fast component), an input jumps ``A`` by its weight (mV), a spike resets ``A`` to 0."""
    return np.array([p.tau_m_ms, 0.25 * p.tau_m_ms, p.v_th_mv - p.e_l_mv, 0.0, 0.0,
                     p.t_ref_ms, 1.0, 0.0, 1.0])


def run_srm_network(
    trains: SpikeTrains,
    state: SRMNetworkState,
    srm: SRMParams | None = None,
    stdp: STDPParams | None = None,
    inhibition: float = 0.0,
    offset_ms: float | None = None,
    ipsp: str = "epsp",
    record_times_ms: np.ndarray | None = None,
    snapshot_times_ms: np.ndarray | None = None,
) -> EventDrivenRun:
    """Present ``trains`` (shifted by ``offset_ms``, default the state's time) to the neurons.

    Args:
        stdp: the plasticity rule; ``None`` keeps the weights fixed.
        inhibition: ``alpha``; each output spike lowers the other neurons' potential by an
            IPSP of peak ``alpha * threshold``.
        ipsp: its shape: ``"epsp"`` (the EPSP kernel: rises over ~4.6 ms, then decays) or
            ``"step"`` (an immediate drop that decays with ``tau_m``).
        record_times_ms: sorted absolute times at which to record every neuron's potential.
        snapshot_times_ms: sorted absolute times at which to copy the weights.

    Only the record and snapshot times inside this block, ``[state time, offset + duration)``,
    are served. Returns an :class:`EventDrivenRun` whose state refers to the block's end
    (the input state is not changed).
    Kernels are not truncated (``SRMParams.cut_taus`` is ignored: the exact sums are used).
    """
    srm = SRMParams() if srm is None else srm
    check_refractory(srm)
    alpha = check_number("inhibition", inhibition, NON_NEGATIVE)
    return _run(trains, state, srm_array(srm), stdp, _ipsp_coefficients(alpha, ipsp, srm),
                offset_ms, record_times_ms, snapshot_times_ms)


PROGRESS_MS = 1000.0  # simulated time between two progress reports of present_repeated


def _chunk_bounds(times: np.ndarray, every_ms: float) -> list[int]:
    """Indices that cut ``times`` about every ``every_ms``, each at a spike whose time is
    above its predecessor's (so a piece ends exactly where the next spike arrives)."""
    if times.size == 0 or times[-1] < every_ms:
        return [0, int(times.size)]
    cuts = np.searchsorted(times, np.arange(every_ms, times[-1], every_ms), side="left")
    bounds = [0]
    for c in cuts.tolist():
        while 0 < c < times.size and times[c] == times[c - 1]:
            c += 1
        if bounds[-1] < c < times.size:
            bounds.append(c)
    return [*bounds, int(times.size)]


def _run(trains: SpikeTrains, state: SRMNetworkState, neuron: np.ndarray,
         stdp: STDPParams | None, ipsp: tuple[float, float], offset_ms: float | None,
         record_times_ms: np.ndarray | None, snapshot_times_ms: np.ndarray | None,
         progress: Callable[[float], None] | None = None) -> EventDrivenRun:
    """The engine over ``trains``. With ``progress`` (and no snapshots) the spikes are
    presented in pieces of about :data:`PROGRESS_MS`, each ending exactly at the time of
    the next piece's first spike, and ``progress(simulated ms so far)`` is called after each:
    the arithmetic is that of one call (an advance to the next spike's time, then that spike).
    """
    offset = state.t_ms if offset_ms is None else check_number("offset_ms", offset_ms)
    if offset < state.t_ms:
        raise fail("offset_ms", offset, f"at least the state's time, {state.t_ms:g} ms "
                   "(input cannot arrive in the past)")
    if state.weights.shape[1] != trains.n_afferents:
        raise fail("trains", f"SpikeTrains of {trains.n_afferents} afferents",
                   f"{state.weights.shape[1]} afferents, like the state's weights")
    end = offset + trains.duration_ms
    rec = _times_in("record_times_ms", record_times_ms, state.t_ms, end)
    snaps = _times_in("snapshot_times_ms", snapshot_times_ms, state.t_ms, end)
    new = state.copy()
    rule = (stdp or STDPParams()).as_array()
    times, aff = trains.times_ms, trains.afferents
    bounds = _chunk_bounds(times, PROGRESS_MS) if progress is not None and not snaps.size \
        else [0, int(times.size)]
    pieces = []
    t_now = state.t_ms
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        t_stop = offset + times[hi] if hi < times.size else end
        pieces.append(_run_core(
            times[lo:hi], aff[lo:hi], offset, t_stop, new.weights, new.a, new.b,
            new.last_post_ms, new.pre_trace, new.pre_trace_ms, new.post_trace,
            new.post_trace_ms, t_now, neuron, rule, stdp is not None, *ipsp,
            rec[(rec >= t_now) & (rec < t_stop)] if len(bounds) > 2 else rec, snaps))
        t_now = t_stop
        if progress is not None:
            progress(t_stop - state.t_ms)
    if len(pieces) == 1:
        out_t, out_k, u, w_snaps = pieces[0]
    else:
        out_t = np.concatenate([p[0] for p in pieces])
        out_k = np.concatenate([p[1] for p in pieces])
        u = np.concatenate([p[2] for p in pieces])
        w_snaps = pieces[-1][3]
    return EventDrivenRun(replace(new, t_ms=end), out_t, out_k, u, w_snaps)


def run_lif_network(
    trains: SpikeTrains,
    state: SRMNetworkState,
    lif: LIFParams | None = None,
    stdp: STDPParams | None = None,
    inhibition: float = 0.0,
    offset_ms: float | None = None,
    record_times_ms: np.ndarray | None = None,
    snapshot_times_ms: np.ndarray | None = None,
) -> EventDrivenRun:
    """:func:`run_srm_network` for leaky integrate-and-fire neurons with instantaneous
    synapses (the model of :func:`spikewave.neurons.lif.simulate_lif_exact`)::

        tau_m dV/dt = E_L - V,   an input spike of weight w (mV): V -> V + w,
        V >= V_th: spike, V -> V_reset = E_L, inputs ignored for t_ref (until t_ref included)

    Exact: between inputs V only decays, so a spike falls on the input that crosses the
    threshold. The weights (``state.weights``) are jumps in mV, STDP (same rules, bounds in
    mV) and lateral inhibition (an immediate drop of ``inhibition x (V_th - E_L)``, decaying
    with ``tau_m``) as in the SRM engine; the recorded potential is ``V - E_L``.
    """
    lif = LIFParams() if lif is None else lif
    if lif.v_reset_mv != lif.e_l_mv:
        raise fail("v_reset_mv", lif.v_reset_mv, f"equal to e_l_mv = {lif.e_l_mv:g} mV in the "
                   "event-driven network engine (reset to rest)", "LIFParams")
    alpha = check_number("inhibition", inhibition, NON_NEGATIVE)
    return _run(trains, state, lif_array(lif), stdp, (alpha * (lif.v_th_mv - lif.e_l_mv), 0.0),
                offset_ms, record_times_ms, snapshot_times_ms)


IPSP_SHAPES = ("epsp", "step")


def _ipsp_coefficients(alpha: float, ipsp: str, srm: SRMParams) -> tuple[float, float]:
    """How an output spike changes the other neurons' ``(A, B)``."""
    check_choice("ipsp", ipsp, IPSP_SHAPES)
    if ipsp == "epsp":  # the EPSP kernel scaled to a peak of alpha * T: rises, then decays
        return alpha * srm.threshold * srm.epsp_norm, alpha * srm.threshold * srm.epsp_norm
    return alpha * srm.threshold, 0.0  # an immediate drop of alpha * T, decaying with tau_m


def check_refractory(srm: SRMParams) -> None:
    """The after-potential must be below threshold when the refractory period ends."""
    eta_end = (srm.k1 * math.exp(-srm.t_ref_ms / srm.tau_m_ms) - srm.k2 * (
        math.exp(-srm.t_ref_ms / srm.tau_m_ms) - math.exp(-srm.t_ref_ms / srm.tau_s_ms)))
    if srm.t_ref_ms <= 0 or eta_end >= 1.0:
        raise fail("t_ref_ms", srm.t_ref_ms, "long enough that the after-potential eta has "
                   f"fallen below threshold when it ends (eta(t_ref) = {eta_end:.3g} T)",
                   "SRMParams")


def _times_in(name: str, values: np.ndarray | None, start: float, stop: float) -> np.ndarray:
    """The sorted times of ``values`` that fall in ``[start, stop)``."""
    if values is None:
        return np.empty(0)
    arr = check_array(name, values, ndim=1)
    if np.any(np.diff(arr) < 0):
        raise fail(name, "an unsorted array", "sorted in increasing order")
    return np.ascontiguousarray(arr[(arr >= start) & (arr < stop)])


def present_repeated(block: SpikeTrains, duration_ms: float, state: SRMNetworkState,
                     srm: SRMParams | None = None, stdp: STDPParams | None = None,
                     inhibition: float = 0.0, record_times_ms: np.ndarray | None = None,
                     ipsp: str = "epsp", progress: Callable[[float], None] | None = None
                     ) -> EventDrivenRun:
    """Present ``block`` again and again (the last time cut short) for ``duration_ms``.

    The paper's 450 s runs are one 150 s block presented three times. Returns one
    :class:`EventDrivenRun` covering the whole duration (no weight snapshots).
    ``progress``, when given, is called about every simulated second with the simulated
    milliseconds done so far (for a progress bar in simulated time); the result is the same.
    """
    duration = check_number("duration_ms", duration_ms, POSITIVE)
    spikes, neurons, recorded = [], [], []
    offset = state_start = state.t_ms
    end = offset + duration
    while offset < end - 1e-9:
        length = min(block.duration_ms, end - offset)
        part = block if length >= block.duration_ms else block.window(0.0, length)
        done = offset - state_start
        report = None if progress is None else (lambda ms, done=done: progress(done + ms))
        srm_p = SRMParams() if srm is None else srm
        check_refractory(srm_p)
        alpha = check_number("inhibition", inhibition, NON_NEGATIVE)
        run = _run(part, state, srm_array(srm_p), stdp, _ipsp_coefficients(alpha, ipsp, srm_p),
                   offset, record_times_ms, None, report)
        state = run.state
        spikes.append(run.spike_times_ms)
        neurons.append(run.spike_neurons)
        recorded.append(run.recorded_u)
        offset += length
    n_k = state.weights.shape[0]
    return EventDrivenRun(state, np.concatenate(spikes), np.concatenate(neurons),
                          np.concatenate(recorded) if recorded else np.empty((0, n_k)),
                          np.empty((0, n_k, state.weights.shape[1])))


def repeat_times(times_ms: np.ndarray, block_ms: float, duration_ms: float) -> np.ndarray:
    """Times of events of one block, repeated every ``block_ms`` over ``duration_ms``."""
    n = int(np.ceil(duration_ms / block_ms))
    out = (np.asarray(times_ms)[None, :] + block_ms * np.arange(n)[:, None]).ravel()
    return out[out < duration_ms]
