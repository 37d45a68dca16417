"""The active inputs of binary spikes: one compiled pass over ``s[R, in]`` gives the CSR
``(ptr, idx)`` of its entries equal to 1 -- what the event-driven products sum over -- or
tells that the input is not binary, or denser than asked.
"""

from __future__ import annotations

import numpy as np
import torch

from spikewave._numba import grow, njit
from spikewave._validation import fail
from spikewave.kernels import _buffers as buffers
from spikewave.kernels._simd import (
    LANES,
    LEFT_PACK,
    compress_active,
)
from spikewave.kernels._threads import parallel_for, split_range


@njit
def _scan_active(bits, one, table, r0, r1, cap, counts, idx):  # pragma: no cover
    """One pass over rows r0..r1: the column indices of their active inputs appended to
    ``idx`` (grown as needed) and each row's count into ``counts``. Returns ``(idx, n,
    status)``: status 0 when done, 1 when a value is neither 0 nor 1 (``one``: the bits of
    1.0; -0.0 counts as 0), 2 when more than ``cap`` inputs are active (both stop the
    scan). ``bits`` are the rows' values seen as integers of the same width.

    Eight entries at a time by :func:`~spikewave.kernels._simd.compress_active` (``table``
    is its ``LEFT_PACK``): one vector comparison and one table lookup, no branch on the
    data."""
    n = 0
    width = bits.shape[1]
    magnitude = (1 << (8 * bits.itemsize - 1)) - 1  # every bit but the sign
    for r in range(r0, r1):
        row = bits[r]
        while idx.shape[0] - n < width + LANES:  # room for a whole row and one store
            idx = grow(idx, n)
        start = n
        bad = False
        i = 0
        while i + LANES <= width:
            found = compress_active(row, i, table, idx, n, one)
            n += found & 255
            bad |= found > 255
            i += LANES
        for k in range(i, width):
            v = row[k]
            nonzero = (v & magnitude) != 0
            bad |= nonzero & (v != one)
            idx[n] = k
            n += nonzero
        counts[r] = n - start
        if bad:
            return idx, n, 1
        if n > cap:
            return idx, n, 2
    return idx, n, 0


_SAME_WIDTH_INT = {4: np.int32, 8: np.int64}


EVENT_DTYPES = (torch.float32, torch.float64)  # the event-driven path's input types


_LAST_FOUND: dict[tuple[int, ...], int] = {}
# entries a part of the scan takes at least: a smaller input is scanned by the calling
# thread alone (handing a part to another thread costs more than scanning it)
SCAN_ENTRIES_PER_PART = 1 << 21


def active_inputs(spikes_2d: torch.Tensor, max_density: float = 1.0
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """CSR ``(ptr, idx)`` of the inputs equal to 1 in ``spikes_2d[R, in]``, in one compiled
    pass; None when a value is neither 0 nor 1 or more than ``max_density`` are active.
    float32 or float64 only (the compiled kernels' types)."""
    if spikes_2d.dtype not in EVENT_DTYPES:
        raise fail("spikes_2d", f"a {spikes_2d.dtype} tensor", "float32 or float64 spikes")
    x2 = spikes_2d.detach().contiguous().numpy()
    counts = np.empty(x2.shape[0], np.int64)
    rows_per_part = max(64, SCAN_ENTRIES_PER_PART // max(x2.shape[1], 1))
    parts = split_range(x2.shape[0], min_chunk=rows_per_part)
    int_type = _SAME_WIDTH_INT[x2.dtype.itemsize]
    bits = x2.view(int_type)
    one = np.array(1.0, x2.dtype).view(int_type)[()]
    limit = max_density * x2.size
    found: list[tuple[np.ndarray, int, int]] = [None] * len(parts)  # type: ignore[list-item]
    last = _LAST_FOUND.get(x2.shape, 0)  # entries found in the last input of this shape

    def scan(k: int) -> None:
        r0, r1 = parts[k]
        # room for this part's share of the last count and half as much again (the
        # kernel grows it when that is not enough); pooled, so that it is not faulted
        # in afresh at every call
        expected = last * (r1 - r0) // max(x2.shape[0], 1) * 3 // 2
        start = buffers.empty_prefix(max(expected, 1 << 12) + x2.shape[1] + LANES, np.int64)
        found[k] = _scan_active(bits, one, LEFT_PACK, r0, r1, limit, counts, start)

    parallel_for(scan, range(len(parts)))
    if any(status == 1 for _, _, status in found):
        return None
    total = sum(n for _, n, _ in found)
    if len(_LAST_FOUND) > 64:
        _LAST_FOUND.clear()
    _LAST_FOUND[x2.shape] = total
    if any(status == 2 for _, _, status in found) or (x2.size and total > limit):
        return None
    ptr = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    if len(found) == 1:  # one part: its array is the result
        return ptr, found[0][0][:total]
    idx = buffers.empty_prefix(total, np.int64)
    at = 0
    for part_idx, n, _ in found:
        idx[at:at + n] = part_idx[:n]
        at += n
    return ptr, idx
