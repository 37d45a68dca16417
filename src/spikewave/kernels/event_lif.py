"""An event-driven dense layer and its LIF neurons in one forward pass.

``I[t] = s[t] @ W.T + b`` for binary spikes ``s`` feeds the LIF of
:mod:`spikewave.kernels.lif_fused`. Composed as two layers (:mod:`spikewave.kernels.spike_linear`
then the fused LIF), the forward pass writes the current ``I[T, B, N]`` to memory and the
LIF reads it back; here each thread takes a range of batch rows and, step by step, sums the
weight rows of a row's active inputs into one buffer row that stays in the core's cache and
steps the row's neurons from it (``V = beta Vr + I``, spike, reset) before the next row:
the current is never stored. The potentials (kept for the backward pass) and the spikes are
written with non-temporal stores where the rows are aligned (the pooled arrays are;
:func:`~spikewave.kernels._simd.membrane_row_streamed`): straight to memory, without reading
the lines first.

The values are those of the composition to the bit (same current, summed in the same
order; same recurrence), and the backward pass is the composition's: the LIF backward over
the saved potentials gives the current's gradient, from which the weight and bias gradients
are summed over the active inputs and the input gradient is the dense product.
"""

from __future__ import annotations

import numpy as np
import torch

from spikewave._numba import njit
from spikewave.kernels import _buffers as buffers
from spikewave.kernels._simd import membrane_row_streamed, store_fence
from spikewave.kernels._surrogate import OWN, derivative_rows
from spikewave.kernels._threads import balanced_split, parallel_for
from spikewave.kernels.lif_fused import (
    _backward_impl,
    _membrane_row,
    _step_row,
    as_tensor,
    spec_args,
)
from spikewave.kernels.spike_gather import _sum_rows, column_blocks, copied_columns, transposed
from spikewave.kernels.spike_linear import linear_grads
from spikewave.neurons.specs import LIFSpec


@njit
def _gather_and_step(ptr, idx, w_t, bias, beta, thr, reset, b0, b1, n_batch, u_out, s_out,
                     v, cur, c0):  # pragma: no cover - compiled
    """For t = 0, 1, ... and batch rows b0..b1: ``cur = bias + sum of the W.T rows of the
    inputs active in row (t, b)`` (CSR row ``t n_batch + b``), then one LIF step of that
    row's neurons from ``cur`` (:func:`~spikewave.kernels.lif_fused._membrane_row`, or
    its copy with non-temporal stores, :func:`~spikewave.kernels._simd.membrane_row_streamed`,
    where the rows are 32-byte aligned and a multiple of 8 long):
    ``u_out[t]`` (or its single row) and ``s_out[t]`` written, ``v`` (the reset potentials,
    ``[n_batch x N]``, holding the state before the first step) updated in place. ``beta``
    is ``[n_batch, N]``, or ``[1, N]`` when the same for every batch row. Only the neurons
    ``c0 .. c0 + w_t.shape[1]`` of each row when ``w_t`` (and ``bias``) hold just their
    columns (a block of a weight too large for the cache,
    :func:`~spikewave.kernels.spike_gather.column_blocks`)."""
    n = w_t.shape[1]
    n_all = v.shape[0] // n_batch  # neurons per batch row
    thr = w_t.dtype.type(thr)
    streamed = False
    spare = np.empty(n, w_t.dtype)
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
                membrane_row_streamed(beta_seg, v[m0:m1], cur, u_seg, s_seg, spare, thr,
                                      reset == 0)
                streamed = True
            else:
                _membrane_row(beta_seg, v[m0:m1], cur, u_seg, s_seg, thr, reset)
    if streamed:
        store_fence()


def _forward_arrays(x_shape: tuple[int, int, int], active: tuple[np.ndarray, np.ndarray],
                    weight: torch.Tensor, bias: torch.Tensor | None, beta_full: torch.Tensor,
                    v0: torch.Tensor, threshold: float, reset: int, keep_u: bool
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(spikes[T, B N], U[T or 1, B N], v_last[B N])`` of the layer from the reset
    potentials ``v0``, batch rows split over threads so that each gets about the same
    number of active inputs (plus a fixed cost per row for its neuron step). A weight too
    large for the cache is taken a block of neurons at a time
    (:func:`~spikewave.kernels.spike_gather.column_blocks`, the same values)."""
    t, b, _ = x_shape
    n = weight.shape[0]
    ptr, idx = active
    w_t = transposed(weight)
    bias_np = (bias.detach().numpy() if bias is not None else np.zeros(n, w_t.dtype))
    beta = beta_full.detach()
    if beta.stride(0) == 0:  # the same for every batch row (expanded): one row, in cache
        beta = beta[:1]
    beta = beta.contiguous().numpy()
    s = buffers.empty((t, b * n), w_t.dtype)
    u = buffers.empty((t, b * n), w_t.dtype) if keep_u else np.empty((1, b * n), w_t.dtype)
    v = v0.detach().reshape(-1).to(weight.dtype).numpy().copy()
    per_batch_row = np.diff(ptr).reshape(t, b).sum(0)
    offsets = np.zeros(b + 1, np.int64)
    np.cumsum(per_batch_row, out=offsets[1:])
    parts = balanced_split(offsets, 3.0 * t)  # + bias copy and neuron step of T rows
    for c0, c1 in column_blocks(w_t.shape[0], n, w_t.itemsize):
        whole = c1 - c0 == n
        w_block = w_t if whole else copied_columns(w_t, c0, c1)
        bias_block = bias_np if whole else np.ascontiguousarray(bias_np[c0:c1])

        def run(k: int, c0=c0, w_block=w_block, bias_block=bias_block) -> None:
            _gather_and_step(ptr, idx, w_block, bias_block, beta, threshold, reset,
                             parts[k][0], parts[k][1], b, u, s, v,
                             np.empty(w_block.shape[1], w_t.dtype), c0)

        parallel_for(run, range(len(parts)))
    return s, u, v


class _EventLinearLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, beta_full, v0, threshold, reset, detach, kind, scale,
                active, keep_u, surrogate):
        s, u, v = _forward_arrays(tuple(x.shape), active, weight, bias, beta_full, v0,
                                  threshold, reset, keep_u)
        t, b, _ = x.shape
        n = weight.shape[0]
        u_t = torch.from_numpy(u).reshape(len(u), b, n)
        ctx.save_for_backward(weight, u_t, beta_full, v0)
        ctx.active = active
        ctx.cfg = (threshold, reset, detach, kind, scale)
        ctx.surrogate = surrogate
        ctx.has_bias = bias is not None
        ctx.in_shape = x.shape
        ctx.set_materialize_grads(False)
        return torch.from_numpy(s.reshape(t, b, n)), torch.from_numpy(v.reshape(b, n))

    @staticmethod
    def backward(ctx, g_spikes, g_v):
        weight, u, beta_full, v0 = ctx.saved_tensors
        need_x, need_w, need_b, need_beta, need_v0 = ctx.needs_input_grad[:5]
        if g_spikes is None:
            g_spikes = u.new_zeros((1, *u.shape[1:]))
        if g_v is None:
            g_v = u.new_zeros(u.shape[1:])
        pre = (derivative_rows(ctx.surrogate, u.reshape(u.shape[0], -1).numpy())
               if ctx.cfg[3] == OWN else None)
        extra = {} if pre is None else {"pre": pre}
        g_cur, g_beta, g_v0 = _backward_impl(g_spikes, g_v, u, beta_full, v0, *ctx.cfg,
                                             need_beta=bool(need_beta), **extra)
        g_x, g_w, g_b = linear_grads(g_cur.reshape(-1, g_cur.shape[-1]), weight, ctx.active,
                                     ctx.in_shape, need_x, need_w, ctx.has_bias and need_b)
        return (g_x, g_w, g_b, g_beta if need_beta else None, g_v0 if need_v0 else None,
                None, None, None, None, None, None, None, None)


def event_linear_lif(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, beta,
                     v0: torch.Tensor | None, spec: LIFSpec,
                     active: tuple[np.ndarray, np.ndarray]
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(spikes[T, B, out], v_last[B, out])`` of the LIF of ``spec`` driven by
    ``x[T, B, in] @ weight.T + bias`` from the reset potentials ``v0`` (zeros when None),
    where ``x`` is binary and ``active`` its active inputs
    (:func:`~spikewave.kernels.spike_scan.active_inputs` of ``x`` flattened to rows), on
    the CPU in the weight's dtype; gradients to ``x``, ``weight``, ``bias``, a tensor
    ``beta`` and ``v0`` (see the module docstring)."""
    t, b, _ = x.shape
    n = weight.shape[0]
    beta = as_tensor(beta, x)
    beta_full = beta.expand(b, n)
    v0 = x.new_zeros(b, n) if v0 is None else v0.to(x.dtype).expand(b, n)
    grads = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad
                                         or beta.requires_grad or v0.requires_grad
                                         or (bias is not None and bias.requires_grad))
    return _EventLinearLIF.apply(x, weight, bias, beta_full, v0, *spec_args(spec), active,
                                 grads, spec.surrogate)
