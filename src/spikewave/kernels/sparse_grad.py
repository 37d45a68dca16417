"""Sparse-gradient backward pass of a dense layer feeding LIF neurons (Perez-Nieves &
Goodman 2021): only the "active" entries -- (step, sample, neuron) whose potential lies
within ``band`` of threshold -- carry a gradient, and only they are stored and visited.

With the surrogate cut to zero outside the band (:class:`spikewave.surrogate.BandLimited`), a
subtract reset whose gradient is detached and a fixed ``beta``, the backward pass of BPTT is
exactly (``delta = gS P'(U)`` on active entries, zero elsewhere)::

    gV[t] = delta[t] + beta gV[t+1]
    gW[j, i] = sum_t gV[t, j] x[t, i] = sum_active delta[t, b, j] tr[t, b, i],
    tr[t] = beta tr[t-1] + x[t]                           (the input's leaky trace)
    gb[j] = sum_active delta[t, b, j] (1 - beta^(t+1)) / (1 - beta)

so the weight gradient costs (active entries) x (inputs) instead of a product over every
step, and the forward pass keeps only the active entries' indices and potentials. The
traces are rebuilt step by step during the backward pass (one ``[B, inputs]`` buffer per
thread, inputs split over threads). The input gradient, when needed, is the dense
``gV @ W``. Parity with the reference path (``linear`` + the LIF loop with the same
band-limited surrogate) is tested.
"""

from __future__ import annotations

import numpy as np
import torch

from spikewave._numba import njit
from spikewave.kernels._surrogate import OWN, derivative_rows, kind_of, sg_row
from spikewave.kernels._threads import parallel_for, split_range
from spikewave.kernels.lif_fused import _forward
from spikewave.neurons.specs import LIFSpec
from spikewave.surrogate import BandLimited


@njit
def _weight_grad(x, beta, act_t, act_b, act_j, delta, i0, i1, g_w):  # pragma: no cover
    """``g_w[:, i0:i1] += sum_k delta[k] tr[act_t[k], act_b[k], i0:i1]`` with the traces
    rebuilt over time; ``act_t`` is sorted."""
    n_t, n_b = x.shape[0], x.shape[1]
    tr = np.zeros((n_b, i1 - i0), x.dtype)
    k = 0
    n_act = act_t.shape[0]
    for t in range(n_t):
        for b in range(n_b):
            for i in range(i0, i1):
                tr[b, i - i0] = beta * tr[b, i - i0] + x[t, b, i]
        while k < n_act and act_t[k] == t:
            d = delta[k]
            row = tr[act_b[k]]
            j = act_j[k]
            for i in range(i0, i1):
                g_w[j, i] += d * row[i - i0]
            k += 1


class _SparseGradLinearLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, beta, threshold, base, band, active):
        from spikewave.kernels.chunked_lif import _Chunks

        chunks = _Chunks(x.detach(), weight, bias, active)
        t, b, n = chunks.t, chunks.b, chunks.n_out
        dtype = chunks.bias.dtype
        cols = b * n
        current = np.empty((t, cols), dtype)
        chunks.current(0, t, current.reshape(t * b, n))
        u = np.empty_like(current)
        spikes = np.empty_like(current)
        v = np.zeros(cols, dtype)
        beta_cols = np.full(cols, beta, dtype)
        parallel_for(lambda r: _forward(current, beta_cols, threshold, 0, r[0], r[1], u,
                                        spikes, v), split_range(cols, min_chunk=4096))
        act_t, act_c = np.nonzero(np.abs(u) < band)  # sorted by step
        ctx.u_active = u[act_t, act_c]  # the dense current and U are freed on return
        ctx.act_t, ctx.act_b, ctx.act_j = (act_t.astype(np.int32), (act_c // n).astype(np.int32),
                                           (act_c % n).astype(np.int32))
        ctx.save_for_backward(x, weight)
        ctx.cfg = (beta, base, t, b, n, bias is not None)
        return torch.from_numpy(spikes).reshape(t, b, n), torch.from_numpy(v).reshape(b, n)

    @staticmethod
    def backward(ctx, g_spikes, g_v_last):
        x, weight = ctx.saved_tensors
        beta, base, t, b, n, has_bias = ctx.cfg
        dtype = ctx.u_active.dtype
        g_s = g_spikes.detach().to(weight.dtype).numpy()
        act_t, act_b, act_j = ctx.act_t, ctx.act_b, ctx.act_j
        kind = kind_of(base)
        if kind == OWN:
            sg = derivative_rows(base, ctx.u_active)[0]
        else:
            sg = np.empty(len(act_t), dtype)
            sg_row(ctx.u_active, kind, float(base.scale), 0, len(act_t), sg,
                   np.empty((0, 0), dtype), 0)
        delta = g_s[act_t, act_b, act_j] * sg
        nz = delta != 0
        act_t, act_b, act_j, delta = act_t[nz], act_b[nz], act_j[nz], delta[nz]
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        # the last state's gradient reaches every step: gV[t] += beta^(T-1-t) g_v_last
        g_last = (g_v_last.detach().to(weight.dtype).numpy()
                  if g_v_last is not None and bool(g_v_last.any()) else None)
        g_x = g_w = g_b = None
        if need_w:
            x_np = x.detach().contiguous().numpy()
            g_w_np = np.zeros((n, x_np.shape[2]), dtype)
            parallel_for(lambda r: _weight_grad(x_np, dtype.type(beta), act_t, act_b, act_j,
                                                delta, r[0], r[1], g_w_np),
                         split_range(x_np.shape[2], min_chunk=16))
            if g_last is not None:  # g_v_last.T @ (the input's trace at the last step)
                decay = beta ** np.arange(t - 1, -1, -1.0)
                trace = np.tensordot(decay.astype(dtype), x_np, axes=(0, 0))
                g_w_np += g_last.T @ trace
            g_w = torch.from_numpy(g_w_np)
        if need_b and has_bias:
            steps = (1.0 - beta ** (act_t + 1.0)) / (1.0 - beta)
            g_b_np = np.bincount(act_j, delta * steps, minlength=n).astype(dtype)
            if g_last is not None:
                g_b_np += g_last.sum(0) * dtype.type((1.0 - beta ** t) / (1.0 - beta))
            g_b = torch.from_numpy(g_b_np)
        if need_x:
            g_v = np.zeros((t, b, n), dtype)
            g_v[act_t, act_b, act_j] = delta
            if g_last is not None:
                g_v[t - 1] += g_last
            for step in range(t - 2, -1, -1):
                g_v[step] += beta * g_v[step + 1]
            g_x = torch.from_numpy(g_v) @ weight.detach()
        ctx.u_active = ctx.act_t = ctx.act_b = ctx.act_j = None
        return g_x, g_w, g_b, None, None, None, None, None


def applies(beta, spec: LIFSpec) -> bool:
    """Whether the sparse backward pass computes this layer's gradients exactly: a
    :class:`~spikewave.surrogate.BandLimited` surrogate, the subtract reset with its
    gradient detached, and a fixed scalar ``beta`` (no gradient)."""
    if not isinstance(spec.surrogate, BandLimited):
        return False
    if spec.reset != "subtract" or not spec.detach_reset:
        return False
    return not (isinstance(beta, torch.Tensor) and (beta.requires_grad or beta.numel() != 1))


def linear_lif_sparse_grad(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                           beta, spec: LIFSpec, active: tuple[np.ndarray, np.ndarray] | None
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(spikes[T, B, out], v_last)`` of the LIF of ``spec`` from rest driven by
    ``x @ weight.T + bias``, with the sparse backward pass of the module docstring
    (:func:`applies` says when it is exact; a gradient of ``v_last`` reaches every step,
    dense, as the detached subtract reset passes it unchanged). CPU tensors of
    one float dtype; ``active``: the active entries of a binary ``x``, or None."""
    beta_f = float(beta.item() if isinstance(beta, torch.Tensor) else beta)
    surrogate = spec.surrogate
    return _SparseGradLinearLIF.apply(x.contiguous(), weight, bias, beta_f,
                                      float(spec.threshold), surrogate.base,
                                      float(surrogate.band), active)
