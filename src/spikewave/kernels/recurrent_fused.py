"""Fused CPU kernel of the recurrent LIF time loop: event-driven forward, one GEMM per step
backward.

The recurrence of :func:`spikewave.neurons.steps.recurrent_lif_step` from rest (for
``x[T, B, N]`` and ``w_rec[N, N]``)::

    I[t]  = x[t] + S[t-1] @ w_rec.T                (S[-1] = 0)
    V[t]  = beta Vr[t-1] + I[t],   U[t] = V[t] - thr,   S[t] = H(U[t])
    Vr[t] = V[t] - thr S[t]  (subtract)   or   V[t] (1 - S[t])  (zero)

Forward: ``S[t-1]`` is binary and sparse, so ``S[t-1] @ w_rec.T`` is the sum of the rows of
``w_rec.T`` of the neurons that spiked (a gather, ``B * k * N`` additions for ``k`` spikes
per row instead of the ``B * N * N`` multiply-adds of a dense product); batch rows are
independent and run on separate threads, each over the whole time loop. Only ``U`` is
stored (spikes are ``U >= 0``).

Backward, in reverse time, with ``sg = P'(U[t])`` the surrogate's derivative and ``dVr/dV``
as in :mod:`spikewave.kernels.lif_fused`::

    gS[t]  = g_spikes[t] + gV[t+1] @ w_rec          (one dense GEMM per step)
    gV[t]  = gS[t] sg + gVr[t] dVr/dV,   gx[t] = gV[t],   gVr[t-1] = beta gV[t]
    gbeta += gV[t] Vr[t-1],   g_w_rec = sum_t gV[t].T @ S[t-1]

``g_w_rec`` is summed over the spikes only (``B * k * N`` per step: for each presynaptic
neuron, the ``gV`` rows of the steps after it spiked, as in
:func:`spikewave.kernels.spike_wgrad.add_weight_grad_t`) up to 12 % spikes, else one GEMM
over all steps. Registered as ``spikewave::recurrent_lif_forward`` with its
autograd rule and fake (meta) implementations, like the other fused kernels. Parity with
the reference is tested: identical spikes, gradients to 1e-10 in float64.
"""

from __future__ import annotations

import numpy as np
import torch

from spikewave._numba import njit
from spikewave.kernels._surrogate import sg_row
from spikewave.kernels._threads import parallel_for, split_range
from spikewave.kernels.lif_fused import _gradient_row, _membrane_row, as_tensor, spec_args
from spikewave.kernels.spike_gather import _sum_rows
from spikewave.kernels.spike_scan import active_inputs
from spikewave.kernels.spike_wgrad import weight_grad
from spikewave.neurons.specs import LIFSpec


@njit
def _forward(x, w_t, beta, thr, reset, b0, b1, u_out, s_out, v_last):  # pragma: no cover
    """Batch rows ``b0:b1`` of ``x[T, B, N]`` through the whole time loop; ``w_t`` is
    ``w_rec.T`` (row ``j``: the weights from neuron ``j``), whose rows for the neurons that
    spiked are summed four per pass (:func:`~spikewave.kernels.spike_gather._sum_rows`).
    The membrane update is :func:`~spikewave.kernels.lif_fused._membrane_row`; the spiking
    neurons are listed after it."""
    thr = x.dtype.type(thr)
    n_t, n = x.shape[0], x.shape[2]
    drive = np.empty(n, x.dtype)
    active = np.empty(n, np.int64)
    for b in range(b0, b1):
        vr = v_last[b]
        vr[:] = 0.0
        n_active = 0
        for t in range(n_t):
            drive[:] = 0.0
            _sum_rows(w_t, active, 0, n_active, drive)
            xt = x[t, b]
            for i in range(n):
                drive[i] = xt[i] + drive[i]  # x[t] + S[t-1] @ w_rec.T
            _membrane_row(beta[b], vr, drive, u_out[t, b], s_out[t, b], thr, reset)
            n_active = 0
            for i in range(n):
                if u_out[t, b, i] >= 0.0:
                    active[n_active] = i
                    n_active += 1


@njit
def _backward_step(g_s_t, u2, t, beta, thr, reset, detach, kind, scale, m0, m1, g_vr,
                   g_v_t, g_beta):  # pragma: no cover - compiled
    """Reverse step ``t`` over flat columns ``m0:m1`` (:func:`~spikewave.kernels.lif_fused.
    _gradient_row`): ``g_s_t`` already holds the recurrent term; writes ``gV[t]`` into
    ``g_v_t``, carries ``g_vr`` to step t-1, adds to ``g_beta``."""
    real = u2.dtype.type
    sg = np.empty(m1 - m0, u2.dtype)
    sg_row(u2[t], kind, scale, m0, m1, sg, np.empty((0, 0), u2.dtype), 0)
    _gradient_row(g_s_t[m0:m1], sg, u2[t, m0:m1], u2[t - 1 if t > 0 else 0, m0:m1], t > 0,
                  beta[m0:m1], real(thr), reset, real(0.0) if detach else real(1.0),
                  g_vr[m0:m1], g_v_t[m0:m1], g_beta[m0:m1])


@torch.library.custom_op("spikewave::recurrent_lif_forward", mutates_args=())
def recurrent_lif_forward_op(x: torch.Tensor, w_rec: torch.Tensor, beta_full: torch.Tensor,
                             threshold: float, reset: int, detach: bool, kind: int,
                             scale: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(spikes, U = V - thr, v_last)`` of the recurrent LIF over ``x[T, B, N]`` from rest."""
    x3 = x.detach().contiguous().numpy()
    w_t = w_rec.detach().t().contiguous().numpy()
    b = beta_full.detach().contiguous().numpy()
    u = np.empty_like(x3)
    s = np.empty_like(x3)
    v_last = np.empty(x3.shape[1:], x3.dtype)
    parallel_for(lambda r: _forward(x3, w_t, b, threshold, reset, r[0], r[1], u, s, v_last),
                 split_range(x3.shape[1]))
    return torch.from_numpy(s), torch.from_numpy(u), torch.from_numpy(v_last)


@recurrent_lif_forward_op.register_fake
def _(x, w_rec, beta_full, threshold, reset, detach, kind, scale):
    return torch.empty_like(x), torch.empty_like(x), x.new_empty(x.shape[1:])


# Above this fraction of spikes the weight gradient is one GEMM instead of sums over the
# spikes (spike_wgrad.add_weight_grad_t): where the two cost the same in benchmarks/run.py.
EVENT_DENSITY_LIMIT = 0.12


@torch.library.custom_op("spikewave::recurrent_lif_backward", mutates_args=())
def recurrent_lif_backward_op(g_s: torch.Tensor, g_v: torch.Tensor, u: torch.Tensor,
                              w_rec: torch.Tensor, beta_full: torch.Tensor, threshold: float,
                              reset: int, detach: bool, kind: int, scale: float
                              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients ``(g_x, g_w_rec, g_beta_full)`` from those of the spikes and ``v_last``."""
    n_t = u.shape[0]
    cols = u[0].numel()
    u2 = u.reshape(n_t, -1).contiguous().numpy()
    gs = g_s.detach().reshape(n_t, -1).to(u.dtype).contiguous()
    b = beta_full.detach().reshape(-1).contiguous().numpy()
    w = w_rec.detach().contiguous()
    g_x = torch.empty((n_t, cols), dtype=u.dtype)
    g_xn = g_x.numpy()
    g_vr = g_v.detach().reshape(-1).to(u.dtype).contiguous().numpy().copy()
    g_beta = np.zeros(cols, u2.dtype)
    blocks = split_range(cols, min_chunk=4096)
    g_s_t = torch.empty(u.shape[1:], dtype=u.dtype)
    for t in range(n_t - 1, -1, -1):
        if t == n_t - 1:
            g_s_t.copy_(gs[t].reshape(u.shape[1:]))
        else:  # the spikes of step t also drove step t + 1 through w_rec
            torch.addmm(gs[t].reshape(u.shape[1:]), g_x[t + 1].reshape(u.shape[1:]), w,
                        out=g_s_t)
        g_s_flat = g_s_t.reshape(-1).numpy()
        parallel_for(lambda r, t=t, g_s_flat=g_s_flat: _backward_step(
            g_s_flat, u2, t, b, threshold, reset, detach, kind, scale, r[0], r[1], g_vr,
            g_xn[t], g_beta), blocks)
    g_x3 = g_x.reshape(u.shape)
    if n_t == 1:
        return g_x3, torch.zeros_like(w), torch.from_numpy(g_beta).reshape(beta_full.shape)
    # g_w_rec[i, j] sums gV[t, b, i] over the spikes S[t-1, b, j]
    n = w.shape[0]
    spikes_before = (u[:-1] >= 0).to(u.dtype).reshape(-1, n)
    g_v_after = g_x3[1:].reshape(-1, n)
    active = active_inputs(spikes_before, EVENT_DENSITY_LIMIT)  # None when denser
    if active is not None:  # for each presynaptic neuron j, the rows (t, b) where it spiked
        g_w = torch.from_numpy(weight_grad(*active, g_v_after.numpy(), w.shape[1]))
    else:
        g_w = g_v_after.t() @ spikes_before
    return g_x3, g_w, torch.from_numpy(g_beta).reshape(beta_full.shape)


@recurrent_lif_backward_op.register_fake
def _(g_s, g_v, u, w_rec, beta_full, threshold, reset, detach, kind, scale):
    return torch.empty_like(u), torch.empty_like(w_rec), beta_full.new_empty(beta_full.shape)


def _setup_context(ctx, inputs, output) -> None:
    ctx.set_materialize_grads(False)  # unused outputs get None, not a tensor of zeros
    _, w_rec, beta_full, threshold, reset, detach, kind, scale = inputs
    ctx.save_for_backward(output[1], w_rec, beta_full)
    ctx.cfg = (threshold, reset, detach, kind, scale)


def _backward_rule(ctx, g_s, g_u, g_v):
    u, w_rec, beta_full = ctx.saved_tensors
    g_s = torch.zeros_like(u) if g_s is None else g_s
    g_v = u.new_zeros(u.shape[1:]) if g_v is None else g_v
    g_x, g_w, g_beta = recurrent_lif_backward_op(g_s, g_v, u, w_rec, beta_full, *ctx.cfg)
    return g_x, g_w, g_beta, None, None, None, None, None


recurrent_lif_forward_op.register_autograd(_backward_rule, setup_context=_setup_context)


def recurrent_lif_fused(x: torch.Tensor, w_rec: torch.Tensor, beta, spec: LIFSpec
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(spikes, v_last)`` of the recurrent LIF of ``spec`` over ``x[T, B, N]`` from rest
    (a built-in surrogate); gradients flow to ``x``, ``w_rec`` and a tensor ``beta``. The
    registry calls it for CPU float tensors of one dtype."""
    beta_full = as_tensor(beta, x).expand(x.shape[1:])
    spikes, _, v_last = recurrent_lif_forward_op(x, w_rec, beta_full, *spec_args(spec))
    return spikes, v_last
