"""Event-driven forward product of a dense layer: for binary spikes ``s[R, in]`` the current
``s @ W.T + b`` of row ``r`` is ``b`` plus the rows of ``W.T`` of the inputs active in it
(:mod:`spikewave.kernels.spike_scan`), ``(active inputs) x out`` additions instead of ``R x
in x out`` multiply-adds. The weight is read transposed (``W.T[in, out]``), each active
input adding one contiguous row; a weight too large for the cache is read a block of
output columns at a time. Also the weight layouts: a weight stored input by input
(``input_major``) is its own ``W.T``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from spikewave._numba import njit
from spikewave.kernels import _buffers as buffers
from spikewave.kernels._simd import (
    NARROW,
    sum_narrow_rows,
)
from spikewave.kernels._threads import balanced_split, parallel_for, split_range


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
# the cache (a shared L3 of a few MiB), not from memory. Narrower blocks lose to the work
# per active input, wider ones to the cache (the sizes come from benchmarks/run.py).
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


def _padded(a: np.ndarray) -> np.ndarray:
    """``a[R, k <= 16]`` copied into the first columns of a zeroed ``[R, 16]`` array."""
    out = np.zeros((a.shape[0], NARROW), a.dtype)
    out[:, :a.shape[1]] = a
    return out


def gather_narrow(active: tuple[np.ndarray, np.ndarray], weight: torch.Tensor,
                  bias: np.ndarray) -> np.ndarray:
    """:func:`gather_linear` for a layer of at most 16 outputs (a read-out): each active
    input adds its weights, padded to 16 values, to 16 sums held in vector registers --
    where the row-by-row gather pays a loop per 40-byte row."""
    ptr, idx = active
    n_out = weight.shape[0]
    w_pad = _padded(transposed(weight))
    bias_pad = np.zeros(NARROW, w_pad.dtype)
    bias_pad[:n_out] = bias
    out = np.empty((len(ptr) - 1, NARROW), w_pad.dtype)
    parallel_for(lambda r: _gather_narrow_rows(ptr, idx, w_pad, bias_pad, r[0], r[1], out),
                 balanced_split(ptr, 1.0))
    return np.ascontiguousarray(out[:, :n_out])


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
