"""Event-driven weight gradient of a dense layer on binary spikes: ``g.T @ s`` sums, for each
input, the output gradients of the rows where it was active -- the active entries
transposed to columns (:func:`input_columns`) -- in tiles of batch rows that stay in cache.
"""

from __future__ import annotations

import numpy as np

from spikewave._numba import njit
from spikewave.kernels import _buffers as buffers
from spikewave.kernels._simd import (
    NARROW,
    add_to_narrow_rows,
)
from spikewave.kernels._threads import balanced_split, parallel_for, split_range
from spikewave.kernels.spike_gather import _padded, _sum_rows, _transpose_rows


@njit
def _gather_cols(col_ptr, rows, grad, i0, i1, accumulate, g_w_t, n_rows, tile
                 ):  # pragma: no cover - compiled
    """``g_w_t[i] (+)= sum of grad rows of the batch rows where input i was active``, for
    inputs i0..i1: the weight gradient ``(g.T @ s).T``, one contiguous row per input.

    The ``n_rows`` batch rows are taken ``tile`` at a time (every input's rows in the first
    tile, then in the next, ...), so that a tile of ``grad`` stays in the core's cache while
    all the inputs read it; ``rows`` is ascending per input, so a cursor per input walks it.
    Each input's sum runs over its rows in ascending order whatever the split of the inputs
    among threads: the same bits for any thread count."""
    if not accumulate:
        for i in range(i0, i1):
            g_w_t[i, :] = 0.0
    cursor = col_ptr[i0:i1].copy()
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
    column stays in row order."""
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


# Rows of a narrow layer's weight gradient are cut into this many parts, summed apart, then
# added up: a count fixed whatever the threads, so the result is too.
NARROW_PARTS = 8

# Batch rows per tile of the weight gradient. Each tile is read by every input active in it
# while cached, and each input's row of the gradient is loaded and stored once per tile it
# is active in: an input active in R rows of a tile sums R gradient rows per visit of its
# own row, so the visits cost 2 / R of the useful reads. Tiles hold WGRAD_ROWS_PER_INPUT
# rows per input on average (rows / density), within WGRAD_TILE_MIN_BYTES (a core's L2)
# and WGRAD_TILE_MAX_BYTES (half a shared L3: the tile shares it with the inputs' rows
# being summed); the constants come from benchmarks/run.py's wide layers.
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


def weight_grad(ptr: np.ndarray, idx: np.ndarray, grad: np.ndarray, n_in: int,
                input_major: bool = False) -> np.ndarray:
    """The weight gradient ``grad.T @ s`` (``[out, in]``) for the spikes ``s`` whose active
    inputs are the CSR ``(ptr, idx)``. Each input's row of ``g_w_t = (grad.T @ s).T`` is
    summed by :func:`_gather_cols`; with ``input_major`` the result is the view
    ``g_w_t.T`` (the layout of a weight stored input by input, :func:`input_major`), else
    each thread writes its inputs' rows transposed into their columns of a C-contiguous
    ``[out, in]`` while they are cached."""
    n_out = grad.shape[1]
    col_ptr, rows, n_rows, tile = _columns_and_tile(ptr, idx, n_in, n_out * grad.itemsize)
    g_w_t = buffers.empty((n_in, n_out), grad.dtype)
    parts = balanced_split(col_ptr, 2.0)  # + zeroing and moving an input's row
    g_w = g_w_t.T if input_major else buffers.empty((n_out, n_in), grad.dtype)
    into = np.empty((0, 0), grad.dtype) if input_major else g_w  # empty: no transpose
    parallel_for(lambda k: _gather_cols_transposed(
        col_ptr, rows, grad, parts[k][0], parts[k][1], g_w_t, n_rows, tile, into),
        range(len(parts)))
    return g_w


def add_weight_grad_t(ptr: np.ndarray, idx: np.ndarray, grad: np.ndarray,
                      g_w_t: np.ndarray, accumulate: bool) -> None:
    """``g_w_t[in, out] (+)= (grad.T @ s).T`` for the spikes ``s`` whose active inputs are
    the CSR ``(ptr, idx)`` (rows of ``grad`` match ``ptr``'s rows): each input's row sums
    the gradient rows where it fired, over tiles of batch rows (:func:`weight_grad_tile`);
    inputs split over threads (disjoint rows, so no per-thread accumulators to add up)."""
    col_ptr, rows, n_rows, tile = _columns_and_tile(ptr, idx, g_w_t.shape[0],
                                                    g_w_t.shape[1] * g_w_t.itemsize)
    parallel_for(lambda q: _gather_cols(col_ptr, rows, grad, q[0], q[1], accumulate, g_w_t,
                                        n_rows, tile),
                 balanced_split(col_ptr, 1.0))


@njit
def _gather_cols_transposed(col_ptr, rows, grad, i0, i1, g_w_t, n_rows, tile, g_w
                            ):  # pragma: no cover - compiled
    """:func:`_gather_cols` into the rows ``g_w_t[i0:i1]``, then, unless ``g_w`` is empty,
    those rows written transposed into the columns ``g_w[:, i0:i1]`` (``[out, in]``, a
    weight's layout) by :func:`_transpose_rows`."""
    _gather_cols(col_ptr, rows, grad, i0, i1, False, g_w_t, n_rows, tile)
    if g_w.size:
        _transpose_rows(g_w_t, i0, i1, g_w)


@njit
def _scatter_narrow_rows(ptr, idx, grad_pad, r0, r1, acc):  # pragma: no cover - compiled
    """``acc[i] += grad_pad[r]`` for every input i active in row r, rows r0..r1 (``acc``:
    ``[in, 16]``, zeroed first): this thread's share of a narrow layer's ``(g.T @ s).T``,
    which fits in the core's first-level cache (32 KiB for 512 float32 inputs)."""
    acc[:] = 0.0
    for r in range(r0, r1):
        add_to_narrow_rows(grad_pad[r], idx, ptr[r], ptr[r + 1], acc)


def weight_grad_narrow(ptr: np.ndarray, idx: np.ndarray, grad: np.ndarray, n_in: int,
                       input_major: bool = False) -> np.ndarray:
    """The weight gradient ``grad.T @ s`` (``[out <= 16, in]``) of a narrow layer: each
    thread adds the (padded) gradient rows of its batch rows to the inputs active in them,
    in its own ``[in, 16]`` sums (no column lists needed), which are then added up -- the
    rows cut into ``NARROW_PARTS`` parts whatever the thread count, so the same bits for
    any thread count; with ``input_major``, the transpose of a C-contiguous ``[in, out]``
    (a weight stored input by input, :func:`input_major`), else C-contiguous."""
    grad_pad = _padded(grad)
    parts = balanced_split(ptr, 1.0, parts=NARROW_PARTS)  # the same for any thread count
    sums = np.empty((len(parts), n_in, NARROW), grad.dtype)
    parallel_for(lambda k: _scatter_narrow_rows(ptr, idx, grad_pad, parts[k][0], parts[k][1],
                                                sums[k]), range(len(parts)))
    g_w_t = sums.sum(0)[:, :grad.shape[1]]
    return np.ascontiguousarray(g_w_t).T if input_major else np.ascontiguousarray(g_w_t.T)
