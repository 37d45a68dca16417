"""Event-driven forward product of a dense layer: for binary spikes ``s[R, in]`` the current
``s @ W.T + b`` of row ``r`` is ``b`` plus the rows of ``W.T`` of the inputs active in it
(:mod:`spikewave.kernels.spike_scan`), ``(active inputs) x out`` additions instead of ``R x
in x out`` multiply-adds. The weight is read transposed (``W.T[in, out]``) and cut into
panels of 16 output columns (:func:`panels`): a block of 16 neurons sums the 16-value rows
of its panel, which stays in the core's first-level cache, in vector registers. Also the
weight layouts: a weight stored input by input (``input_major``) is its own ``W.T``.
"""

from __future__ import annotations

import numpy as np
import torch

from spikewave._numba import njit
from spikewave.kernels import _buffers as buffers
from spikewave.kernels._simd import (
    NARROW,
    sum_panel_rows,
)
from spikewave.kernels._threads import parallel_for, split_range


@njit
def _sum_rows(src, sel, j0, j1, acc):  # pragma: no cover - compiled
    """``acc += src[sel[j0]] + ... + src[sel[j1 - 1]]``, four source rows per pass over
    ``acc`` (one load and store of ``acc`` per four rows, not per row)."""
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
def _fill_panels(w_t, k0, k1, out):  # pragma: no cover - compiled
    """``out[k] = w_t[:, 16 k : 16 k + 16]`` for blocks k0..k1, zeros past the last
    column."""
    n_in, n = w_t.shape
    for k in range(k0, k1):
        c0 = k * NARROW
        width = min(NARROW, n - c0)
        panel = out[k]
        for i in range(n_in):
            row = panel[i]
            row[:] = 0.0
            row[:width] = w_t[i, c0:c0 + width]


@njit
def _fill_panels_from_rows(w, k0, k1, out):  # pragma: no cover - compiled
    """:func:`_fill_panels` from ``w[out, in]`` itself (not transposed)."""
    n, n_in = w.shape
    for k in range(k0, k1):
        c0 = k * NARROW
        width = min(NARROW, n - c0)
        panel = out[k]
        if width < NARROW:
            panel[:, width:] = 0.0
        for m in range(width):
            row = w[c0 + m]
            for i in range(n_in):
                panel[i, m] = row[i]


# bytes of panels a thread fills at least: a smaller weight is laid out by the calling
# thread alone (handing half of a 1 MB weight to another thread costs more than copying it)
PANEL_BYTES_PER_ITEM = 1 << 21


def _panel_items(n_blocks: int, n_in: int, itemsize: int) -> list[tuple[int, int]]:
    per_block = n_in * NARROW * itemsize
    return split_range(n_blocks, min_chunk=max(1, PANEL_BYTES_PER_ITEM // max(per_block, 1)))


def panels(w_t: np.ndarray) -> np.ndarray:
    """``W.T[in, out]`` cut into panels of 16 output columns, ``[ceil(out / 16), in,
    16]`` (pooled; the last padded with zeros): the rows one block of neurons adds up, 64
    contiguous bytes per input (float32), a block's whole panel small enough for the
    core's first-level cache."""
    n_in, n = w_t.shape
    n_blocks = -(-n // NARROW)
    out = buffers.empty((n_blocks, n_in, NARROW), w_t.dtype)
    parallel_for(lambda q: _fill_panels(w_t, q[0], q[1], out),
                 _panel_items(n_blocks, n_in, w_t.itemsize))
    return out


def weight_panels(weight: torch.Tensor) -> np.ndarray:
    """:func:`panels` of ``weight[out, in]``'s transpose, read from the weight as it is
    stored (no transposed copy first)."""
    if input_major(weight):
        return panels(weight.detach().T.numpy())
    w = weight.detach().contiguous().numpy()
    n_blocks = -(-w.shape[0] // NARROW)
    out = buffers.empty((n_blocks, w.shape[1], NARROW), w.dtype)
    parallel_for(lambda q: _fill_panels_from_rows(w, q[0], q[1], out),
                 _panel_items(n_blocks, w.shape[1], w.itemsize))
    return out


def padded_row(a: np.ndarray, n_blocks: int) -> np.ndarray:
    """``a[n]`` followed by zeros up to ``16 n_blocks`` values."""
    out = np.zeros(n_blocks * NARROW, a.dtype)
    out[:a.shape[0]] = a
    return out


def block_items(n_blocks: int, n_rows: int) -> list[tuple[int, int, int, int]]:
    """Work items ``(k0, k1, r0, r1)`` (blocks of 16 columns x rows) for the threads: the
    blocks split among them, and the rows too when there are fewer blocks than items
    (a narrow layer)."""
    by_blocks = split_range(n_blocks)
    wanted = len(split_range(1 << 20))  # the items the threads share
    k = max(1, min(n_rows, wanted // len(by_blocks)))
    return [(k0, k1, n_rows * i // k, n_rows * (i + 1) // k)
            for k0, k1 in by_blocks for i in range(k)]


@njit
def _gather_panel_rows(ptr, idx, panel_of, bias_pad, k0, k1, r0, r1, out, spare
                       ):  # pragma: no cover - compiled
    """``out[r, c] = bias[c] + sum of W.T[i, c] over the inputs i active in row r`` for
    the columns of blocks k0..k1 and rows r0..r1, by
    :func:`~spikewave.kernels._simd.sum_panel_rows` (16 sums in registers per block)."""
    n = out.shape[1]
    for k in range(k0, k1):
        c0 = k * NARROW
        width = min(NARROW, n - c0)
        panel = panel_of[k]
        init = bias_pad[c0:c0 + NARROW]
        for r in range(r0, r1):
            if width == NARROW:
                sum_panel_rows(panel, idx, ptr[r], ptr[r + 1], init, out[r, c0:c0 + NARROW])
            else:
                sum_panel_rows(panel, idx, ptr[r], ptr[r + 1], init, spare)
                out[r, c0:c0 + width] = spare[:width]


def gather_into(ptr: np.ndarray, idx: np.ndarray, panel_of: np.ndarray, bias: np.ndarray,
                out: np.ndarray) -> None:
    """``out[r] = bias + the rows of W.T of the inputs active in row r`` (CSR ``(ptr,
    idx)``; ``panel_of``: :func:`panels` of W.T), blocks of columns (and rows, for a
    narrow layer) shared among the threads."""
    n_blocks = panel_of.shape[0]
    bias_pad = padded_row(bias, n_blocks)

    def run(item: tuple[int, int, int, int]) -> None:
        k0, k1, r0, r1 = item
        _gather_panel_rows(ptr, idx, panel_of, bias_pad, k0, k1, r0, r1, out,
                           np.empty(NARROW, out.dtype))

    parallel_for(run, block_items(n_blocks, out.shape[0]))


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
    (:func:`_transpose_rows`; ``np.ascontiguousarray(a.T)`` is slow for power-of-two
    strides, whose rows share cache sets)."""
    out = buffers.empty((a.shape[1], a.shape[0]), a.dtype)
    parallel_for(lambda q: _transpose_rows(a, q[0], q[1], out), split_range(a.shape[0], 8))
    return out


_NUMPY_TYPES = {torch.float32: np.float32, torch.float64: np.float64}


def gather_weight(active: tuple[np.ndarray, np.ndarray], weight: torch.Tensor,
                  bias: np.ndarray) -> np.ndarray:
    """``[R, out]``: row r is ``bias`` plus the weights ``weight[:, i]`` of the inputs i
    active in row r (``active``: CSR of :func:`active_inputs`), from the panels of the
    weight as it is stored (:func:`weight_panels`)."""
    ptr, idx = active
    panel_of = weight_panels(weight)
    out = buffers.empty((len(ptr) - 1, weight.shape[0]), panel_of.dtype)
    gather_into(ptr, idx, panel_of, bias, out)
    return out


def _padded(a: np.ndarray) -> np.ndarray:
    """``a[R, k <= 16]`` copied into the first columns of a zeroed ``[R, 16]`` array."""
    out = np.zeros((a.shape[0], NARROW), a.dtype)
    out[:, :a.shape[1]] = a
    return out


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
