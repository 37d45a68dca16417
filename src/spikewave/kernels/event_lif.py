"""An event-driven dense layer and its LIF neurons in one forward pass.

``I[t] = s[t] @ W.T + b`` for binary spikes ``s`` feeds the LIF of
:mod:`spikewave.kernels.lif_fused`. Composed as two layers (:mod:`spikewave.kernels.spike_linear`
then the fused LIF), the forward pass writes the current ``I[T, B, N]`` to memory and the
LIF reads it back; here each thread takes a range of batch rows and, step by step, sums the
weight rows of a row's active inputs into one buffer row that stays in the core's cache and
steps the row's neurons from it (``V = beta Vr + I``, spike, reset) before the next row.
The current is never stored: forward pass of ``[25 x 128, 784] -> 512`` at 10 % active
inputs 6.8 against 8.1 ms, ``512 -> 512`` at 12 % 5.4 against 6.8 ms (2 threads, medians
of 40). The potentials (kept for the backward pass) and the spikes are written with
non-temporal stores where the rows are aligned (the pooled arrays are;
:func:`~spikewave.kernels._simd.membrane_row_streamed`): straight to memory, without
reading the lines first -- ``784 -> 512`` 9.96 against 10.66 ms in a slow spell of the
machine (alternating calls, the same bits). The neurons that spiked are listed on the way and kept
on the output tensor, so that the next event-driven layer does not read the spikes again
(:func:`~spikewave.kernels.spike_linear.attach_active`).

The values are those of the composition to the bit (same current, summed in the same
order; same recurrence), and the backward pass is the composition's: the LIF backward over
the saved potentials gives the current's gradient, from which the weight and bias gradients
are summed over the active inputs and the input gradient is the dense product.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from spikewave._numba import grow, njit
from spikewave.kernels import _buffers as buffers
from spikewave.kernels._simd import (
    LANES,
    LEFT_PACK,
    compress_active,
    membrane_row_streamed,
    store_fence,
)
from spikewave.kernels._threads import parallel_for
from spikewave.kernels.lif_fused import (
    KINDS,
    RESETS,
    _backward_impl,
    _membrane_row,
    _step_row,
    beta_fits,
)
from spikewave.kernels.spike_linear import (
    _sum_rows,
    _transposed,
    attach_active,
    balanced_split,
    column_blocks,
    copied_columns,
    linear_grads,
)


@njit
def _gather_and_step(ptr, idx, w_t, bias, beta, thr, reset, b0, b1, n_batch, u_out, s_out,
                     v, cur, s_copy, bits, one, table, counts, found, c0, listing
                     ):  # pragma: no cover - compiled
    """For t = 0, 1, ... and batch rows b0..b1: ``cur = bias + sum of the W.T rows of the
    inputs active in row (t, b)`` (CSR row ``t n_batch + b``), then one LIF step of that
    row's neurons from ``cur`` (:func:`~spikewave.kernels.lif_fused._membrane_row`, or
    its copy with non-temporal stores, :func:`~spikewave.kernels._simd.membrane_row_streamed`,
    where the rows are 32-byte aligned and a multiple of 8 long):
    ``u_out[t]`` (or its single row) and ``s_out[t]`` written, ``v`` (the reset potentials,
    ``[n_batch x N]``) updated in place. ``beta`` is ``[n_batch, N]``, or ``[1, N]`` when
    the same for every batch row.

    The neurons that spiked are listed on the way, while the row is in cache: their
    indices appended to ``found`` (grown as needed; read from ``s_copy``, the row's spikes
    kept in cache, whose integer view is ``bits``; ``one`` the bits of 1.0, ``table`` the
    left-pack table of
    :func:`~spikewave.kernels._simd.compress_active`) and their number to ``counts[t n_batch
    + b]``. Returns ``(found, entries appended)``.

    Only the neurons ``c0 .. c0 + w_t.shape[1]`` of each row when ``w_t`` (and ``bias``)
    hold just their columns (a block of a weight too large for the cache,
    :func:`~spikewave.kernels.spike_linear.column_blocks`); ``listing`` False then, as
    only whole rows can be listed."""
    n = w_t.shape[1]
    n_all = v.shape[0] // n_batch  # neurons per batch row
    thr = w_t.dtype.type(thr)
    m = 0
    streamed = False
    for t in range(s_out.shape[0]):
        u_row = _step_row(u_out, t)
        s_row = s_out[t]
        for b in range(b0, b1):
            r = t * n_batch + b
            cur[:] = bias
            _sum_rows(w_t, idx, ptr[r], ptr[r + 1], cur)
            m0 = b * n_all + c0
            m1 = m0 + n
            u_seg, s_seg = u_row[m0:m1], s_row[m0:m1]
            beta_seg = _step_row(beta, b)[c0:c0 + n]
            if n % 8 == 0 and u_seg.ctypes.data % 32 == 0 and s_seg.ctypes.data % 32 == 0:
                membrane_row_streamed(beta_seg, v[m0:m1], cur, u_seg, s_seg, s_copy, thr,
                                      reset == 0)
                streamed = True
            else:
                _membrane_row(beta_seg, v[m0:m1], cur, u_seg, s_seg, thr, reset)
                s_copy[:] = s_seg
            if not listing:
                continue
            while found.shape[0] - m < n + LANES:  # room for a whole row and one store
                found = grow(found, m)
            start = m
            i = 0
            while i + LANES <= n:
                m += compress_active(bits, i, table, found, m, one) & 255
                i += LANES
            for k in range(i, n):
                found[m] = k
                m += bits[k] != 0
            counts[r] = m - start
    if streamed:
        store_fence()
    return found, m


@njit
def _place_rows(found, b0, b1, n_batch, n_steps, ptr, idx):  # pragma: no cover - compiled
    """Copies the rows one thread of :func:`_gather_and_step` listed (batch rows b0..b1 of
    every step, in its order) to their places ``idx[ptr[r]:ptr[r + 1]]`` in row order."""
    m = 0
    for t in range(n_steps):
        for b in range(b0, b1):
            r = t * n_batch + b
            k = ptr[r + 1] - ptr[r]
            idx[ptr[r]:ptr[r + 1]] = found[m:m + k]
            m += k


def _forward_arrays(x_shape: tuple[int, int, int], active: tuple[np.ndarray, np.ndarray],
                    weight: torch.Tensor, bias: torch.Tensor | None, beta_full: torch.Tensor,
                    threshold: float, reset: int, keep_u: bool
                    ) -> tuple[np.ndarray, np.ndarray, Callable[[], tuple] | None]:
    """``(spikes[T, B N], U[T or 1, B N], spike_csr)`` of the layer, batch rows split over
    threads so that each gets about the same number of active inputs (plus a fixed cost
    per row for its neuron step). ``spike_csr()`` gives the CSR of the neurons that spiked
    in each row ``(t, b)`` of the spikes seen as ``[T B, N]``, as
    :func:`~spikewave.kernels.spike_linear.active_inputs` would find them: the threads'
    lists put in row order when first asked for. A weight too large for the cache is
    taken a block of neurons at a time
    (:func:`~spikewave.kernels.spike_linear.column_blocks`, the same values); its spikes
    are then not listed (``spike_csr`` None: a row is whole only after the last block)."""
    t, b, _ = x_shape
    n = weight.shape[0]
    ptr, idx = active
    w_t = _transposed(weight)
    bias_np = (bias.detach().numpy() if bias is not None else np.zeros(n, w_t.dtype))
    beta = beta_full.detach()
    if beta.stride(0) == 0:  # the same for every batch row (expanded): one row, in cache
        beta = beta[:1]
    beta = beta.contiguous().numpy()
    s = buffers.empty((t, b * n), w_t.dtype)
    u = buffers.empty((t, b * n), w_t.dtype) if keep_u else np.empty((1, b * n), w_t.dtype)
    v = np.zeros(b * n, w_t.dtype)
    per_batch_row = np.diff(ptr).reshape(t, b).sum(0)
    offsets = np.zeros(b + 1, np.int64)
    np.cumsum(per_batch_row, out=offsets[1:])
    parts = balanced_split(offsets, 3.0 * t)  # + bias copy and neuron step of T rows
    int_type = np.int32 if w_t.dtype.itemsize == 4 else np.int64
    one = np.array(1.0, w_t.dtype).view(int_type)[()]
    counts = np.empty(t * b, np.int64)
    s_copy = np.empty((len(parts), n), w_t.dtype)  # each thread's current row of spikes
    blocks = column_blocks(w_t.shape[0], n, w_t.itemsize)
    if len(blocks) > 1:  # a weight beyond the cache: its neurons a block at a time
        no_list = np.empty(0, np.int64)
        for c0, c1 in blocks:
            w_block = copied_columns(w_t, c0, c1)
            bias_block = np.ascontiguousarray(bias_np[c0:c1])

            def run_block(k: int, c0=c0, c1=c1, w_block=w_block, bias_block=bias_block):
                row = s_copy[k, :c1 - c0]
                _gather_and_step(ptr, idx, w_block, bias_block, beta, threshold, reset,
                                 parts[k][0], parts[k][1], b, u, s, v,
                                 np.empty(c1 - c0, w_t.dtype), row, row.view(int_type), one,
                                 LEFT_PACK, counts, no_list, c0, False)

            parallel_for(run_block, range(len(parts)))
        return s, u, None
    listed: list = [None] * len(parts)
    last = _LAST_FOUND.get((t, b, n), 0)

    def run(k: int) -> None:
        b0, b1 = parts[k]
        # room for this part's share of the last count and half as much again
        room = last * (b1 - b0) // max(b, 1) * 3 // 2 + n + LANES
        listed[k] = _gather_and_step(ptr, idx, w_t, bias_np, beta, threshold, reset, b0, b1,
                                     b, u, s, v, np.empty(n, w_t.dtype), s_copy[k],
                                     s_copy[k].view(int_type), one, LEFT_PACK, counts,
                                     buffers.empty_prefix(room, np.int64), 0, True)

    parallel_for(run, range(len(parts)))
    out_ptr = np.zeros(t * b + 1, np.int64)
    np.cumsum(counts, out=out_ptr[1:])
    total = int(out_ptr[-1])
    if len(_LAST_FOUND) > 64:
        _LAST_FOUND.clear()
    _LAST_FOUND[(t, b, n)] = total

    def spike_csr() -> tuple[np.ndarray, np.ndarray]:  # made when a layer asks for it
        out_idx = buffers.empty_prefix(total, np.int64)
        parallel_for(lambda k: _place_rows(listed[k][0], parts[k][0], parts[k][1], b, t,
                                           out_ptr, out_idx), range(len(parts)))
        return out_ptr, out_idx

    return s, u, spike_csr


_LAST_FOUND: dict[tuple[int, int, int], int] = {}  # spikes listed at the last call, by shape


class _EventLinearLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, beta_full, threshold, reset, detach, kind, scale,
                active, keep_u, listed):
        s, u, spike_csr = _forward_arrays(tuple(x.shape), active, weight, bias, beta_full,
                                          threshold, reset, keep_u)
        listed.append(spike_csr)
        t, b, _ = x.shape
        n = weight.shape[0]
        u_t = torch.from_numpy(u).reshape(len(u), b, n)
        ctx.save_for_backward(weight, u_t, beta_full)
        ctx.active = active
        ctx.cfg = (threshold, reset, detach, kind, scale)
        ctx.has_bias = bias is not None
        ctx.in_shape = x.shape
        return torch.from_numpy(s.reshape(t, b, n))  # not a view: it carries its CSR

    @staticmethod
    def backward(ctx, g_spikes):
        weight, u, beta_full = ctx.saved_tensors
        need_x, need_w, need_b, need_beta = ctx.needs_input_grad[:4]
        g_cur, g_beta = _backward_impl(g_spikes, u.new_zeros(u.shape[1:]), u, beta_full,
                                       *ctx.cfg, need_beta=bool(need_beta))
        g_x, g_w, g_b = linear_grads(g_cur.reshape(-1, g_cur.shape[-1]), weight, ctx.active,
                                     ctx.in_shape, need_x, need_w, ctx.has_bias and need_b)
        return (g_x, g_w, g_b, g_beta if need_beta else None, None, None, None, None, None,
                None, None, None)


def supports(x: torch.Tensor, weight: torch.Tensor, beta, spike_fn) -> bool:
    """Whether :func:`event_linear_lif` can run: ``x[T >= 1, B, in]`` on the CPU in the
    weight's dtype (float32 or float64), one of the five surrogates, a CPU beta that
    broadcasts to ``[B, out]``; not while ``torch.compile`` traces (the fused LIF's custom
    operators are what it traces)."""
    if type(spike_fn) not in KINDS or x.dim() != 3 or x.shape[0] == 0:
        return False
    if x.device.type != "cpu" or x.dtype != weight.dtype:
        return False
    if x.dtype not in (torch.float32, torch.float64) or torch.compiler.is_compiling():
        return False
    return beta_fits(beta, (x.shape[1], weight.shape[0]))


def event_linear_lif(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, beta,
                     threshold: float, reset: str, spike_fn, detach_reset: bool,
                     active: tuple[np.ndarray, np.ndarray]) -> torch.Tensor:
    """Spikes ``[T, B, out]`` of LIF neurons driven by ``x[T, B, in] @ weight.T + bias``,
    where ``x`` is binary and ``active`` its active inputs
    (:func:`~spikewave.kernels.spike_linear.active_inputs` of ``x`` flattened to rows);
    gradients to ``x``, ``weight``, ``bias`` and a tensor ``beta`` (see the module
    docstring; :func:`supports` says when it applies)."""
    t, b, _ = x.shape
    n = weight.shape[0]
    if not isinstance(beta, torch.Tensor):
        beta = torch.tensor(float(beta), dtype=x.dtype)
    beta_full = beta.to(x.dtype).expand(b, n)
    grads = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad
                                         or beta.requires_grad
                                         or (bias is not None and bias.requires_grad))
    listed: list = []
    spikes = _EventLinearLIF.apply(x, weight, bias, beta_full, float(threshold),
                                   RESETS[reset], bool(detach_reset), KINDS[type(spike_fn)],
                                   float(spike_fn.scale), active, grads, listed)
    if listed[0] is not None:  # the next event-driven layer needs no scan
        attach_active(spikes, listed[0])
    return spikes
