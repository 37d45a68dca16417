"""Compiled kernels of the R-STDP decision layer (:class:`spikewave.nn.decision.RSTDPDecision`):
the potentials of a convolution of non-leaky IF neurons summed over the inputs that fired
(event-driven), the winner, and the winner's weights updated by the R-STDP rule of
:func:`spikewave.plasticity.reward.rstdp_weight`. Same decisions and weights as the dense
PyTorch reference of the layer (tested).
"""

from __future__ import annotations

import numpy as np
import torch

from spikewave._numba import njit
from spikewave._validation import fail
from spikewave.kernels.spike_gather import _sum_rows
from spikewave.plasticity.reward import rstdp_weight


@njit
def _potentials(pot, lo, hi, act_c, act_y, act_x, w_rows, k, pad, start,
                rows):  # pragma: no cover - compiled
    """``pot[oy, ox, :]`` of one image from its fired inputs ``lo:hi``: the sum of the weight
    rows ``w_rows[(c k + dy) k + dx]`` (``w[c, dy, dx, :]``) of the inputs in the window of
    each output, four rows per pass over the output's row (:func:`_sum_rows`). The rows of
    each output are listed first (a counting pass, then a fill into ``rows``, with
    ``start`` of length ``ho wo + 1``), so that each output's row is loaded and stored
    once per four input rows rather than once per input."""
    ho, wo = pot.shape[0], pot.shape[1]
    start[:] = 0
    for j in range(lo, hi):
        y, x = act_y[j] + pad, act_x[j] + pad
        for dy in range(max(0, y - ho + 1), min(k, y + 1)):
            for dx in range(max(0, x - wo + 1), min(k, x + 1)):
                start[(y - dy) * wo + (x - dx) + 1] += 1
    for q in range(ho * wo):
        start[q + 1] += start[q]
    for j in range(lo, hi):
        c, y, x = act_c[j], act_y[j] + pad, act_x[j] + pad
        for dy in range(max(0, y - ho + 1), min(k, y + 1)):
            for dx in range(max(0, x - wo + 1), min(k, x + 1)):
                q = (y - dy) * wo + (x - dx)
                rows[start[q]] = (c * k + dy) * k + dx
                start[q] += 1
    begin = 0
    for oy in range(ho):
        for ox in range(wo):
            end = start[oy * wo + ox]
            acc = pot[oy, ox]
            acc[:] = 0.0
            _sum_rows(w_rows, rows, begin, end, acc)
            begin = end


@njit
def _scratch(ptr, lo, hi, k, n_pos):  # pragma: no cover - compiled
    """``(start, rows)`` for :func:`_potentials` on images ``lo:hi``: room for the k x k
    rows of every fired input of the busiest image."""
    most = 1
    for i in range(lo, hi):
        most = max(most, ptr[i + 1] - ptr[i])
    return np.zeros(n_pos + 1, np.int64), np.empty(most * k * k, np.int64)


@njit
def _winner(pot, enabled):  # pragma: no cover - compiled
    """``(f, oy, ox)`` of the largest positive potential among the ``enabled`` maps, the
    first in ``(f, oy, ox)`` order on ties; ``f = -1`` when none is positive."""
    best = pot.dtype.type(0.0)
    bf = by = bx = -1
    for f in range(pot.shape[2]):
        if not enabled[f]:
            continue
        for oy in range(pot.shape[0]):
            for ox in range(pot.shape[1]):
                if pot[oy, ox, f] > best:
                    best, bf, by, bx = pot[oy, ox, f], f, oy, ox
    return bf, by, bx


@njit
def _decide_kernel(ptr, act_c, act_y, act_x, w_ckkf, map_class, pad, ho, wo, lo, hi,
                   decisions):  # pragma: no cover - compiled
    k = w_ckkf.shape[1]
    w_rows = w_ckkf.reshape(w_ckkf.shape[0] * k * k, w_ckkf.shape[3])
    pot = np.zeros((ho, wo, w_ckkf.shape[3]), w_ckkf.dtype)
    enabled = np.ones(w_ckkf.shape[3], np.bool_)
    start, rows = _scratch(ptr, lo, hi, k, ho * wo)
    for i in range(lo, hi):
        _potentials(pot, ptr[i], ptr[i + 1], act_c, act_y, act_x, w_rows, k, pad, start, rows)
        bf = _winner(pot, enabled)[0]
        decisions[i] = -1 if bf < 0 else map_class[bf]


@njit
def _rstdp_kernel(ptr, act_c, act_y, act_x, labels, w_ckkf, map_class, enabled, n_c, h, w,
                  pad, rates, w_bounds, decisions):  # pragma: no cover - compiled
    """Images one after the other: decide among the ``enabled`` maps, then reward
    (``rates[0:2]``) or punish (``rates[2:4]``) the winner; ``rates`` and ``w_bounds`` in
    the weights' dtype."""
    k, n_f = w_ckkf.shape[1], w_ckkf.shape[3]
    ho, wo = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    pot = np.zeros((ho, wo, n_f), w_ckkf.dtype)
    w_rows = w_ckkf.reshape(n_c * k * k, n_f)  # a view: the updates below show in it
    start, rows = _scratch(ptr, 0, len(ptr) - 1, k, ho * wo)
    bitmap = np.zeros((n_c, h + 2 * pad, w + 2 * pad), np.bool_)
    w_min, w_max = w_bounds[0], w_bounds[1]
    for i in range(len(ptr) - 1):
        _potentials(pot, ptr[i], ptr[i + 1], act_c, act_y, act_x, w_rows, k, pad, start, rows)
        bf, by, bx = _winner(pot, enabled)
        decisions[i] = -1 if bf < 0 else map_class[bf]
        if bf < 0:
            continue
        if decisions[i] == labels[i]:
            a_pre, a_other = rates[0], rates[1]
        else:
            a_pre, a_other = rates[2], rates[3]
        for j in range(ptr[i], ptr[i + 1]):
            bitmap[act_c[j], act_y[j] + pad, act_x[j] + pad] = True
        for c in range(n_c):
            for dy in range(k):
                for dx in range(k):
                    w_ckkf[c, dy, dx, bf] = rstdp_weight(
                        w_ckkf[c, dy, dx, bf], bitmap[c, by + dy, bx + dx], a_pre, a_other,
                        w_min, w_max)
        for j in range(ptr[i], ptr[i + 1]):
            bitmap[act_c[j], act_y[j] + pad, act_x[j] + pad] = False


def sparse_inputs(fired: torch.Tensor) -> tuple[np.ndarray, ...]:
    """CSR form of binary maps ``[B, C, H, W]``: ``(ptr, c, y, x)`` of the inputs that fired."""
    if fired.ndim != 4:
        raise fail("fired", f"a tensor of shape {tuple(fired.shape)}", "maps [B, C, H, W]")
    nz = torch.nonzero(fired.reshape(len(fired), -1) > 0).numpy()
    counts = np.bincount(nz[:, 0], minlength=len(fired))
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    c, y, x = np.unravel_index(nz[:, 1], fired.shape[1:])
    return ptr, c.astype(np.int64), y.astype(np.int64), x.astype(np.int64)
