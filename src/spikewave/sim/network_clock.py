"""Clock-driven engine for :class:`~spikewave.sim.network.Network`: exact integration of the
linear subthreshold dynamics over each step, in the order of Brian2's schedule.

Step ``g`` (time ``t = g dt``) does what Brian2's ``groups``, ``thresholds``,
``synapses`` and ``resets`` slots do:

1. ``not_refractory = (g - last_spike_step) >= floor(t_ref / dt + 1e-3)`` (Brian2's
   ``timestep``); ``v`` advances by the exact propagator of
   :func:`~spikewave.sim.network.exact_propagators` if not refractory, the currents always;
2. ``v > V_th`` and not refractory: a spike at ``t``, ``v = V_reset``;
3. the inputs due at step ``g`` are delivered: a spike of step ``g'`` reaches a synapse of
   delay ``d`` steps (rounded to the nearest, as Brian2's spike queue) at ``g' + d``. An
   input jumps its current, or ``v`` unless the neuron is refractory or has just fired
   (Brian2 writes it before the reset, which overwrites it). Under one delay for every
   synapse the list of spikes of step ``g - d`` is the queue; otherwise each synapse is
   queued in a ring of ``d + 1`` rows of synapse indices (Brian2's ``SpikeQueue``), as
   are plastic synapses, which run the STDP rule's presynaptic update on arrival and
   deliver their weight of that moment; the postsynaptic updates of the neurons that
   fired at ``t`` follow;
4. the Poisson drive adds ``k w`` to each neuron, ``k ~ Binomial(n_inputs, rate dt)``
   (Brian2's ``PoissonInput``), drawn by inversion of its CDF (tabulated until the tail
   is below 1e-16) from the project's xoshiro256+ stream.

Steps 1-2 run over blocks of 256 neurons in a branch-free pass that LLVM vectorises; only
a block that holds a spike is scanned again. Every delivery is written out where it
happens: a compiled helper taking the state arrays would cost a reference-count update per
array per input, more than the input itself.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from spikewave._numba import njit
from spikewave._validation import POSITIVE, check_number, fail
from spikewave.plasticity.stdp import STDPParams, stdp_on_post, stdp_on_pre
from spikewave.sim.fastrng import seed_state, xoshiro_uniform
from spikewave.sim.network import (
    PORTS,
    Network,
    NetworkRun,
    NetworkState,
    exact_propagators,
)
from spikewave.sim.spiketrains import RandomLike, as_generator

_LONG_AGO = -(2**30)  # last spike step, relative to the run's start: long ago or never


def refractory_steps(t_ref_ms: float, dt_ms: float) -> int:
    """Brian2's ``timestep(t_ref, dt)``: ``floor(t_ref / dt + 1e-3)``."""
    return int(math.floor(t_ref_ms / dt_ms + 1e-3))


def delay_steps(delay_ms: np.ndarray, dt_ms: float) -> np.ndarray:
    """Delays in steps, rounded to the nearest (halves up), as Brian2's spike queue."""
    return np.floor(np.asarray(delay_ms) / dt_ms + 0.5).astype(np.int64)


def binomial_cdf(n: int, p: float, tail: float = 1e-16) -> np.ndarray:
    """``P(K <= k)`` for ``K ~ Binomial(n, p)``, ``k = 0, 1, ...`` until the probability of
    the rest is below ``tail`` (the last entry is set to 1).

    Past the mode the terms fall by at least ``q = (n - k) p / ((k + 1)(1 - p))`` each, so
    the rest after ``P(K = k)`` is at most ``P(K = k) q / (1 - q)``."""
    if p <= 0.0 or n == 0:
        return np.ones(1)
    if p >= 1.0:
        out = np.zeros(n + 1)
        out[-1] = 1.0
        return out
    log_pk = n * math.log1p(-p)  # log P(K = 0)
    ratio = p / (1.0 - p)
    cdf, total = [], 0.0
    for k in range(n + 1):
        pk = math.exp(log_pk)
        total += pk
        cdf.append(min(total, 1.0))
        if k == n:
            break
        q = (n - k) / (k + 1) * ratio
        if q < 1.0 and pk * q / (1.0 - q) < tail:
            break
        log_pk += math.log(q)
    cdf[-1] = 1.0
    return np.array(cdf)


@njit
def _clock_core(n_steps, step0, prm, ref, indptr, post, dest, w_static, row_dest, row_w,
                delay0, dly, v, ie,
                ii, last, plastic, w_plastic, x, x_t, y, y_t, rule, dt, in_ptr, in_syn,
                hist_step, hist_k, sq, sq_n, cdf, drive_dest, drive_w, rng, rec_idx,
                rec_every, rec):  # pragma: no cover - compiled
    e_l, v_th, v_reset = prm[0], prm[1], prm[2]
    a_m, p_e, p_i, d_e, d_i = prm[3], prm[4], prm[5], prm[6], prm[7]
    ref_in = max(ref, 1)
    n = v.shape[0]
    n_rows = sq.shape[0]
    has_plastic = plastic.shape[0] > 0
    queued = dly.shape[0] > 0  # heterogeneous delays: every synapse goes through the queue
    has_drive = cdf.shape[0] > 1
    n_cdf = cdf.shape[0]
    s0, s1, s2, s3 = rng[0], rng[1], rng[2], rng[3]
    # the spikes of this run (and, before them, those of earlier steps still in flight
    # under a homogeneous delay: hist_step/hist_k), and where each step's spikes start
    n_hist = hist_k.shape[0]
    out_step = np.empty(n_hist + 1024, np.int64)
    out_k = np.empty(n_hist + 1024, np.int32)
    out_step[:n_hist] = hist_step
    out_k[:n_hist] = hist_k
    n_out = n_hist
    first = np.full(n_rows, -1, np.int64)  # ring: index of the first spike of step s
    count_of = np.zeros(n_rows, np.int64)
    for e in range(n_hist):
        r = hist_step[e] % n_rows
        if count_of[r] == 0:
            first[r] = e
        count_of[r] += 1
    syn_events = 0
    ext_events = 0
    spiked = np.empty(n, np.int32)
    nb = (n + 255) // 256
    for step in range(n_steps):
        g = step0 + step
        if rec_every > 0 and step % rec_every == 0:
            r = step // rec_every
            for j in range(rec_idx.shape[0]):
                rec[r, j] = v[rec_idx[j]]
        n_spk = 0
        for b in range(nb):
            # the exact update of a block of neurons, branch-free so that LLVM vectorises
            # it (b0 = 256 b with b >= 0: the indices are known not to wrap)
            b0 = b * 256
            m = min(256, n - b0)
            count = 0
            for k in range(m):
                i = b0 + k
                vv = v[i]
                ge = ie[i]
                gi = ii[i]
                free = (step - last[i]) >= ref
                moved = e_l + (vv - e_l) * a_m + ge * p_e + gi * p_i
                vv = moved if free else vv
                v[i] = vv
                ie[i] = ge * d_e
                ii[i] = gi * d_i
                count += (vv > v_th) & free
            if count > 0:  # threshold and reset
                for k in range(m):
                    i = b0 + k
                    if v[i] > v_th and (step - last[i]) >= ref:
                        v[i] = v_reset
                        last[i] = step
                        spiked[n_spk] = i
                        n_spk += 1
        row_now = g % n_rows
        if out_step.shape[0] < n_out + n_spk:
            bigger = max(2 * out_step.shape[0], n_out + n_spk)
            out_step2 = np.empty(bigger, np.int64)
            out_k2 = np.empty(bigger, np.int32)
            out_step2[:n_out] = out_step[:n_out]
            out_k2[:n_out] = out_k[:n_out]
            out_step, out_k = out_step2, out_k2
        first[row_now] = n_out
        count_of[row_now] = n_spk
        for q in range(n_spk):
            i = spiked[q]
            out_step[n_out] = g
            out_k[n_out] = i
            n_out += 1
            syn_events += indptr[i + 1] - indptr[i]
            if queued or has_plastic:
                for s in range(indptr[i], indptr[i + 1]):
                    if queued or plastic[s]:
                        r = (g + (dly[s] if queued else delay0)) % n_rows
                        if sq_n[r] == sq.shape[1]:
                            wider = np.empty((n_rows, 2 * sq.shape[1]), np.int64)
                            wider[:, :sq.shape[1]] = sq
                            sq = wider
                        sq[r, sq_n[r]] = s
                        sq_n[r] += 1
        # deliveries of this step: spikes of step g - delay through the static synapses of a
        # homogeneous delay (the spike list is the queue) ...
        if not queued:
            r = (g - delay0) % n_rows
            if count_of[r] > 0 and out_step[first[r]] == g - delay0:
                for e in range(first[r], first[r] + count_of[r]):
                    i = out_k[e]
                    if row_dest[i] >= 0:  # one weight and port for the row: post only
                        w = row_w[i]
                        if row_dest[i] == 1:
                            for s in range(indptr[i], indptr[i + 1]):
                                ie[post[s]] += w
                        elif row_dest[i] == 2:
                            for s in range(indptr[i], indptr[i + 1]):
                                ii[post[s]] += w
                        else:
                            for s in range(indptr[i], indptr[i + 1]):
                                j = post[s]
                                if step - last[j] >= ref_in:
                                    v[j] += w
                        continue
                    for s in range(indptr[i], indptr[i + 1]):
                        if has_plastic and plastic[s]:
                            continue
                        j, w = post[s], w_static[s]
                        if dest[s] == 1:
                            ie[j] += w
                        elif dest[s] == 2:
                            ii[j] += w
                        elif step - last[j] >= ref_in:
                            v[j] += w
        # ... and the queue (heterogeneous delays, plastic synapses: STDP on arrival)
        t = g * dt
        for q in range(sq_n[row_now]):
            s = sq[row_now, q]
            if has_plastic and plastic[s]:
                w_plastic[s], x[s], x_t[s], y[s], y_t[s] = stdp_on_pre(
                    w_plastic[s], x[s], x_t[s], y[s], y_t[s], t, rule)
                w = w_plastic[s]
            else:
                w = w_static[s]
            j = post[s]
            if dest[s] == 1:
                ie[j] += w
            elif dest[s] == 2:
                ii[j] += w
            elif step - last[j] >= ref_in:
                v[j] += w
        sq_n[row_now] = 0
        if has_plastic:
            for q in range(n_spk):
                j = spiked[q]
                for e in range(in_ptr[j], in_ptr[j + 1]):
                    s = in_syn[e]
                    w_plastic[s], x[s], x_t[s], y[s], y_t[s] = stdp_on_post(
                        w_plastic[s], x[s], x_t[s], y[s], y_t[s], t, rule)
        if has_drive:
            for i in range(n):
                u, s0, s1, s2, s3 = xoshiro_uniform(s0, s1, s2, s3)
                k = 0
                while k < n_cdf - 1 and u >= cdf[k]:
                    k += 1
                if k > 0:
                    ext_events += k
                    if drive_dest == 1:
                        ie[i] += k * drive_w
                    elif drive_dest == 2:
                        ii[i] += k * drive_w
                    elif step - last[i] >= ref_in:
                        v[i] += k * drive_w
    rng[0], rng[1], rng[2], rng[3] = s0, s1, s2, s3
    return out_step[n_hist:n_out], out_k[n_hist:n_out], syn_events, ext_events, sq


@njit
def _queue_recent(steps, neurons, step0, indptr, dly, delay0, plastic, sq, sq_n
                  ):  # pragma: no cover - compiled
    """Queue the synapses of spikes from before the run that are still in flight."""
    n_rows = sq.shape[0]
    queued = dly.shape[0] > 0
    for e in range(steps.shape[0]):
        g, i = steps[e], neurons[e]
        for s in range(indptr[i], indptr[i + 1]):
            if queued or plastic[s]:
                arrival = g + (dly[s] if queued else delay0)
                if arrival >= step0:
                    r = arrival % n_rows
                    if sq_n[r] == sq.shape[1]:
                        wider = np.empty((n_rows, 2 * sq.shape[1]), np.int64)
                        wider[:, :sq.shape[1]] = sq
                        sq = wider
                    sq[r, sq_n[r]] = s
                    sq_n[r] += 1
    return sq


def run_clock(network: Network, state: NetworkState, duration_ms: float, dt_ms: float = 0.1,
              rng: RandomLike = None, record_neurons=None, record_every_ms: float | None = None
              ) -> NetworkRun:
    """Run ``network`` from ``state`` for ``duration_ms`` in steps of ``dt_ms``.

    ``state.t_ms`` and ``duration_ms`` must be whole numbers of steps. ``rng`` seeds the
    Poisson drive. ``record_neurons`` (indices) have their potential recorded at the start
    of every ``record_every_ms`` (default: every step). Returns a
    :class:`~spikewave.sim.network.NetworkRun` (``simulation_s`` is the compiled loop's
    wall time).
    """
    dt = check_number("dt_ms", dt_ms, POSITIVE)
    duration = check_number("duration_ms", duration_ms, POSITIVE)
    state.check_against(network)
    n_steps = _whole_steps("duration_ms", duration, dt)
    step0 = _whole_steps("state.t_ms", state.t_ms, dt, allow_zero=True)
    n = network.n_neurons
    nrn = network.neuron
    prm = np.array([nrn.e_l_mv, nrn.v_th_mv, nrn.v_reset_mv, *exact_propagators(nrn, dt),
                    1.0 if nrn.tau_exc_ms > 0 else 0.0, 1.0 if nrn.tau_inh_ms > 0 else 0.0])
    steps = delay_steps(network.delay_ms, dt)
    max_delay = int(steps.max()) if steps.size else 0
    homogeneous = steps.size == 0 or int(steps.min()) == max_delay
    n_rows = max_delay + 1
    dly = np.empty(0, np.int64) if homogeneous else steps
    new = state.copy()
    plastic = network.plastic if network.stdp is not None else np.zeros(0, bool)
    # spikes from before the run whose inputs are still in flight
    recent_steps = np.floor(new.recent_spike_ms / dt + 0.5).astype(np.int64)
    keep = recent_steps >= step0 - max_delay
    recent_steps, recent_k = recent_steps[keep], new.recent_spike_neurons[keep].astype(np.int32)
    sq = np.zeros((n_rows, 64), np.int64)
    sq_n = np.zeros(n_rows, np.int64)
    sq = _queue_recent(recent_steps, recent_k, step0, network.indptr, dly, max_delay,
                       plastic if plastic.size else np.zeros(network.n_synapses, bool),
                       sq, sq_n)
    hist = recent_steps >= step0 - max_delay if homogeneous else np.zeros(keep.sum(), bool)
    in_ptr, in_syn = network.incoming_plastic()
    rule = (network.stdp or STDPParams()).as_array()
    cdf, drive_port, drive_w = _drive_table(network, dt)
    dest = network.destinations()
    row_dest, row_w = _uniform_rows(network, dest, plastic)
    rng_state = seed_state(as_generator(rng))
    rec_idx, rec_every, rec = _record_plan(record_neurons, record_every_ms, n, n_steps, dt)
    # last spike steps relative to the run's start, int32 (half the memory traffic of the
    # update pass); any spike more than 2^30 steps ago is as good as never
    if n_steps >= 2**30:
        raise fail("duration_ms", duration, f"fewer than 2^30 steps of {dt:g} ms (run it "
                   "in blocks)")
    finite = np.isfinite(new.last_spike_ms)
    last = np.full(n, _LONG_AGO, np.int32)
    rel = np.floor(new.last_spike_ms[finite] / dt + 0.5) - step0
    last[finite] = np.maximum(rel, _LONG_AGO).astype(np.int32)
    start = time.perf_counter()
    out_step, out_k, syn_events, ext_events, sq = _clock_core(
        n_steps, step0, prm, refractory_steps(nrn.t_ref_ms, dt), network.indptr,
        network.post, dest, network.weight_mv, row_dest, row_w, max_delay, dly, new.v_mv,
        new.i_exc_mv, new.i_inh_mv, last, plastic, new.weights_mv, new.pre_trace,
        new.pre_trace_ms, new.post_trace, new.post_trace_ms, rule, dt, in_ptr, in_syn,
        recent_steps[hist], recent_k[hist], sq, sq_n, cdf,
        int(network.destinations(np.array([drive_port]))[0]), drive_w, rng_state,
        rec_idx, rec_every, rec)
    elapsed = time.perf_counter() - start
    end_step = step0 + n_steps
    all_steps = np.concatenate([recent_steps, out_step])
    all_k = np.concatenate([recent_k, out_k])
    still = all_steps >= end_step - max_delay
    last_ms = np.where(last >= 0, (last.astype(np.int64) + step0) * dt, new.last_spike_ms)
    final = replace(new, last_spike_ms=last_ms, recent_spike_ms=all_steps[still] * dt,
                    recent_spike_neurons=all_k[still], t_ms=end_step * dt)
    rec_times = (step0 + np.arange(rec.shape[0]) * max(rec_every, 1)) * dt
    return NetworkRun(final, out_step * dt, out_k, rec_times, rec, int(syn_events),
                      int(ext_events), elapsed)


def _uniform_rows(network: Network, dest: np.ndarray, plastic: np.ndarray):
    """Per presynaptic neuron, its synapses' one destination and weight when they share
    them and none is plastic (then a spike reads only the targets), else -1."""
    n = network.n_neurons
    row_dest = np.full(n, -1, np.int8)
    row_w = np.zeros(n)
    counts = np.diff(network.indptr)
    full = counts > 0
    if not full.any():
        return row_dest, row_w
    starts = network.indptr[:-1][full]
    w, d = network.weight_mv, dest.astype(np.int64)
    same = (np.maximum.reduceat(w, starts) == np.minimum.reduceat(w, starts)) & (
        np.maximum.reduceat(d, starts) == np.minimum.reduceat(d, starts))
    if plastic.size:
        same &= ~np.logical_or.reduceat(plastic, starts)
    rows = np.flatnonzero(full)[same]
    row_dest[rows] = d[starts[same]]
    row_w[rows] = w[starts[same]]
    return row_dest, row_w


def _drive_table(network: Network, dt: float):
    """The Poisson drive's CDF table, port and weight (a one-entry table: no drive)."""
    drive = network.drive
    if drive is None or drive.n_inputs == 0 or drive.rate_hz == 0:
        return np.ones(1), 0, 0.0
    p = drive.rate_hz * dt / 1000.0
    if p > 1.0:
        raise fail("dt_ms", dt, f"short enough that rate_hz * dt <= 1 ({drive.rate_hz:g} Hz)",
                   "PoissonDrive")
    return binomial_cdf(int(drive.n_inputs), p), PORTS[drive.port], drive.weight_mv


def _whole_steps(name: str, value: float, dt: float, allow_zero: bool = False) -> int:
    steps = round(value / dt)
    if abs(steps * dt - value) > 1e-6 * dt or (steps == 0 and not allow_zero):
        raise fail(name, value, f"a whole number of steps of dt = {dt:g} ms")
    return int(steps)


def _record_plan(record_neurons, record_every_ms, n: int, n_steps: int, dt: float):
    if record_neurons is None:
        return np.empty(0, np.int64), 0, np.empty((0, 0))
    idx = np.asarray(record_neurons, dtype=np.int64).ravel()
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise fail("record_neurons", f"indices in [{idx.min()}, {idx.max()}]",
                   f"indices in [0, {n})")
    every = 1 if record_every_ms is None else _whole_steps(
        "record_every_ms", check_number("record_every_ms", record_every_ms, POSITIVE), dt)
    count = (n_steps + every - 1) // every
    return idx, every, np.empty((count, idx.size))


__all__ = ["binomial_cdf", "delay_steps", "refractory_steps", "run_clock"]
