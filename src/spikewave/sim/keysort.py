"""Sorting of large arrays of non-negative ``int64`` keys by radix, for spike-train keys.

The packed spike keys of :func:`~spikewave.sim.spiketrains.sort_spikes` (time in units of
2^-20 ms, then afferent) span about 50 bits over a 150 s block. :func:`sort_keys` sorts
them in two stages:

1. one counting pass on the top ``TOP_BITS`` bits of ``key - min``: at most 2^TOP_BITS
   buckets, so the write fronts of the scatter stay in cache however the keys are ordered;
2. inside each bucket (a few thousand keys, in cache), a second counting pass on the next
   ``SUB_BITS`` bits into a scratch, which leaves sub-buckets of a few keys each, put in
   order by insertion sort; a sub-bucket that still holds more than ``SMALL_BUCKET`` keys
   (keys crowded in a narrow range) is sorted by a least-significant-digit radix sort on
   ``DIGIT_BITS`` bits at a time, so no input makes it quadratic.

The result is exactly ``np.sort(keys)``: equal keys are equal values, so stability does
not matter. Which sort is fastest depends on the machine: on the 19 M keys of a Masquelier
input block, on an AVX2-only 2-core AMD EPYC, this one took 0.78-0.90 s (1.20-1.36 s with
four LSD passes inside the buckets in place of the second counting pass), NumPy's default
sort (with its SIMD quicksort) 1.16-1.34 s and its timsort 1.75-2.31 s; an earlier machine
with AVX-512 sorted them with NumPy's default in 0.60 s (against 1.06-1.36 s for an LSD
radix sort), and on another NumPy's timsort beat its default sort (0.9 s against 1.5 s).
This one costs about the same everywhere, as it uses no SIMD sort.
"""

from __future__ import annotations

import numpy as np

from spikewave._numba import njit

TOP_BITS = 11        # bucket bits of the first pass
SUB_BITS = 12        # sub-bucket bits of the second pass, inside a bucket
DIGIT_BITS = 10      # bits per LSD pass inside a crowded sub-bucket
SMALL_BUCKET = 64    # (sub-)buckets up to this size: insertion sort
MIN_RADIX_KEYS = 1 << 16  # below this NumPy's sort is as fast


@njit
def _lsd_radix(a, tmp, base, n_bits, digit_bits):  # pragma: no cover - compiled
    """Sort ``a`` in place, every value ``v`` with ``0 <= v - base < 2**n_bits``, by
    least-significant-digit passes of ``digit_bits`` bits through the scratch ``tmp``."""
    n = a.shape[0]
    radix = 1 << digit_bits
    mask = radix - 1
    n_pass = (n_bits + digit_bits - 1) // digit_bits
    src = a
    dst = tmp[:n]
    count = np.empty(radix, np.int64)
    for p in range(n_pass):
        shift = p * digit_bits
        count[:] = 0
        for i in range(n):
            count[((src[i] - base) >> shift) & mask] += 1
        total = 0
        for b in range(radix):
            c = count[b]
            count[b] = total
            total += c
        for i in range(n):
            v = src[i]
            b = ((v - base) >> shift) & mask
            dst[count[b]] = v
            count[b] += 1
        src, dst = dst, src
    if n_pass % 2 == 1:  # the sorted keys ended in the scratch
        a[:] = src


@njit
def _insertion_sort(a):  # pragma: no cover - compiled
    for i in range(1, a.shape[0]):
        v = a[i]
        j = i - 1
        while j >= 0 and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v


@njit
def _scatter_by_digit(src, dst, base, shift, n_buckets):  # pragma: no cover - compiled
    """One counting pass: ``src`` into ``dst`` grouped by the bucket ``(v - base) >> shift``
    (every bucket ``< n_buckets``), in input order within a bucket; returns the
    ``n_buckets + 1`` bucket boundaries in ``dst``."""
    start = np.zeros(n_buckets + 1, np.int64)
    for i in range(src.shape[0]):
        start[((src[i] - base) >> shift) + 1] += 1
    for b in range(n_buckets):
        start[b + 1] += start[b]
    fill = start[:n_buckets].copy()
    for i in range(src.shape[0]):
        v = src[i]
        b = (v - base) >> shift
        dst[fill[b]] = v
        fill[b] += 1
    return start


@njit
def _sort_bucket(a, tmp, scratch, base, n_bits, sub_bits, digit_bits,
                 small):  # pragma: no cover - compiled
    """Sort ``a`` in place (every ``0 <= v - base < 2**n_bits``): a counting pass on the top
    ``sub_bits`` bits into ``tmp``, then each sub-bucket by insertion sort (at most
    ``small`` keys) or LSD radix through ``scratch``."""
    n = a.shape[0]
    low = max(n_bits - sub_bits, 0)
    start = _scatter_by_digit(a, tmp, base, low, ((a.max() - base) >> low) + 1)
    if low > 0:  # else every sub-bucket holds one value
        for s in range(start.shape[0] - 1):
            lo, hi = start[s], start[s + 1]
            if hi - lo > small:
                _lsd_radix(tmp[lo:hi], scratch, base + (s << low), low, digit_bits)
            elif hi - lo > 1:
                _insertion_sort(tmp[lo:hi])
    a[:] = tmp[:n]


@njit
def _bucket_radix_sort(keys, kmin, n_bits, top_bits, sub_bits, digit_bits,
                       small):  # pragma: no cover
    """Sorted copy of ``keys`` (all ``0 <= key - kmin < 2**n_bits``)."""
    low = max(n_bits - top_bits, 0)
    out = np.empty_like(keys)
    start = _scatter_by_digit(keys, out, kmin, low, ((keys.max() - kmin) >> low) + 1)
    largest = 0
    for b in range(start.shape[0] - 1):
        largest = max(largest, start[b + 1] - start[b])
    tmp = np.empty(largest, np.int64)
    scratch = np.empty(largest, np.int64)
    for b in range(start.shape[0] - 1):
        lo, hi = start[b], start[b + 1]
        if hi - lo > small:
            _sort_bucket(out[lo:hi], tmp, scratch, kmin + (b << low), low, sub_bits,
                         digit_bits, small)
        elif hi - lo > 1:
            _insertion_sort(out[lo:hi])
    return out


def sort_keys(keys: np.ndarray) -> np.ndarray:
    """A sorted copy of the ``int64`` array ``keys`` (equal to ``np.sort(keys)``)."""
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    if keys.size < MIN_RADIX_KEYS or keys.min() < 0:
        return np.sort(keys)
    kmin = int(keys.min())
    n_bits = int(keys.max() - kmin).bit_length()
    return _bucket_radix_sort(keys, np.int64(kmin), n_bits, TOP_BITS, SUB_BITS, DIGIT_BITS,
                              SMALL_BUCKET)
