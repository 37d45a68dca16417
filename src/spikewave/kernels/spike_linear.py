"""Event-driven dense layer for binary spike inputs: sums of weight rows forward, sums of
gradient rows for the weight gradient.

For spikes ``s[R, in]`` (0 or 1) the current ``s @ W.T + b`` is a sum of the weight columns
of the active inputs, and the weight gradient ``g.T @ s`` sums, for each input, the output
gradients of the rows where it was active (the active entries transposed to columns). Both
cost ``(active inputs) x out`` instead of ``R x in x out``: at 10 % input density, a tenth
of a dense product. The input gradient ``g @ W`` is dense and computed by the usual
product when the input needs one.

Weights are kept transposed (``W.T``, ``[in, out]``) so that each active input adds one
contiguous row; rows of the batch (forward) or inputs (weight gradient) are split over
threads (the kernels release the GIL).
The reference is ``torch.nn.functional.linear``; parity tests hold the two together.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from spikewave._numba import grow, njit
from spikewave._validation import fail
from spikewave.kernels import _buffers as buffers
from spikewave.kernels._simd import (
    LANES,
    LEFT_PACK,
    NARROW,
    add_to_narrow_rows,
    compress_active,
    sum_narrow_rows,
)
from spikewave.kernels._threads import parallel_for, split_range


@njit
def _sum_rows(src, sel, j0, j1, acc):  # pragma: no cover - compiled
    """``acc += src[sel[j0]] + ... + src[sel[j1 - 1]]``, four source rows per pass over
    ``acc`` (one load and store of ``acc`` per four rows, not per row: measured 1.4x
    faster than row by row for 1024-wide float32 rows)."""
    n = acc.shape[0]
    j = j0
    while j + 4 <= j1:
        a, b, c, d = src[sel[j]], src[sel[j + 1]], src[sel[j + 2]], src[sel[j + 3]]
        for o in range(n):
            acc[o] += (a[o] + b[o]) + (c[o] + d[o])
        j += 4
    while j < j1:
        a = src[sel[j]]
        for o in range(n):
            acc[o] += a[o]
        j += 1


@njit
def _gather_rows(idx_ptr, idx, w_t, bias, r0, r1, out, c0):  # pragma: no cover - compiled
    """``out[r] = bias + sum of W.T rows of the inputs active in row r``, rows r0..r1;
    only columns ``c0 .. c0 + w_t.shape[1]`` of ``out`` when ``w_t`` and ``bias`` hold just
    those columns (a block of a weight too large for the cache, :func:`column_blocks`)."""
    n = w_t.shape[1]
    for r in range(r0, r1):
        acc = out[r][c0:c0 + n]
        acc[:] = bias
        _sum_rows(w_t, idx, idx_ptr[r], idx_ptr[r + 1], acc)


# The gathers (gather_into, the one-pass LIF layer) take a weight W.T larger than
# GATHER_MAX_WEIGHT_BYTES a block of output columns at a time, each block's columns copied
# to an array of about GATHER_BLOCK_BYTES: the rows every batch row reads then come from
# the cache (8 MiB of L3 here, shared), not from memory. One-pass forward of [100 x 32,
# 4096] -> 4096 (W.T 64 MiB), 2 threads, medians of 5: at 10 % active 1573-1624 ms in one
# block, 476-686 ms in 4 MiB blocks of 256 columns, 629 (2 MiB), 1027 (1 MiB), 1248
# (6 MiB), 1449 (8 MiB); at 2 % 372 against 161 ms (4 MiB); 2048 -> 2048 at 10 % 281
# against 114-167 ms (3-4 blocks). Narrower blocks lose to the work per active input, wider
# ones to the cache.
GATHER_MAX_WEIGHT_BYTES = 2**22
GATHER_BLOCK_BYTES = 2**22


def column_blocks(n_in: int, n_out: int, itemsize: int) -> list[tuple[int, int]]:
    """The ranges of output columns a gather from ``W.T[n_in, n_out]`` takes one after the
    other: all at once while ``W.T`` takes at most ``GATHER_MAX_WEIGHT_BYTES``; beyond,
    blocks of a multiple of 8 columns that take about ``GATHER_BLOCK_BYTES`` of it."""
    if n_in * n_out * itemsize <= GATHER_MAX_WEIGHT_BYTES:
        return [(0, n_out)]
    width = max(8, GATHER_BLOCK_BYTES // max(n_in * itemsize, 1) // 8 * 8)
    return [(c, min(c + width, n_out)) for c in range(0, n_out, width)]


def copied_columns(a: np.ndarray, c0: int, c1: int) -> np.ndarray:
    """``a[:, c0:c1]`` as a pooled C-contiguous array, its rows split over the threads."""
    out = buffers.empty((a.shape[0], c1 - c0), a.dtype)
    parallel_for(lambda q: np.copyto(out[q[0]:q[1]], a[q[0]:q[1], c0:c1]),
                 split_range(a.shape[0], 64))
    return out


def gather_into(ptr: np.ndarray, idx: np.ndarray, w_t: np.ndarray, bias: np.ndarray,
                out: np.ndarray, parts: list[tuple[int, int]]) -> None:
    """``out[r] = bias + the rows of w_t of the inputs active in row r`` (CSR ``(ptr,
    idx)``), the row ranges ``parts`` on separate threads; by :func:`column_blocks`."""
    blocks = column_blocks(w_t.shape[0], w_t.shape[1], w_t.itemsize)
    for c0, c1 in blocks:
        w_block = w_t if len(blocks) == 1 else copied_columns(w_t, c0, c1)
        bias_block = np.ascontiguousarray(bias[c0:c1])
        parallel_for(functools.partial(_gather_part, ptr, idx, w_block, bias_block, out, c0),
                     parts)


def _gather_part(ptr, idx, w_block, bias_block, out, c0, part):
    """One thread's rows ``part`` of one block of :func:`gather_into`."""
    _gather_rows(ptr, idx, w_block, bias_block, part[0], part[1], out, c0)


@njit
def _add_row_range(grad, a, b, acc, partial):  # pragma: no cover - compiled
    """``acc += grad[a] + ... + grad[b - 1]``, summed 64 rows at a time into ``partial``
    first (the rounding error of a float32 sum grows with the rows added one by one)."""
    for r0 in range(a, b, 64):
        partial[:] = 0.0
        for r in range(r0, min(r0 + 64, b)):
            row = grad[r]
            for o in range(partial.shape[0]):
                partial[o] += row[o]
        for o in range(partial.shape[0]):
            acc[o] += partial[o]


@njit
def _gather_cols(col_ptr, rows, grad, i0, i1, accumulate, g_w_t, n_rows, tile,
                 bias_part, part, n_parts):  # pragma: no cover - compiled
    """``g_w_t[i] (+)= sum of grad rows of the batch rows where input i was active``, for
    inputs i0..i1: the weight gradient ``(g.T @ s).T``, one contiguous row per input.

    The ``n_rows`` batch rows are taken ``tile`` at a time (every input's rows in the first
    tile, then in the next, ...), so that a tile of ``grad`` stays in the core's cache while
    all the inputs read it; ``rows`` is ascending per input, so a cursor per input walks it.
    When ``bias_part`` is not empty, this call (``part`` of ``n_parts``) also adds its share
    of each tile's rows into it -- the bias gradient, summed while the tile is cached."""
    if not accumulate:
        for i in range(i0, i1):
            g_w_t[i, :] = 0.0
    cursor = col_ptr[i0:i1].copy()
    partial = np.empty(bias_part.shape[0], grad.dtype)
    for stop in range(tile, n_rows + tile, tile):
        for i in range(i0, i1):
            j0 = cursor[i - i0]
            j1 = j0
            end = col_ptr[i + 1]
            while j1 < end and rows[j1] < stop:
                j1 += 1
            if j1 > j0:
                _sum_rows(grad, rows, j0, j1, g_w_t[i])
            cursor[i - i0] = j1
        if bias_part.shape[0] > 0:
            start, last = stop - tile, min(stop, n_rows)
            _add_row_range(grad, start + part * (last - start) // n_parts,
                           start + (part + 1) * (last - start) // n_parts, bias_part, partial)


@njit
def _count_columns(ptr, idx, r0, r1, counts):  # pragma: no cover - compiled
    """``counts[i]`` = how often input i is active in rows r0..r1 of the CSR."""
    counts[:] = 0
    for j in range(ptr[r0], ptr[r1]):
        counts[idx[j]] += 1


@njit
def _fill_columns(ptr, idx, r0, r1, fill, rows):  # pragma: no cover - compiled
    """Rows r0..r1 into their inputs' column lists, from the cursors ``fill``."""
    for r in range(r0, r1):
        for j in range(ptr[r], ptr[r + 1]):
            i = idx[j]
            rows[fill[i]] = r
            fill[i] += 1


def input_columns(ptr: np.ndarray, idx: np.ndarray, n_in: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The CSC transpose ``(col_ptr, rows)`` of the CSR ``(ptr, idx)`` of active inputs:
    for each input, the rows (relative to ``ptr``'s first row) where it was active, in
    increasing order. ``ptr`` may be a slice of a longer one (its offsets index ``idx``).

    A counting sort with the rows split over the threads: each counts its rows' inputs,
    then fills its rows in from where the threads before it end in each column, so every
    column stays in row order (2 threads against the same sort on one, medians of 40:
    ``[3200, 784]`` at 10 % active 1.4-1.7 against 2.6-2.8 ms, ``[3200, 1024]`` at 10 %
    1.6-1.9 against 3.5-3.6 ms, at 2 % 0.3-0.5 against 0.4-0.5 ms)."""
    n_rows = ptr.shape[0] - 1
    parts = split_range(n_rows, min_chunk=256)
    counts = np.empty((len(parts), n_in), np.int64)
    parallel_for(lambda k: _count_columns(ptr, idx, parts[k][0], parts[k][1], counts[k]),
                 range(len(parts)))
    col_ptr = np.zeros(n_in + 1, np.int64)
    np.cumsum(counts.sum(0), out=col_ptr[1:])
    starts = col_ptr[:-1] + np.cumsum(counts, axis=0) - counts  # each part's cursors
    rows = buffers.empty_prefix(int(col_ptr[-1]), np.int64)
    parallel_for(lambda k: _fill_columns(ptr, idx, parts[k][0], parts[k][1], starts[k],
                                         rows), range(len(parts)))
    return col_ptr, rows


# Batch rows per tile of the weight gradient. Each tile is read by every input active in it
# while cached, and each input's row of the gradient is loaded and stored once per tile it
# is active in: an input active in R rows of a tile sums R gradient rows per visit of its
# own row, so the visits cost 2 / R of the useful reads. Tiles hold WGRAD_ROWS_PER_INPUT
# rows per input on average (rows / density), within WGRAD_TILE_MIN_BYTES (the cores' L2:
# 512 KiB each here) and WGRAD_TILE_MAX_BYTES (half the 8 MiB L3 here: the tile shares it
# with the inputs' rows being summed). Measured (2 threads, float32, medians of 5-9,
# alternating with the rule before it: 1 MiB tiles, untiled below 2 rows per
# input): [3200 rows, 4096 -> 4096] at 2 % 214 -> 130 ms, at 10 % 483 -> 318 ms;
# [3200, 1024 -> 1024] at 2 % 7.5 -> 6.9 ms, at 10 % 22.7 -> 22.1; [16000, 1024 -> 1024]
# at 2 % 43 -> 39 ms, at 10 % 121 -> 116; [3200, 512 -> 512] and [3200, 784 -> 512] at
# 5-15 % equal. 12 rows per input: 10-15 % slower at 10 % (1024 and 4096 outputs).
WGRAD_ROWS_PER_INPUT = 40.0
WGRAD_TILE_MIN_BYTES = 2**19
WGRAD_TILE_MAX_BYTES = 2**22


def weight_grad_tile(n_rows: int, row_bytes: int, density: float) -> int:
    """Batch rows per tile for :func:`add_weight_grad_t` (``n_rows``: a single tile) when
    a gradient row takes ``row_bytes`` and ``density`` of the inputs are active: about
    ``WGRAD_ROWS_PER_INPUT / density`` rows, the tile within ``WGRAD_TILE_MIN_BYTES`` and
    ``WGRAD_TILE_MAX_BYTES``."""
    row_bytes = max(row_bytes, 1)
    wanted = (WGRAD_ROWS_PER_INPUT / density * row_bytes if density > 0
              else float(WGRAD_TILE_MAX_BYTES))
    tile_bytes = min(max(wanted, WGRAD_TILE_MIN_BYTES), WGRAD_TILE_MAX_BYTES)
    tile = max(1, int(tile_bytes // row_bytes))
    return max(n_rows, 1) if tile >= n_rows else tile


def _columns_and_tile(ptr: np.ndarray, idx: np.ndarray, n_in: int, row_bytes: int
                      ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """What both weight-gradient drivers start from: the :func:`input_columns` of the
    CSR, its number of rows and the rows per tile (:func:`weight_grad_tile`) for gradient
    rows of ``row_bytes``."""
    col_ptr, rows = input_columns(ptr, idx, n_in)
    n_rows = ptr.shape[0] - 1
    density = rows.shape[0] / max(n_rows * n_in, 1)
    return col_ptr, rows, n_rows, weight_grad_tile(n_rows, row_bytes, density)


def balanced_split(offsets: np.ndarray, fixed_cost: float) -> list[tuple[int, int]]:
    """``[0, n)`` cut into one contiguous range per thread of about equal work, for items
    (rows of a CSR, columns of a CSC) whose entries are ``offsets[i]:offsets[i + 1]``: an
    item costs its entries plus ``fixed_cost`` entries. The inputs of a hidden layer fire
    at very different rates and its early time steps have fewer spikes than its later
    ones, so equal numbers of items are not equal work (2 threads, weight and bias gradient
    of ``[3200, 512] -> 512`` whose inputs' rates are spread lognormally, sorted: 7.2-7.7
    against 11.2-11.5 ms)."""
    n = offsets.shape[0] - 1
    k = len(split_range(n))
    if k <= 1:
        return [(0, n)]
    work = offsets - offsets[0] + fixed_cost * np.arange(n + 1)
    cuts = np.searchsorted(work, work[-1] * np.arange(1, k) / k)
    bounds = [0, *(int(c) for c in cuts), n]
    return [(bounds[i], bounds[i + 1]) for i in range(k)]


def weight_grad(ptr: np.ndarray, idx: np.ndarray, grad: np.ndarray, n_in: int,
                with_bias: bool = False, input_major: bool = False
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """``(grad.T @ s, grad.sum(0) or None)``: the weight gradient ``[out, in]`` for the
    spikes ``s`` whose active inputs are the CSR ``(ptr, idx)``, and, ``with_bias``, the
    bias gradient. Each input's row of ``g_w_t = (grad.T @ s).T`` is summed by
    :func:`_gather_cols`; with ``input_major`` the result is the view ``g_w_t.T`` (the
    layout of a weight stored input by input, :func:`input_major`), else each thread
    writes its inputs' rows transposed into their columns of a C-contiguous ``[out, in]``
    (2 threads, ``[3200, 1024] -> 1024``, medians of 3 x 30 alternating: 8.0 against
    9.1 ms at 2 % active inputs, 23.5 against 24.9 ms at 10 %, for the same rows
    transposed by torch); the bias gradient summed by the same threads, each a share of
    every tile's rows while the tile is cached (weight and bias gradients, medians of
    3 x 30: 7.1-7.2 against 8.3-8.4 ms with torch's ``sum(0)`` after, ``[3200, 1024] ->
    1024`` at 2 %; 20.2-20.9 against 21.1-22.5 at 10 %; ``[3200, 784] -> 512`` at 10 %
    8.4-8.6 against 8.8-9.0)."""
    n_out = grad.shape[1]
    col_ptr, rows, n_rows, tile = _columns_and_tile(ptr, idx, n_in, n_out * grad.itemsize)
    g_w_t = buffers.empty((n_in, n_out), grad.dtype)
    parts = balanced_split(col_ptr, 2.0)  # + zeroing and moving an input's row
    bias_parts = np.zeros((len(parts), n_out if with_bias else 0), grad.dtype)
    g_w = g_w_t.T if input_major else buffers.empty((n_out, n_in), grad.dtype)
    into = np.empty((0, 0), grad.dtype) if input_major else g_w  # empty: no transpose
    parallel_for(lambda k: _gather_cols_transposed(
        col_ptr, rows, grad, parts[k][0], parts[k][1], g_w_t, n_rows, tile, into,
        bias_parts[k], k, len(parts)), range(len(parts)))
    return g_w, (bias_parts.sum(0) if with_bias else None)


def add_weight_grad_t(ptr: np.ndarray, idx: np.ndarray, grad: np.ndarray,
                      g_w_t: np.ndarray, accumulate: bool) -> None:
    """``g_w_t[in, out] (+)= (grad.T @ s).T`` for the spikes ``s`` whose active inputs are
    the CSR ``(ptr, idx)`` (rows of ``grad`` match ``ptr``'s rows): each input's row sums
    the gradient rows where it fired, over tiles of batch rows (:func:`weight_grad_tile`);
    inputs split over threads (disjoint rows, so no per-thread accumulators to add up)."""
    col_ptr, rows, n_rows, tile = _columns_and_tile(ptr, idx, g_w_t.shape[0],
                                                    g_w_t.shape[1] * g_w_t.itemsize)
    no_bias = np.zeros(0, grad.dtype)
    parallel_for(lambda q: _gather_cols(col_ptr, rows, grad, q[0], q[1], accumulate, g_w_t,
                                        n_rows, tile, no_bias, 0, 1),
                 balanced_split(col_ptr, 1.0))


@njit
def _gather_cols_transposed(col_ptr, rows, grad, i0, i1, g_w_t, n_rows, tile, g_w,
                            bias_part, part, n_parts):  # pragma: no cover - compiled
    """:func:`_gather_cols` into the rows ``g_w_t[i0:i1]``, then, unless ``g_w`` is empty,
    those rows written transposed into the columns ``g_w[:, i0:i1]`` (``[out, in]``, a
    weight's layout) by :func:`_transpose_rows`."""
    _gather_cols(col_ptr, rows, grad, i0, i1, False, g_w_t, n_rows, tile, bias_part, part,
                 n_parts)
    if g_w.size:
        _transpose_rows(g_w_t, i0, i1, g_w)


@njit
def _transpose_rows(src, r0, r1, dst):  # pragma: no cover - compiled
    """``dst[:, r0:r1] = src[r0:r1].T``, eight rows of ``src`` at a time: each row of
    ``dst`` gets 32 contiguous bytes per pass, and the rows of ``dst`` a pass touches are
    still cached for the next eight."""
    n_cols = src.shape[1]
    for rb in range(r0, r1, 8):
        re = min(rb + 8, r1)
        for c in range(n_cols):
            for r in range(rb, re):
                dst[c, r] = src[r, c]


def transposed_copy(a: np.ndarray) -> np.ndarray:
    """``a.T`` as a new C-contiguous array, rows of ``a`` split over the threads
    (:func:`_transpose_rows`). Float32, 2 threads, medians of 50, against
    ``np.ascontiguousarray(a.T)``, whose time depends on the stride: ``[1024, 1024]``
    1.06 against 9.0 ms, ``[512, 512]`` 0.37 against 1.02 ms, ``[512, 784]`` 0.44
    against 0.28 ms."""
    out = buffers.empty((a.shape[1], a.shape[0]), a.dtype)
    parallel_for(lambda q: _transpose_rows(a, q[0], q[1], out), split_range(a.shape[0], 8))
    return out


@njit
def _scan_active(bits, one, table, r0, r1, cap, counts, idx):  # pragma: no cover
    """One pass over rows r0..r1: the column indices of their active inputs appended to
    ``idx`` (grown as needed) and each row's count into ``counts``. Returns ``(idx, n,
    status)``: status 0 when done, 1 when a value is neither 0 nor 1 (``one``: the bits of
    1.0; -0.0 counts as 0), 2 when more than ``cap`` inputs are active (both stop the
    scan). ``bits`` are the rows' values seen as integers of the same width.

    Eight entries at a time by :func:`~spikewave.kernels._simd.compress_active` (``table``
    is its ``LEFT_PACK``): one vector comparison and one table lookup, no branch on the
    data. ``[3200, in]`` float32, 2 threads, medians of 50, against the scalar pass of the
    eighth session (eight entries tested at once, then one by one where any was active):
    784 inputs at 10 % active 0.87 against 2.1 ms, 512 at 14 % 0.61 against 1.5, 1024 at
    10 % 1.3 against 2.9, at 2 % 0.98 against 1.15 (reading the input bounds it); float64
    784 at 10 % 1.5 against 2.4 ms, 1024 at 2 % 1.7 against 1.6 (26 MB read either way)."""
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
_NUMPY_TYPES = {torch.float32: np.float32, torch.float64: np.float64}


_LAST_FOUND: dict[tuple[int, ...], int] = {}


def active_inputs(spikes_2d: torch.Tensor, max_density: float = 1.0
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """CSR ``(ptr, idx)`` of the inputs equal to 1 in ``spikes_2d[R, in]``, in one compiled
    pass; None when a value is neither 0 nor 1 or more than ``max_density`` are active.
    float32 or float64 only (the compiled kernels' types)."""
    if spikes_2d.dtype not in EVENT_DTYPES:
        raise fail("spikes_2d", f"a {spikes_2d.dtype} tensor", "float32 or float64 spikes")
    x2 = spikes_2d.detach().contiguous().numpy()
    counts = np.empty(x2.shape[0], np.int64)
    parts = split_range(x2.shape[0], min_chunk=64)
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
        # in afresh at every call (0.8 against 0.55 ms at [3200, 512], 14 %)
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
    idx = buffers.empty_prefix(total, np.int64)
    at = 0
    for part_idx, n, _ in found:
        idx[at:at + n] = part_idx[:n]
        at += n
    return ptr, idx


def gather_linear(active: tuple[np.ndarray, np.ndarray], w_t: np.ndarray, bias: np.ndarray
                  ) -> np.ndarray:
    """``[R, out]``: row r is ``bias`` plus the rows of ``w_t`` (``W.T``, ``[in, out]``)
    of the inputs active in row r (``active``: CSR of :func:`active_inputs`)."""
    ptr, idx = active
    out = buffers.empty((len(ptr) - 1, w_t.shape[1]), w_t.dtype)
    gather_into(ptr, idx, w_t, bias, out, balanced_split(ptr, 1.0))  # + the bias copy
    return out


@njit
def _gather_narrow_rows(ptr, idx, w_pad, bias_pad, r0, r1, out):  # pragma: no cover
    """``out[r] = bias_pad + sum of the rows of w_pad (``[in, 16]``, a narrow layer's
    W.T padded with zeros) of the inputs active in row r``, rows r0..r1, by
    :func:`~spikewave.kernels._simd.sum_narrow_rows` (the 16 sums in registers)."""
    for r in range(r0, r1):
        acc = out[r]
        acc[:] = bias_pad
        sum_narrow_rows(w_pad, idx, ptr[r], ptr[r + 1], acc)


@njit
def _scatter_narrow_rows(ptr, idx, grad_pad, r0, r1, acc):  # pragma: no cover - compiled
    """``acc[i] += grad_pad[r]`` for every input i active in row r, rows r0..r1 (``acc``:
    ``[in, 16]``, zeroed first): this thread's share of a narrow layer's ``(g.T @ s).T``,
    which fits in the core's first-level cache (32 KiB for 512 float32 inputs)."""
    acc[:] = 0.0
    for r in range(r0, r1):
        add_to_narrow_rows(grad_pad[r], idx, ptr[r], ptr[r + 1], acc)


def _padded(a: np.ndarray) -> np.ndarray:
    """``a[R, k <= 16]`` copied into the first columns of a zeroed ``[R, 16]`` array."""
    out = np.zeros((a.shape[0], NARROW), a.dtype)
    out[:, :a.shape[1]] = a
    return out


def gather_narrow(active: tuple[np.ndarray, np.ndarray], weight: torch.Tensor,
                  bias: np.ndarray) -> np.ndarray:
    """:func:`gather_linear` for a layer of at most 16 outputs (a read-out): each active
    input adds its weights, padded to 16 values, to 16 sums held in vector registers --
    where the row-by-row gather pays a loop per 40-byte row. ``[3200, 512]`` at 12 %
    active -> 10, float32, 2 threads: 0.23 ms, against 0.54 for :func:`gather_linear` and
    0.87 for the dense product (the read-out layer of the MLP benchmark)."""
    ptr, idx = active
    n_out = weight.shape[0]
    w_pad = _padded(transposed(weight))
    bias_pad = np.zeros(NARROW, w_pad.dtype)
    bias_pad[:n_out] = bias
    out = np.empty((len(ptr) - 1, NARROW), w_pad.dtype)
    parallel_for(lambda r: _gather_narrow_rows(ptr, idx, w_pad, bias_pad, r[0], r[1], out),
                 balanced_split(ptr, 1.0))
    return np.ascontiguousarray(out[:, :n_out])


def weight_grad_narrow(ptr: np.ndarray, idx: np.ndarray, grad: np.ndarray, n_in: int,
                       input_major: bool = False) -> np.ndarray:
    """The weight gradient ``grad.T @ s`` (``[out <= 16, in]``) of a narrow layer: each
    thread adds the (padded) gradient rows of its batch rows to the inputs active in them,
    in its own ``[in, 16]`` sums (no column lists needed), which are then added up; with
    ``input_major``, the transpose of a C-contiguous ``[in, out]`` (a weight stored input
    by input, :func:`input_major`), else C-contiguous.
    ``[3200, 512]`` at 12 % active -> 10, float32, 2 threads: 0.55 ms against 1.26 for the
    dense product."""
    grad_pad = _padded(grad)
    parts = balanced_split(ptr, 1.0)
    sums = np.empty((len(parts), n_in, NARROW), grad.dtype)
    parallel_for(lambda k: _scatter_narrow_rows(ptr, idx, grad_pad, parts[k][0], parts[k][1],
                                                sums[k]), range(len(parts)))
    g_w_t = sums.sum(0)[:, :grad.shape[1]]
    return np.ascontiguousarray(g_w_t).T if input_major else np.ascontiguousarray(g_w_t.T)


def input_major(weight: torch.Tensor) -> bool:
    """Whether ``weight[out, in]`` is stored input by input, ``weight.T`` contiguous (how
    :class:`~spikewave.nn.SpikeLinear` keeps its weight: the rows the gather adds up are
    then the weight itself, and its gradient is written without a transpose)."""
    return weight.dim() == 2 and weight.T.is_contiguous()


def input_major_copy(weight: torch.Tensor) -> torch.Tensor:
    """The values of ``weight[out, in]`` stored input by input (:func:`input_major`)."""
    return weight.detach().T.contiguous().T


def transposed(weight: torch.Tensor) -> np.ndarray:
    """``W.T`` as a contiguous array: the weight's own memory when it is stored input by
    input (:func:`input_major`), else a copy (made once per layer call)."""
    if input_major(weight):
        return weight.detach().T.numpy()
    return transposed_copy(weight.detach().contiguous().numpy())


class _SpikeLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, spikes, weight, bias, active):
        b = (bias.detach().numpy() if bias is not None
             else np.zeros(weight.shape[0], _NUMPY_TYPES[weight.dtype]))
        if weight.shape[0] <= NARROW:
            out = gather_narrow(active, weight, b)
        else:
            out = gather_linear(active, transposed(weight), b)
        ctx.save_for_backward(weight)
        ctx.active = active
        ctx.has_bias = bias is not None
        ctx.in_shape = spikes.shape
        return torch.from_numpy(out).reshape(*spikes.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad_out):
        (weight,) = ctx.saved_tensors
        g2 = grad_out.reshape(-1, grad_out.shape[-1]).contiguous()
        g_in, g_w, g_b = linear_grads(g2, weight, ctx.active, ctx.in_shape,
                                      *ctx.needs_input_grad[:2],
                                      ctx.has_bias and ctx.needs_input_grad[2])
        return g_in, g_w, g_b, None


def linear_grads(g2: torch.Tensor, weight: torch.Tensor,
                 active: tuple[np.ndarray, np.ndarray], in_shape: torch.Size,
                 need_input: bool, need_weight: bool, need_bias: bool
                 ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """The gradients ``(input, weight, bias)`` of ``s @ weight.T + b`` from the output's
    gradient ``g2[R, out]`` (contiguous), for spikes ``s`` whose active inputs are
    ``active``: the input's by the dense product (shaped ``in_shape``), the weight's summed
    over the active inputs (:func:`weight_grad`, or :func:`weight_grad_narrow` for a
    layer of at most 16 outputs) in the weight's layout, the bias's beside it; None for
    each one not needed."""
    g_in = g_w = g_b = None
    if need_input:
        g_in = (g2 @ weight).reshape(in_shape)
    if need_weight and weight.shape[0] <= NARROW:
        ptr, idx = active
        g_w = torch.from_numpy(weight_grad_narrow(ptr, idx, g2.detach().numpy(),
                                                  weight.shape[1], input_major(weight)))
    elif need_weight:
        ptr, idx = active
        g_w_np, g_b_np = weight_grad(ptr, idx, g2.detach().numpy(), weight.shape[1],
                                     with_bias=need_bias, input_major=input_major(weight))
        g_w = torch.from_numpy(g_w_np)
        g_b = torch.from_numpy(g_b_np) if need_bias else None
    if need_bias and g_b is None:
        g_b = g2.sum(0)
    return g_in, g_w, g_b


def spike_linear(spikes: torch.Tensor, weight: torch.Tensor,
                 bias: torch.Tensor | None = None,
                 active: tuple[np.ndarray, np.ndarray] | None = None) -> torch.Tensor:
    """``spikes @ weight.T + bias`` for binary ``spikes`` on the CPU, event driven; the same
    values (up to summation order) and gradients as ``torch.nn.functional.linear``.
    ``active`` is :func:`active_inputs` of the flattened spikes, when already computed."""
    x = spikes.contiguous()
    if active is None:
        active = active_inputs(x.reshape(-1, x.shape[-1]))
        if active is None:
            raise ValueError("spike_linear needs binary (0/1) spikes")
    return _SpikeLinear.apply(x, weight, bias, active)
