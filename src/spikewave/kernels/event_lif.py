"""An event-driven dense layer and its LIF neurons in one forward pass.

``I[t] = s[t] @ W.T + b`` for binary spikes ``s`` feeds the LIF of
:mod:`spikewave.kernels.lif_fused`. Composed as two layers (:mod:`spikewave.kernels.spike_linear`
then the fused LIF), the forward pass writes the current ``I[T, B, N]`` to memory and the
LIF reads it back; here each thread takes blocks of 16 neurons and, for each batch row and
step, sums the 16-value rows of the weight panel of the active inputs in vector registers
(:func:`~spikewave.kernels.spike_gather.panels`; the block's panel stays in the core's
first-level cache) and steps the block's neurons from that sum (``V = beta Vr + I``,
spike, reset): the current is never stored.

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
from spikewave.kernels._simd import NARROW, panel_lif_step, sum_panel_rows
from spikewave.kernels._surrogate import OWN, derivative_rows
from spikewave.kernels._threads import parallel_for
from spikewave.kernels.lif_fused import (
    _backward_impl,
    _membrane_row,
    _step_row,
    as_tensor,
    spec_args,
)
from spikewave.kernels.spike_gather import block_items, padded_row, weight_panels
from spikewave.kernels.spike_linear import linear_grads
from spikewave.neurons.specs import LIFSpec


@njit
def _gather_and_step(ptr, idx, panel_of, bias_pad, beta, thr, reset, k0, k1, b0, b1,
                     n_batch, u_out, s_out, v, cur):  # pragma: no cover - compiled
    """For the neurons of blocks k0..k1 (16 each) of batch rows b0..b1, step by step:
    ``cur = bias + sum of the panel rows of the inputs active in row (t, b)`` (CSR row
    ``t n_batch + b``), then one LIF step of those neurons from it, all in vector
    registers (:func:`~spikewave.kernels._simd.panel_lif_step`; a short last block by
    :func:`~spikewave.kernels._simd.sum_panel_rows` into ``cur``, then
    :func:`~spikewave.kernels.lif_fused._membrane_row`): ``u_out[t]`` (or its single
    row) and ``s_out[t]`` written, ``v`` (the reset potentials, ``[n_batch x N]``, holding
    the state before the first step) updated in place. ``beta`` is ``[n_batch, N]``, or
    ``[1, N]`` when the same for every batch row."""
    n = v.shape[0] // n_batch  # neurons per batch row
    thr = v.dtype.type(thr)
    subtract = reset == 0
    for k in range(k0, k1):
        c0 = k * NARROW
        if n - c0 >= NARROW:
            _step_block(ptr, idx, panel_of[k], bias_pad[c0:c0 + NARROW], beta, thr, subtract,
                        c0, b0, b1, n_batch, u_out, s_out, v)
        else:  # a short last block
            _step_short_block(ptr, idx, panel_of[k], bias_pad[c0:c0 + NARROW], beta, thr,
                              reset, c0, n - c0, b0, b1, n_batch, u_out, s_out, v, cur)


@njit
def _step_block(ptr, idx, panel, init, beta, thr, subtract, c0, b0, b1, n_batch, u_out,
                s_out, v):  # pragma: no cover - compiled
    """:func:`_gather_and_step` of one whole block of 16 neurons."""
    n = v.shape[0] // n_batch
    for b in range(b0, b1):
        m0 = b * n + c0
        vr = v[m0:m0 + NARROW]
        beta_seg = _step_row(beta, b)[c0:c0 + NARROW]
        for t in range(s_out.shape[0]):
            r = t * n_batch + b
            panel_lif_step(panel, idx, ptr[r], ptr[r + 1], init, beta_seg, vr,
                           _step_row(u_out, t)[m0:m0 + NARROW], s_out[t, m0:m0 + NARROW],
                           thr, subtract)


@njit
def _step_short_block(ptr, idx, panel, init, beta, thr, reset, c0, width, b0, b1, n_batch,
                      u_out, s_out, v, cur):  # pragma: no cover - compiled
    """:func:`_gather_and_step` of a last block of ``width`` < 16 neurons."""
    n = v.shape[0] // n_batch
    for b in range(b0, b1):
        m0 = b * n + c0
        m1 = m0 + width
        vr = v[m0:m1]
        beta_seg = _step_row(beta, b)[c0:c0 + width]
        for t in range(s_out.shape[0]):
            r = t * n_batch + b
            sum_panel_rows(panel, idx, ptr[r], ptr[r + 1], init, cur)
            _membrane_row(beta_seg, vr, cur, _step_row(u_out, t)[m0:m1], s_out[t, m0:m1],
                          thr, reset)


def _forward_arrays(x_shape: tuple[int, int, int], active: tuple[np.ndarray, np.ndarray],
                    weight: torch.Tensor, bias: torch.Tensor | None, beta_full: torch.Tensor,
                    v0: torch.Tensor, threshold: float, reset: int, keep_u: bool
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(spikes[T, B N], U[T or 1, B N], v_last[B N])`` of the layer from the reset
    potentials ``v0``, the blocks of 16 neurons (and the batch rows, for a narrow layer)
    shared among the threads (:func:`~spikewave.kernels.spike_gather.block_items`)."""
    t, b, _ = x_shape
    n = weight.shape[0]
    ptr, idx = active
    panel_of = weight_panels(weight)
    bias_np = (bias.detach().numpy() if bias is not None else np.zeros(n, panel_of.dtype))
    bias_pad = padded_row(bias_np, panel_of.shape[0])
    beta = beta_full.detach()
    if beta.stride(0) == 0:  # the same for every batch row (expanded): one row, in cache
        beta = beta[:1]
    beta = beta.contiguous().numpy()
    s = buffers.empty((t, b * n), panel_of.dtype)
    u = (buffers.empty((t, b * n), panel_of.dtype) if keep_u
         else np.empty((1, b * n), panel_of.dtype))
    v = v0.detach().reshape(-1).to(weight.dtype).numpy().copy()

    def run(item: tuple[int, int, int, int]) -> None:
        k0, k1, b0, b1 = item
        _gather_and_step(ptr, idx, panel_of, bias_pad, beta, threshold, reset, k0, k1, b0,
                         b1, b, u, s, v, np.empty(NARROW, panel_of.dtype))

    parallel_for(run, block_items(panel_of.shape[0], b))
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
        ctx.save_for_backward(weight, u_t, beta_full, v0, x)
        ctx.active = active
        ctx.cfg = (threshold, reset, detach, kind, scale)
        ctx.surrogate = surrogate
        ctx.has_bias = bias is not None
        ctx.set_materialize_grads(False)
        return torch.from_numpy(s.reshape(t, b, n)), torch.from_numpy(v.reshape(b, n))

    @staticmethod
    def backward(ctx, g_spikes, g_v):
        weight, u, beta_full, v0, x = ctx.saved_tensors
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
                                     x, need_x, need_w, ctx.has_bias and need_b)
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
