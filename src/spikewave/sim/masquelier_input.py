"""The input of Masquelier, Guyonneau & Thorpe 2008: a repeating pattern hidden in noise.

Built as in the authors' code (docs/references.md section 1.1):

1. Each afferent fires as an inhomogeneous Poisson process whose rate ``r`` (0-90 Hz)
   drifts: every 1 ms step, ``r += s dt`` (clipped to [0, 90] Hz) and the speed ``s``
   gets a uniform increment in ``[-s_max/5, s_max/5]`` (clipped to ``+-s_max``,
   ``s_max = 90 Hz / 50 ms``); an afferent silent for 50 ms fires at the next step (a
   virtual spike at ``-U(0, 50) ms`` seeds this rule). A spike is placed uniformly in its step.
2. Time is cut in 50 ms slots; a fraction ``pattern_freq`` of slots, never two in a row,
   hold the pattern (with ``n_patterns > 1``, Masquelier et al. 2009, the slots are
   shared out evenly among the patterns, each on its own random set of afferents).
   The pattern is what the pattern afferents (the first ``pattern_fraction`` of them)
   did in the first pattern slot; in every pattern slot their own spikes are replaced
   by a copy of it, each spike jittered by ``N(0, jitter_ms)`` drawn anew. Optionally a
   fraction of the copied spikes is deleted and replaced by as many uniformly placed
   spikes of the same afferents (``spike_deletion``).
3. Independent 10 Hz Poisson noise is added to every afferent (pattern copies included).

One block (150 s by default) is generated; the experiment presents it repeatedly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spikewave._numba import njit
from spikewave._validation import NON_NEGATIVE, POSITIVE, Interval, Params, fail, param
from spikewave.sim.fastrng import seed_state, xoshiro_uniform
from spikewave.sim.keysort import sort_keys
from spikewave.sim.spiketrains import (
    SORT_SCALE,
    RandomLike,
    SpikeTrains,
    as_generator,
    key_time,
    sort_spikes,
    spike_key,
)


@dataclass(frozen=True)
class PatternInputParams(Params):
    """Statistics of the input (defaults: the paper's)."""

    n_afferents: float = param(2000, Interval(1, 1e7, "both"), "number of afferents")
    pattern_fraction: float = param(0.5, Interval(0.0, 1.0, "right"),
                                    "fraction of afferents taking part in the pattern")
    pattern_freq: float = param(0.25, Interval(0.0, 0.5, "right"),
                                "fraction of 50 ms slots holding the pattern (<= 0.5)")
    pattern_ms: float = param(50.0, POSITIVE, "pattern duration = slot length (ms)")
    jitter_ms: float = param(1.0, NON_NEGATIVE, "SD of the Gaussian jitter of copies (ms)")
    spike_deletion: float = param(0.0, Interval(0.0, 1.0, "left"),
                                  "fraction of pattern spikes deleted at each copy")
    max_rate_hz: float = param(90.0, POSITIVE, "maximal rate of the drifting process (Hz)")
    max_silence_ms: float = param(50.0, POSITIVE, "an afferent silent this long fires")
    noise_rate_hz: float = param(10.0, NON_NEGATIVE, "additional Poisson noise (Hz)")
    step_ms: float = param(1.0, POSITIVE, "step of the rate process (ms)")
    n_patterns: float = param(1, Interval(1, 1000, "both"),
                              "number of distinct patterns sharing the pattern slots")
    block_s: float = param(150.0, POSITIVE, "duration of the generated block (s)")

    def _check_consistency(self) -> None:
        for name in ("n_afferents", "n_patterns"):
            if getattr(self, name) != int(getattr(self, name)):
                raise fail(name, getattr(self, name), "an integer", "PatternInputParams")
        if int(self.n_slots * self.pattern_freq) < self.n_patterns:
            raise fail("n_patterns", self.n_patterns, "at most the number of pattern slots",
                       "PatternInputParams")
        if self.n_pattern < 1:
            raise fail("pattern_fraction", self.pattern_fraction,
                       "large enough that at least one afferent is in the pattern",
                       "PatternInputParams")
        if self.n_slots < 3:
            raise fail("block_s", self.block_s, "at least 3 pattern slots long",
                       "PatternInputParams")

    @property
    def n_pattern(self) -> int:
        return int(round(self.pattern_fraction * self.n_afferents))

    @property
    def n_slots(self) -> int:
        return int(self.block_s * 1000.0 / self.pattern_ms)


@dataclass(frozen=True)
class PatternInput:
    """One block of input: the spikes, which of them are pattern copies, and where.

    ``pattern_onsets_ms`` are the starts of the pattern slots and ``pattern_ids`` which
    pattern each presents. Pattern 0 uses afferents ``0 .. n_pattern - 1`` (any other
    pattern a random set of the same size, ``pattern_members``);
    ``pattern_times_ms``/``pattern_afferents`` are pattern 0 (times relative to the slot
    start), ``patterns`` lists every pattern.
    """

    trains: SpikeTrains
    is_pattern_spike: np.ndarray
    pattern_onsets_ms: np.ndarray
    n_pattern: int
    pattern_times_ms: np.ndarray
    pattern_afferents: np.ndarray
    params: PatternInputParams
    pattern_ids: np.ndarray | None = None       # which pattern each onset presents
    pattern_members: np.ndarray | None = None   # [n_patterns, n_afferents] membership
    patterns: list | None = None                # (times_ms, afferents) of every pattern


@njit
def _drifting_train(n_steps, dt_ms, max_rate, max_silence, max_speed, s0, s1, s2, s3,
                    buf):  # pragma: no cover - compiled
    """One afferent's spike times (ms) into ``buf``; returns ``(count, rng state)``."""
    dt_s = dt_ms / 1000.0
    u, s0, s1, s2, s3 = xoshiro_uniform(s0, s1, s2, s3)
    last = -u * max_silence  # a virtual spike before 0 seeds the 50 ms rule
    u, s0, s1, s2, s3 = xoshiro_uniform(s0, s1, s2, s3)
    rate = u * max_rate
    u, s0, s1, s2, s3 = xoshiro_uniform(s0, s1, s2, s3)
    speed = (2.0 * u - 1.0) * max_speed
    increment = 0.2 * max_speed
    k = 0
    for step in range(1, n_steps + 1):
        t = step * dt_ms
        u, s0, s1, s2, s3 = xoshiro_uniform(s0, s1, s2, s3)
        if u < dt_s * rate or t - last > max_silence:
            u, s0, s1, s2, s3 = xoshiro_uniform(s0, s1, s2, s3)
            last = t - dt_ms * u
            buf[k] = last
            k += 1
        rate += speed * dt_s
        u, s0, s1, s2, s3 = xoshiro_uniform(s0, s1, s2, s3)
        speed += increment * (2.0 * u - 1.0)
        speed = min(max(speed, -max_speed), max_speed)
        rate = min(max(rate, 0.0), max_rate)
    return k, s0, s1, s2, s3


@njit
def _drifting_trains(n_aff, n_steps, dt_ms, max_rate, max_silence, max_speed,
                     state):  # pragma: no cover - compiled
    """Afferent-major spike times of the drifting-rate processes (rates in Hz, times in ms).

    Each afferent is generated into a scratch buffer first, so that the hot loop has no
    capacity checks; ``state`` (xoshiro256+) is advanced in place.
    """
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    buf = np.empty(n_steps)
    counts = np.empty(n_aff, np.int64)
    chunks = []
    for i in range(n_aff):
        k, s0, s1, s2, s3 = _drifting_train(n_steps, dt_ms, max_rate, max_silence, max_speed,
                                            s0, s1, s2, s3, buf)
        chunks.append(buf[:k].copy())
        counts[i] = k
    times = np.empty(counts.sum())
    aff = np.empty(counts.sum(), np.int32)
    pos = 0
    for i in range(n_aff):
        times[pos:pos + counts[i]] = chunks[i]
        aff[pos:pos + counts[i]] = i
        pos += counts[i]
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return times, aff


@njit
def _slot_of(t, slot_ms, n_slots):  # pragma: no cover - compiled
    """``min(t // slot_ms, n_slots - 1)`` for a time ``t >= 0``. Python's floor division is
    exact (it goes through ``fmod``, ~15 ns); for an integer ``slot_ms`` the rounded
    quotient, corrected by one exact product, gives the same integer several times faster
    (the test on ``slot_ms`` is loop-invariant: the compiler hoists it)."""
    if slot_ms == math.floor(slot_ms) and slot_ms < 2.0**20 and t < 2.0**32:
        q = math.floor(t / slot_ms)
        if q * slot_ms > t:  # the quotient was rounded up to the next integer
            q -= 1.0
        return min(int(q), n_slots - 1)
    return min(int(t // slot_ms), n_slots - 1)


@njit
def _slot_index(times, slot_ms, n_slots):  # pragma: no cover - compiled
    """:func:`_slot_of` of every time."""
    out = np.empty(times.shape[0], np.int64)
    for i in range(times.shape[0]):
        out[i] = _slot_of(times[i], slot_ms, n_slots)
    return out


@njit
def _first_slot_spikes(times, aff, slot, slot_ms, n_slots, member):  # pragma: no cover
    """Indices of the spikes of the ``member`` afferents in slot ``slot``: what a
    pattern's afferents did in its first slot (the pattern itself)."""
    start = slot * slot_ms
    n = 0
    for i in range(times.shape[0]):  # a cheap pre-test on the time, then the exact slot
        if times[i] >= start and member[aff[i]]:
            n += _slot_of(times[i], slot_ms, n_slots) == slot
    out = np.empty(n, np.int64)
    j = 0
    for i in range(times.shape[0]):
        if times[i] >= start and member[aff[i]]:
            if _slot_of(times[i], slot_ms, n_slots) == slot:
                out[j] = i
                j += 1
    return out


@njit
def _outside_own_pattern(slot_of, aff, slot_pattern, members):  # pragma: no cover - compiled
    """False for the spikes that a pattern copy replaces (own afferent, own pattern slot)."""
    keep = np.empty(slot_of.shape[0], np.bool_)
    for i in range(slot_of.shape[0]):
        q = slot_pattern[slot_of[i]]
        keep[i] = q < 0 or not members[q, aff[i]]
    return keep


@njit
def _pack_block_keys(times, aff, slot_ms, n_slots, slot_pattern, members, copy_times, copy_aff,
                     noise_times, noise_aff, n_aff, aff_bits, scale):  # pragma: no cover
    """The packed sort keys of :func:`~spikewave.sim.spiketrains.sort_spikes` (time in
    units of ``1/scale`` ms, then afferent) of the drift spikes that no pattern copy
    replaces (those of a pattern's afferents in that pattern's slots), the pattern copies
    (afferent + ``n_aff``) and the noise, written straight into one array."""
    keys = np.empty(times.shape[0] + copy_times.shape[0] + noise_times.shape[0], np.int64)
    j = 0
    for i in range(times.shape[0]):
        q = slot_pattern[_slot_of(times[i], slot_ms, n_slots)]
        if q < 0 or not members[q, aff[i]]:
            keys[j] = spike_key(times[i], aff[i], aff_bits, scale)
            j += 1
    for i in range(copy_times.shape[0]):
        keys[j] = spike_key(copy_times[i], copy_aff[i] + n_aff, aff_bits, scale)
        j += 1
    for i in range(noise_times.shape[0]):
        keys[j] = spike_key(noise_times[i], noise_aff[i], aff_bits, scale)
        j += 1
    return keys[:j]


@njit
def _unpack_block_keys(keys, n_aff, aff_bits, scale):  # pragma: no cover - compiled
    """Times, afferents (offset removed) and the pattern-copy flags of sorted keys."""
    times = np.empty(keys.shape[0])
    aff = np.empty(keys.shape[0], np.int32)
    is_copy = np.empty(keys.shape[0], np.bool_)
    mask = (np.int64(1) << aff_bits) - 1
    for i in range(keys.shape[0]):
        times[i] = key_time(keys[i], aff_bits, scale)
        a = keys[i] & mask
        is_copy[i] = a >= n_aff
        aff[i] = a - n_aff if a >= n_aff else a
    return times, aff, is_copy


def pattern_slots(n_slots: int, freq: float, rng: np.random.Generator) -> np.ndarray:
    """``floor(n_slots * freq)`` slot indices, sorted, never two consecutive."""
    n_target = int(np.floor(n_slots * freq + 1e-9))
    if freq >= 0.5:  # the only way to place that many: every other slot
        return np.arange(int(rng.integers(0, 2)), n_slots, 2)[:n_target]
    chosen = np.zeros(n_slots + 2, bool)  # padded so neighbours always exist
    count = 0
    while count < n_target:
        for s in rng.integers(0, n_slots, 4 * (n_target - count)) + 1:
            if not (chosen[s] or chosen[s - 1] or chosen[s + 1]):
                chosen[s] = True
                count += 1
                if count == n_target:
                    break
    return np.flatnonzero(chosen[1:-1])


def make_pattern_input(p: PatternInputParams | None = None,
                       rng: RandomLike = None) -> PatternInput:
    """Generate one block of the paper's input (see the module docstring)."""
    p = PatternInputParams() if p is None else p
    gen = as_generator(rng)
    n_aff, n_pat = int(p.n_afferents), p.n_pattern
    block_ms = p.block_s * 1000.0
    n_steps = int(round(block_ms / p.step_ms))
    max_speed = p.max_rate_hz / (p.max_silence_ms / 1000.0)
    times, aff = _drifting_trains(n_aff, n_steps, p.step_ms, p.max_rate_hz, p.max_silence_ms,
                                  max_speed, seed_state(gen))  # all times >= 0

    slots = pattern_slots(p.n_slots, p.pattern_freq, gen)
    n_pats = int(p.n_patterns)
    slot_pattern = np.full(p.n_slots, -1)
    slot_pattern[slots] = gen.permutation(np.arange(slots.size) % n_pats)
    members = np.zeros((n_pats, n_aff), bool)
    members[0, :n_pat] = True  # pattern 0 uses afferents 0 .. n_pattern-1 (easy to plot)
    for q in range(1, n_pats):
        members[q, gen.choice(n_aff, n_pat, replace=False)] = True
    copies_t, copies_a, refs = [], [], []
    for q in range(n_pats):
        q_slots = slots[slot_pattern[slots] == q]
        ref = _first_slot_spikes(times, aff, q_slots[0], p.pattern_ms, p.n_slots, members[q])
        ref_times = times[ref] - q_slots[0] * p.pattern_ms
        ref_aff = aff[ref]
        refs.append((ref_times, ref_aff))
        q_onsets = q_slots * p.pattern_ms
        n_ref = ref_times.size
        copy_times = np.tile(ref_times, q_slots.size) + np.repeat(q_onsets, n_ref)
        if p.spike_deletion > 0:
            deleted = gen.random(copy_times.size) < p.spike_deletion
            copy_times[deleted] = (np.repeat(q_onsets, n_ref)[deleted]
                                   + gen.uniform(0.0, p.pattern_ms, deleted.sum()))
        copies_t.append(copy_times)
        copies_a.append(np.tile(ref_aff, q_slots.size))
    copy_times = np.concatenate(copies_t)
    copy_aff = np.concatenate(copies_a)
    if p.jitter_ms > 0:
        copy_times = copy_times + gen.normal(0.0, p.jitter_ms, copy_times.size)
    copy_times = np.clip(copy_times, 0.0, np.nextafter(block_ms, 0.0))
    onsets = slots * p.pattern_ms

    noise_counts = gen.poisson(p.noise_rate_hz * p.block_s, n_aff)
    noise_times = gen.uniform(0.0, block_ms, noise_counts.sum())
    noise_aff = np.repeat(np.arange(n_aff, dtype=np.int32), noise_counts)

    # mark pattern copies by an afferent offset that survives the sort, then strip it
    aff_bits = max(1, int(2 * n_aff - 1).bit_length())
    if block_ms * SORT_SCALE * 2.0**aff_bits < 2.0**62:  # sort_spikes' packed keys, fused
        keys = _pack_block_keys(times, aff, p.pattern_ms, p.n_slots, slot_pattern, members,
                                copy_times, copy_aff, noise_times, noise_aff, n_aff, aff_bits,
                                SORT_SCALE)
        # radix (spikewave.sim.keysort): about half the time of NumPy's timsort, which
        # itself beat quicksort by merging the 2000 per-afferent ascending runs
        keys = sort_keys(keys)
        sorted_times, sorted_aff, is_copy = _unpack_block_keys(keys, n_aff, aff_bits,
                                                               SORT_SCALE)
    else:
        keep = _outside_own_pattern(_slot_index(times, p.pattern_ms, p.n_slots), aff,
                                    slot_pattern, members)
        all_times = np.concatenate([times[keep], copy_times, noise_times])
        all_aff = np.concatenate([aff[keep], copy_aff, noise_aff]).astype(np.int64)
        n_keep = int(keep.sum())
        all_aff[n_keep:n_keep + copy_times.size] += n_aff
        sorted_times, sorted_aff = sort_spikes(all_times, all_aff, 2 * n_aff)
        is_copy = sorted_aff >= n_aff
        sorted_aff[is_copy] -= n_aff
    trains = SpikeTrains(sorted_times, sorted_aff, n_aff, block_ms)
    return PatternInput(trains, is_copy, onsets.astype(float), n_pat, refs[0][0], refs[0][1],
                        p, slot_pattern[slots], members, refs)
