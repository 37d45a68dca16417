"""Exact event-driven engine for :class:`~spikewave.sim.network.Network`.

Nothing is computed between events. Each neuron carries its state ``(v, I_exc, I_inh)`` at
the time of its last event, which the closed-form solution advances to any later time; its
next threshold crossing, assuming no further input, is found exactly
(:func:`~spikewave.sim.exp_crossing.first_crossing`) and kept in a priority queue with a
version stamp, so that a prediction made stale by a new input is skipped when it comes up.
The queue holds, ordered by time (then first in, first out):

- the predicted spike of each neuron;
- the deliveries of each spike: one entry per (spike, delay), which delivers every synapse
  of that delay at once (a row's synapses are visited in order of delay), then queues the
  next delay of the row;
- the next input of the Poisson drive: the drives of all neurons together are one Poisson
  process of rate ``N n_inputs rate``, each event going to a neuron drawn uniformly;
- the times at which the potentials are recorded.

A spike at ``t`` resets ``v`` and clamps it until ``t + t_ref``; inputs to ``v`` arriving
before then are lost, the currents go on (as in the clock-driven engine). Spike times,
delays and the drive's input times are exact (continuous); a spike's zero-delay inputs
arrive at its own time, after it. The cost is per event (a prediction after every input:
a few exponentials, or a few dozen with the bisections when a crossing is near), so the
engine pays where activity is sparse; the exponential ports need ``tau_exc, tau_inh !=
tau_m``.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from spikewave._numba import njit
from spikewave._validation import POSITIVE, check_array, check_number, fail
from spikewave.plasticity.stdp import STDPParams, stdp_on_post, stdp_on_pre
from spikewave.sim.exp_crossing import first_crossing
from spikewave.sim.fastrng import seed_state, xoshiro_uniform
from spikewave.sim.network import PORTS, Network, NetworkRun, NetworkState
from spikewave.sim.spiketrains import RandomLike, as_generator

_SPIKE, _DELIVER, _DRIVE, _RECORD = 0, 1, 2, 3
_COLS = 6  # time, sequence, kind, index, spike time (deliveries) or version, pre neuron


@njit
def _push(heap, size, seq, t, kind, index, extra, pre):  # pragma: no cover - compiled
    """Insert into the binary heap ``heap[:size]`` ordered by (time, sequence); returns the
    heap (a larger copy when it was full)."""
    if size == heap.shape[0]:
        bigger = np.empty((2 * heap.shape[0], _COLS))
        bigger[:size] = heap[:size]
        heap = bigger
    k = size
    while k > 0:
        parent = (k - 1) // 2
        if heap[parent, 0] < t or (heap[parent, 0] == t and heap[parent, 1] < seq):
            break
        heap[k] = heap[parent]
        k = parent
    heap[k, 0], heap[k, 1], heap[k, 2] = t, seq, kind
    heap[k, 3], heap[k, 4], heap[k, 5] = index, extra, pre
    return heap


@njit
def _pop(heap, size, top):  # pragma: no cover - compiled
    """Remove the earliest entry of ``heap[:size]`` into ``top``."""
    for q in range(_COLS):
        top[q] = heap[0, q]
    size -= 1
    t_last, seq_last = heap[size, 0], heap[size, 1]
    k = 0
    while True:
        child = 2 * k + 1
        if child >= size:
            break
        if child + 1 < size and (heap[child + 1, 0] < heap[child, 0] or (
                heap[child + 1, 0] == heap[child, 0] and heap[child + 1, 1] < heap[child, 1])):
            child += 1
        if t_last < heap[child, 0] or (t_last == heap[child, 0] and seq_last < heap[child, 1]):
            break
        for q in range(_COLS):
            heap[k, q] = heap[child, q]
        k = child
    if size > 0 and k != size:
        for q in range(_COLS):
            heap[k, q] = heap[size, q]


@njit
def _advance(j, t, st, prm):  # pragma: no cover - compiled
    """Move neuron ``j``'s state (``st[j] = v, I_exc, I_inh, t_state, ref_end``) to ``t``."""
    t0 = st[j, 3]
    if t <= t0:
        return
    inv_m, inv_e, inv_i, k_e, k_i, e_l = prm[3], prm[4], prm[5], prm[6], prm[7], prm[0]
    ref_end = st[j, 4]
    if ref_end > t0:  # clamped: only the currents move until the end of the period
        tr = min(ref_end, t)
        st[j, 1] *= math.exp(-(tr - t0) * inv_e)
        st[j, 2] *= math.exp(-(tr - t0) * inv_i)
        t0 = tr
    if t > t0:
        s = t - t0
        em = math.exp(-s * inv_m)
        ee = math.exp(-s * inv_e)
        ei = math.exp(-s * inv_i)
        u = st[j, 0] - e_l
        u = u * em + st[j, 1] * k_e * (ee - em) + st[j, 2] * k_i * (ei - em)
        st[j, 0] = e_l + u
        st[j, 1] *= ee
        st[j, 2] *= ei
    st[j, 3] = t


@njit
def _v_at(j, t, st, prm):  # pragma: no cover - compiled
    """Neuron ``j``'s potential at ``t`` (its state unchanged)."""
    saved = st[j].copy()
    _advance(j, t, st, prm)
    v = st[j, 0]
    st[j] = saved
    return v


@njit
def _predict(j, st, prm):  # pragma: no cover - compiled
    """The time of neuron ``j``'s next threshold crossing without further input (inf: none)."""
    saved = st[j].copy()
    t0 = max(st[j, 3], st[j, 4])
    _advance(j, t0, st, prm)
    e_l, v_th = prm[0], prm[1]
    inv_m, inv_e, inv_i, k_e, k_i = prm[3], prm[4], prm[5], prm[6], prm[7]
    b = st[j, 1] * k_e
    c = st[j, 2] * k_i
    a = st[j, 0] - e_l - b - c
    rate_c = inv_i
    if inv_e == inv_i:  # one current time constant: one term
        b += c
        c = 0.0
    s = first_crossing(a, b, c, inv_m, inv_e, rate_c, v_th - e_l)
    st[j] = saved
    return t0 + s


@njit
def _event_core(t_start, t_end, st, prm, indptr, perm, post, dest, w_static, delay, plastic,
                w_plastic, x, x_t, y, y_t, rule, in_ptr, in_syn, recent_t, recent_k,
                drive_rate, drive_dest, drive_w, rng, record_t, rec_idx, rec
                ):  # pragma: no cover - compiled
    n = st.shape[0]
    v_reset, t_ref = prm[2], prm[8]
    has_plastic = plastic.shape[0] > 0
    heap = np.empty((max(1024, 4 * n), _COLS))
    size = 0
    seq = 0.0
    version = np.zeros(n)
    last = np.full(n, -np.inf)
    s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]
    out_t = np.empty(1024)
    out_k = np.empty(1024, np.int32)
    n_out = 0
    syn_events = 0
    ext_events = 0
    top = np.empty(_COLS)
    # in flight from before: the first synapse of each recent spike not yet delivered
    for e in range(recent_t.shape[0]):
        i, ts = recent_k[e], recent_t[e]
        p = indptr[i]
        while p < indptr[i + 1] and ts + delay[perm[p]] < t_start:
            p += 1
        if p < indptr[i + 1]:
            heap = _push(heap, size, seq, ts + delay[perm[p]], _DELIVER, p, ts, i)
            size += 1
            seq += 1.0
    for r in range(record_t.shape[0]):
        heap = _push(heap, size, seq, record_t[r], _RECORD, r, 0.0, 0)
        size += 1
        seq += 1.0
    if drive_rate > 0.0:
        u, s0, s1, s2, s3 = xoshiro_uniform(s0, s1, s2, s3)
        heap = _push(heap, size, seq, t_start - math.log1p(-u) / drive_rate, _DRIVE, 0, 0.0, 0)
        size += 1
        seq += 1.0
    for j in range(n):
        t_hit = _predict(j, st, prm)
        if t_hit < t_end:
            heap = _push(heap, size, seq, t_hit, _SPIKE, j, version[j], 0)
            size += 1
            seq += 1.0
    while size > 0:
        if heap[0, 0] >= t_end:
            break
        _pop(heap, size, top)
        size -= 1
        t, kind, index = top[0], int(top[2]), int(top[3])
        touched = -1  # a neuron whose prediction must be renewed
        if kind == _SPIKE:
            j = index
            if top[4] != version[j]:
                continue  # stale: the neuron received input since
            _advance(j, t, st, prm)
            if n_out == out_t.shape[0]:
                out_t2 = np.empty(2 * n_out)
                out_k2 = np.empty(2 * n_out, np.int32)
                out_t2[:n_out] = out_t
                out_k2[:n_out] = out_k
                out_t, out_k = out_t2, out_k2
            out_t[n_out] = t
            out_k[n_out] = j
            n_out += 1
            st[j, 0] = v_reset
            st[j, 4] = t + t_ref
            last[j] = t
            syn_events += indptr[j + 1] - indptr[j]
            if has_plastic:
                for e in range(in_ptr[j], in_ptr[j + 1]):
                    s = in_syn[e]
                    w_plastic[s], x[s], x_t[s], y[s], y_t[s] = stdp_on_post(
                        w_plastic[s], x[s], x_t[s], y[s], y_t[s], t, rule)
            if indptr[j + 1] > indptr[j]:
                p = indptr[j]
                heap = _push(heap, size, seq, t + delay[perm[p]], _DELIVER, p, t, j)
                size += 1
                seq += 1.0
            touched = j
        elif kind == _DELIVER:
            i, ts = int(top[5]), top[4]
            p = index
            d = delay[perm[p]]
            while p < indptr[i + 1] and delay[perm[p]] == d:
                s = perm[p]
                j = post[s]
                _advance(j, t, st, prm)
                if has_plastic and plastic[s]:
                    w_plastic[s], x[s], x_t[s], y[s], y_t[s] = stdp_on_pre(
                        w_plastic[s], x[s], x_t[s], y[s], y_t[s], t, rule)
                    w = w_plastic[s]
                else:
                    w = w_static[s]
                if dest[s] == 1:
                    st[j, 1] += w
                elif dest[s] == 2:
                    st[j, 2] += w
                elif t >= st[j, 4] and t > last[j]:
                    st[j, 0] += w
                version[j] += 1.0
                t_hit = _predict(j, st, prm)
                if t_hit < t_end:
                    heap = _push(heap, size, seq, t_hit, _SPIKE, j, version[j], 0)
                    size += 1
                    seq += 1.0
                p += 1
            if p < indptr[i + 1]:
                heap = _push(heap, size, seq, ts + delay[perm[p]], _DELIVER, p, ts, i)
                size += 1
                seq += 1.0
        elif kind == _DRIVE:
            u, s0, s1, s2, s3 = xoshiro_uniform(s0, s1, s2, s3)
            j = min(int(u * n), n - 1)
            _advance(j, t, st, prm)
            if drive_dest == 1:
                st[j, 1] += drive_w
            elif drive_dest == 2:
                st[j, 2] += drive_w
            elif t >= st[j, 4] and t > last[j]:
                st[j, 0] += drive_w
            ext_events += 1
            touched = j
            u, s0, s1, s2, s3 = xoshiro_uniform(s0, s1, s2, s3)
            heap = _push(heap, size, seq, t - math.log1p(-u) / drive_rate, _DRIVE, 0, 0.0, 0)
            size += 1
            seq += 1.0
        else:
            for q in range(rec_idx.shape[0]):
                rec[index, q] = _v_at(rec_idx[q], t, st, prm)
        if touched >= 0:
            version[touched] += 1.0
            t_hit = _predict(touched, st, prm)
            if t_hit < t_end:
                heap = _push(heap, size, seq, t_hit, _SPIKE, touched, version[touched], 0)
                size += 1
                seq += 1.0
    for j in range(n):
        _advance(j, t_end, st, prm)
    rng[0], rng[1], rng[2], rng[3] = s0, s1, s2, s3
    return out_t[:n_out], out_k[:n_out], syn_events, ext_events, last


def run_event(network: Network, state: NetworkState, duration_ms: float,
              rng: RandomLike = None, record_neurons=None, record_times_ms=None
              ) -> NetworkRun:
    """Run ``network`` exactly from ``state`` for ``duration_ms``.

    ``rng`` seeds the Poisson drive; ``record_neurons`` have their potential recorded at
    ``record_times_ms`` (absolute, inside the run). Returns a
    :class:`~spikewave.sim.network.NetworkRun`.
    """
    duration = check_number("duration_ms", duration_ms, POSITIVE)
    state.check_against(network)
    nrn = network.neuron
    for name, tau in (("tau_exc_ms", nrn.tau_exc_ms), ("tau_inh_ms", nrn.tau_inh_ms)):
        if tau == nrn.tau_m_ms:
            raise fail(name, tau, f"different from tau_m_ms = {nrn.tau_m_ms:g} in the "
                       "event-driven engine (or 0: instantaneous)", "NeuronParams")
    t0 = state.t_ms
    t_end = t0 + duration
    n = network.n_neurons
    inv = [1.0 / nrn.tau_m_ms] + [1.0 / tau if tau > 0 else 0.0
                                   for tau in (nrn.tau_exc_ms, nrn.tau_inh_ms)]
    k = [tau / (tau - nrn.tau_m_ms) if tau > 0 else 0.0
         for tau in (nrn.tau_exc_ms, nrn.tau_inh_ms)]
    prm = np.array([nrn.e_l_mv, nrn.v_th_mv, nrn.v_reset_mv, *inv, *k, nrn.t_ref_ms])
    new = state.copy()
    st = np.empty((n, 5))
    st[:, 0], st[:, 1], st[:, 2] = new.v_mv, new.i_exc_mv, new.i_inh_mv
    st[:, 3] = t0
    st[:, 4] = new.last_spike_ms + nrn.t_ref_ms
    perm = _by_delay(network)
    plastic = network.plastic if network.stdp is not None else np.zeros(0, bool)
    in_ptr, in_syn = network.incoming_plastic()
    rule = (network.stdp or STDPParams()).as_array()
    dest = network.destinations()
    drive = network.drive
    drive_rate = 0.0 if drive is None else n * drive.total_rate_per_ms
    drive_dest = 0 if drive is None else int(network.destinations(
        np.array([PORTS[drive.port]]))[0])
    drive_w = 0.0 if drive is None else drive.weight_mv
    rec_idx = (np.empty(0, np.int64) if record_neurons is None
               else np.asarray(record_neurons, np.int64).ravel())
    if rec_idx.size and (rec_idx.min() < 0 or rec_idx.max() >= n):
        raise fail("record_neurons", f"indices in [{rec_idx.min()}, {rec_idx.max()}]",
                   f"indices in [0, {n})")
    rec_t = np.empty(0) if record_times_ms is None or not rec_idx.size else check_array(
        "record_times_ms", record_times_ms, ndim=1)
    if rec_t.size and (np.any(np.diff(rec_t) < 0) or rec_t[0] < t0 or rec_t[-1] >= t_end):
        raise fail("record_times_ms", "times outside the run or unsorted",
                   f"sorted times in [{t0:g}, {t_end:g})")
    rec = np.empty((rec_t.size, rec_idx.size))
    max_delay = float(network.delay_ms.max()) if network.n_synapses else 0.0
    recent = new.recent_spike_ms + max_delay >= t0
    recent_t = np.ascontiguousarray(new.recent_spike_ms[recent])
    recent_k = np.ascontiguousarray(new.recent_spike_neurons[recent].astype(np.int64))
    rng_state = seed_state(as_generator(rng))
    start = time.perf_counter()
    out_t, out_k, syn_events, ext_events, last = _event_core(
        t0, t_end, st, prm, network.indptr, perm, network.post, dest, network.weight_mv,
        network.delay_ms, plastic, new.weights_mv, new.pre_trace, new.pre_trace_ms,
        new.post_trace, new.post_trace_ms, rule, in_ptr, in_syn, recent_t, recent_k,
        drive_rate, drive_dest, drive_w, rng_state, rec_t, rec_idx, rec)
    elapsed = time.perf_counter() - start
    fired = np.isfinite(last)
    last_ms = np.where(fired, last, new.last_spike_ms)
    all_t = np.concatenate([recent_t, out_t])
    all_k = np.concatenate([recent_k.astype(np.int32), out_k])
    still = all_t + max_delay >= t_end
    final = replace(new, v_mv=st[:, 0].copy(), i_exc_mv=st[:, 1].copy(),
                    i_inh_mv=st[:, 2].copy(), last_spike_ms=last_ms,
                    recent_spike_ms=all_t[still], recent_spike_neurons=all_k[still],
                    t_ms=t_end)
    return NetworkRun(final, out_t, out_k, rec_t, rec, int(syn_events), int(ext_events),
                      elapsed)


def _by_delay(network: Network) -> np.ndarray:
    """Each row's synapses in order of delay (stable): the order deliveries are made in."""
    m = network.n_synapses
    if m == 0 or network.delay_ms.min() == network.delay_ms.max():
        return np.arange(m, dtype=np.int64)
    return np.lexsort((network.delay_ms, network.pre)).astype(np.int64)


__all__ = ["run_event"]
