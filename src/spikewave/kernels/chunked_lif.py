"""A dense synapse layer and its LIF neurons in one pass, with BPTT memory independent of T.

``I[t] = x[t] @ W.T + b`` feeds the LIF of :mod:`spikewave.kernels.lif_fused`. The usual
composition (a linear layer, then the LIF) keeps ``I`` and ``V`` of every step for the
backward pass; here time is cut into chunks of ``chunk_steps`` steps and only the membrane
state at the start of each chunk is kept. The backward pass walks the chunks in reverse,
recomputes each chunk's current and potentials from its saved start state (the forward over
the chunk again), runs the LIF backward over it, and adds the chunk's share to the weight
gradient (and writes the input gradient, when the input needs one) -- checkpointing over time
(Chen et al. 2016, applied to the time axis). What is held from the forward to the backward
pass: the output spikes (returned anyway), ``T / chunk_steps`` states of ``[B, N]``, and for
binary input the indices of its active entries; work buffers are one chunk long. The cost is
one more forward over the layer during the backward pass -- cheap when the input is sparse
binary spikes, as the current is then gathered from the weight rows of the active inputs
(:mod:`spikewave.kernels.spike_linear`) both times.

Values equal those of ``spike_linear`` / ``linear`` followed by the LIF (same spikes;
gradients equal up to summation order), which the tests check. The state before the first
step and after the last are an input and an output, with their gradients.
"""

from __future__ import annotations

import numpy as np
import torch

from spikewave.kernels._surrogate import OWN, derivative_rows
from spikewave.kernels._threads import parallel_for, split_range
from spikewave.kernels.lif_fused import _backward, _forward, as_tensor, spec_args
from spikewave.kernels.spike_gather import gather_into, weight_panels
from spikewave.kernels.spike_wgrad import add_weight_grad_t
from spikewave.neurons.specs import LIFSpec


class _Chunks:
    """The per-chunk current ``I = x W^T + b``: gathered over active inputs, or dense."""

    def __init__(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                 active: tuple[np.ndarray, np.ndarray] | None) -> None:
        self.t, self.b, self.n_in = x.shape
        self.x = x
        self.weight = weight.detach()
        self.n_out = weight.shape[0]
        self.bias = (bias.detach().numpy() if bias is not None
                     else np.zeros(self.n_out, self.weight.numpy().dtype))
        self.active = active  # binary input's active entries (event path), or None
        self.panels = weight_panels(weight) if active is not None else None

    def current(self, t0: int, t1: int, out: np.ndarray) -> None:
        r0, r1 = t0 * self.b, t1 * self.b
        if self.active is not None:
            ptr, idx = self.active
            chunk_ptr = ptr[r0:r1 + 1]
            gather_into(chunk_ptr, idx, self.panels, self.bias, out)
        else:
            x2 = self.x[t0:t1].reshape(-1, self.n_in)
            torch.addmm(torch.from_numpy(self.bias), x2, self.weight.T,
                        out=torch.from_numpy(out))

    def add_weight_grad(self, t0: int, t1: int, g_cur: np.ndarray, g_w_t: np.ndarray | None,
                        g_w: torch.Tensor) -> None:
        """The chunk's share of the weight gradient: into ``g_w_t`` (``[in, out]``) for
        binary input, else into ``g_w``."""
        r0, r1 = t0 * self.b, t1 * self.b
        if self.active is not None:
            ptr, idx = self.active
            add_weight_grad_t(ptr[r0:r1 + 1], idx, g_cur, g_w_t, accumulate=True)
        else:
            g_w.addmm_(torch.from_numpy(g_cur).T, self.x[t0:t1].reshape(-1, self.n_in))


class _LinearLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, beta_full, v0, threshold, reset, detach, kind, scale,
                chunk_steps, active, surrogate):
        chunks = _Chunks(x.detach(), weight, bias, active)
        t, b, n = chunks.t, chunks.b, chunks.n_out
        dtype = chunks.bias.dtype
        beta = beta_full.detach().reshape(-1).contiguous().numpy()
        cols = b * n
        n_chunks = -(-t // chunk_steps)
        starts = np.zeros((n_chunks, cols), dtype)  # the state before each chunk
        spikes = np.empty((t, cols), dtype)
        cur = np.empty((chunk_steps, cols), dtype)
        u = np.empty((chunk_steps, cols), dtype)
        v = v0.detach().reshape(-1).to(weight.dtype).numpy().copy()
        blocks = split_range(cols, min_chunk=4096)
        for c in range(n_chunks):
            t0, t1 = c * chunk_steps, min(t, (c + 1) * chunk_steps)
            k = t1 - t0
            starts[c] = v
            chunks.current(t0, t1, cur[:k].reshape(k * b, n))
            parallel_for(lambda r, k=k, t0=t0, t1=t1: _forward(
                cur[:k], beta, threshold, reset, r[0], r[1], u[:k], spikes[t0:t1], v),
                blocks)
        ctx.chunks = chunks
        ctx.save_for_backward(weight, beta_full)
        ctx.cfg = (threshold, reset, detach, kind, scale, chunk_steps, blocks)
        ctx.starts = starts
        ctx.has_bias = bias is not None
        ctx.surrogate = surrogate
        ctx.set_materialize_grads(False)
        return torch.from_numpy(spikes).reshape(t, b, n), torch.from_numpy(v).reshape(b, n)

    @staticmethod
    def backward(ctx, g_spikes, g_vlast):
        weight, beta_full = ctx.saved_tensors
        thr, reset, detach, kind, scale, chunk_steps, blocks = ctx.cfg
        chunks: _Chunks = ctx.chunks
        t, b, n = chunks.t, chunks.b, chunks.n_out
        dtype = chunks.bias.dtype
        cols = b * n
        beta = beta_full.detach().reshape(-1).contiguous().numpy()
        if g_spikes is None:
            g_spikes = torch.zeros((), dtype=weight.dtype).expand(t, b, n)
        g_s = g_spikes.detach().reshape(t, cols).numpy()  # often an expanded (stride-0) view
        cur = np.empty((chunk_steps, cols), dtype)
        u = np.empty((chunk_steps, cols), dtype)
        s_tmp = np.empty((chunk_steps, cols), dtype)
        g_cur = np.empty((chunk_steps, cols), dtype)
        v = np.empty(cols, dtype)
        g_v = (np.zeros(cols, dtype) if g_vlast is None  # of the state after the chunk walked
               else g_vlast.detach().reshape(-1).to(weight.dtype).numpy().copy())
        g_v_start = np.empty(cols, dtype)
        g_beta = np.zeros(cols, dtype)
        g_beta_chunk = np.empty(cols, dtype)
        need_x, need_w, need_b, _, need_v0 = ctx.needs_input_grad[:5]
        g_x = torch.empty(t, b, chunks.n_in, dtype=weight.dtype) if need_x else None
        g_w = torch.zeros_like(weight) if need_w else None
        g_w_t = (np.zeros((chunks.n_in, n), dtype)
                 if need_w and chunks.active is not None else None)
        g_b = np.zeros(n, dtype) if need_b and ctx.has_bias else None
        for c in range(len(ctx.starts) - 1, -1, -1):
            t0, t1 = c * chunk_steps, min(t, (c + 1) * chunk_steps)
            k = t1 - t0
            # recompute the chunk's current and potentials from its start state
            chunks.current(t0, t1, cur[:k].reshape(k * b, n))
            v[:] = ctx.starts[c]
            parallel_for(lambda r, k=k: _forward(cur[:k], beta, thr, reset, r[0], r[1], u[:k],
                                                 s_tmp[:k], v), blocks)
            gs = np.ascontiguousarray(g_s[t0:t1], dtype)
            start = ctx.starts[c]
            pre = (derivative_rows(ctx.surrogate, u[:k]) if kind == OWN
                   else np.empty((0, 0), dtype))
            parallel_for(lambda r, k=k, gs=gs, start=start, g_in=g_v, g_out=g_v_start,
                         pre=pre: _backward(
                gs, g_in, u[:k], beta, thr, reset, detach, kind, scale, r[0], r[1], g_cur[:k],
                g_beta_chunk, start, g_out, True, pre), blocks)
            g_beta += g_beta_chunk
            g_v, g_v_start = g_v_start, g_v
            g2 = g_cur[:k].reshape(k * b, n)
            if need_w:
                chunks.add_weight_grad(t0, t1, g2, g_w_t, g_w)
            if g_b is not None:
                g_b += g2.sum(0)
            if need_x:
                torch.mm(torch.from_numpy(g2), weight.detach(),
                         out=g_x[t0:t1].reshape(k * b, chunks.n_in))
        if g_w_t is not None:
            g_w += torch.from_numpy(g_w_t).T
        ctx.chunks = ctx.starts = None
        g_beta_t = torch.from_numpy(g_beta).reshape(beta_full.shape)
        g_b_t = torch.from_numpy(g_b) if g_b is not None else None
        g_v0 = torch.from_numpy(g_v.copy()).reshape(b, n) if need_v0 else None
        return (g_x, g_w, g_b_t, g_beta_t, g_v0, None, None, None, None, None, None, None,
                None)


def linear_lif_chunked(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                       beta, v0: torch.Tensor | None, spec: LIFSpec, chunk_steps: int,
                       active: tuple[np.ndarray, np.ndarray] | None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(spikes[T, B, out], v_last[B, out])`` of the LIF of ``spec`` driven by
    ``x[T, B, in] @ weight.T + bias`` from the reset potentials ``v0`` (zeros when None),
    keeping ``T / chunk_steps`` states for the backward pass (see the module docstring);
    gradients to ``x``, ``weight``, ``bias``, a tensor ``beta`` and ``v0``. CPU tensors of
    one float dtype. ``active``: the active entries of a binary ``x``
    (:func:`~spikewave.kernels.spike_scan.active_inputs`), for the event-driven gather,
    or None for the dense product."""
    t, b, _ = x.shape
    n = weight.shape[0]
    beta = as_tensor(beta, x)
    beta_full = beta.expand(b, n)
    v0 = x.new_zeros(b, n) if v0 is None else v0.to(x.dtype).expand(b, n)
    return _LinearLIF.apply(x.contiguous(), weight, bias, beta_full, v0, *spec_args(spec),
                            int(chunk_steps), active, spec.surrogate)
