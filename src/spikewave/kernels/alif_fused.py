"""Fused CPU kernels of the adaptive-threshold LIF (ALIF) time loop, forward and backward.

The recurrence of :func:`~spikewave.kernels.reference.alif_multistep_reference`, per
neuron, with ``a[-1] = 0`` and ``Vr[-1] = 0``::

    th[t] = thr + alpha a[t-1],   V[t] = beta Vr[t-1] + x[t],   S[t] = H(V[t] - th[t]),
    Vr[t] = V[t] - th[t] S[t]  (subtract)   or   V[t] (1 - S[t])  (zero),
    a[t]  = rho a[t-1] + S[t]

The forward pass keeps ``U = V - th`` and ``th`` per step. The backward pass, with
``sg = P'(U)`` the surrogate's derivative and ``S_r`` the spike as seen by the reset (no
gradient through it with a detached reset)::

    gS  = gS_out[t] + ga[t] + gVr[t] dVr/dS_r        (dVr/dS_r: -th subtract, -V zero)
    gV  = gS sg + gVr[t] dVr/dV                       (dVr/dV: 1 subtract, 1 - S zero)
    gth = -gS sg - gVr[t] S  (subtract; 0 more for zero reset)
    gx[t] = gV,  gVr[t-1] = beta gV,  ga[t-1] = rho ga[t] + alpha gth,  gbeta += gV Vr[t-1]

Registered as the custom operators ``spikewave::alif_forward`` (with its autograd rule) and
``spikewave::alif_backward``, each with a fake implementation. Parity with the reference is
tested (identical spikes, gradients to 1e-10 in float64).
"""

from __future__ import annotations

import numpy as np
import torch

from spikewave._numba import njit
from spikewave.kernels._threads import parallel_for
from spikewave.kernels.lif_fused import KINDS, RESETS, _blocks, _rows, _sg_row, _step_row


@njit
def _forward(x, beta, thr, alpha, rho, reset, m0, m1, u_out, th_out, s_out, a_last
             ):  # pragma: no cover - compiled
    """Computed in the arrays' precision, in one branch-free loop over 1-D row slices
    (which LLVM vectorises), as :func:`spikewave.kernels.lif_fused._membrane_row`: the
    reset is exactly ``V - th`` or 0 where S = 1, ``V`` elsewhere."""
    real = x.dtype.type
    thr, alpha, rho = real(thr), real(alpha), real(rho)
    one, zero = real(1.0), real(0.0)
    width = m1 - m0
    vr = np.zeros(width, x.dtype)
    b = beta[m0:m1]
    a = a_last[m0:m1]
    a[:] = zero
    for t in range(x.shape[0]):
        xt, ut, tht, st = x[t, m0:m1], u_out[t, m0:m1], th_out[t, m0:m1], s_out[t, m0:m1]
        for m in range(width):
            th = thr + alpha * a[m]
            v = b[m] * vr[m] + xt[m]
            u = v - th
            spike = one if u >= zero else zero
            ut[m] = u
            tht[m] = th
            st[m] = spike
            vr[m] = (v - th if reset == 0 else zero) if u >= zero else v
            a[m] = rho * a[m] + spike


@njit
def _backward(g_s, g_alast, u_all, th_all, beta, alpha, rho, reset, detach, kind, scale,
              m0, m1, g_x, g_beta):  # pragma: no cover - compiled
    real = u_all.dtype.type
    alpha, rho = real(alpha), real(rho)
    one, zero = real(1.0), real(0.0)
    width = m1 - m0
    b = beta[m0:m1]
    gb = g_beta[m0:m1]
    g_vr = np.zeros(width, u_all.dtype)
    g_a = g_alast[m0:m1].copy()
    sg = np.empty(width, u_all.dtype)
    gb[:] = zero
    cut = zero if detach else one
    for t in range(u_all.shape[0] - 1, -1, -1):
        _sg_row(u_all[t], kind, scale, m0, m1, sg)
        ut, tht, gxt = u_all[t, m0:m1], th_all[t, m0:m1], g_x[t, m0:m1]
        gst = _step_row(g_s, t)[m0:m1]  # T rows, or one shared
        if reset == 0:
            for m in range(width):
                u = ut[m]
                th = tht[m]
                spike = one if u >= zero else zero
                d = sg[m]
                gvr = g_vr[m]
                gs = gst[m] + g_a[m] - cut * gvr * th
                gv = gs * d + gvr
                gth = -gs * d - gvr * spike
                gxt[m] = gv
                g_vr[m] = b[m] * gv
                g_a[m] = rho * g_a[m] + alpha * gth
        else:
            for m in range(width):
                u = ut[m]
                v = u + tht[m]
                spike = one if u >= zero else zero
                d = sg[m]
                gvr = g_vr[m]
                gs = gst[m] + g_a[m] - cut * gvr * v
                gv = gs * d + gvr * (one - spike)
                gth = -gs * d
                gxt[m] = gv
                g_vr[m] = b[m] * gv
                g_a[m] = rho * g_a[m] + alpha * gth
        if t > 0:
            up, thp = u_all[t - 1, m0:m1], th_all[t - 1, m0:m1]
            if reset == 0:  # Vr[t-1] = (up + thp) - thp sp
                for m in range(width):
                    vr_prev = up[m] if up[m] >= zero else up[m] + thp[m]
                    gb[m] += gxt[m] * vr_prev
            else:  # Vr[t-1] = (up + thp)(1 - sp)
                for m in range(width):
                    vr_prev = zero if up[m] >= zero else up[m] + thp[m]
                    gb[m] += gxt[m] * vr_prev


@torch.library.custom_op("spikewave::alif_forward", mutates_args=())
def alif_forward_op(x: torch.Tensor, beta_full: torch.Tensor, threshold: float,
                    adaptation: float, rho: float, reset: int, detach: bool, kind: int,
                    scale: float
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(spikes, U, th, a_last)`` of the ALIF over ``x[T, ...]`` from rest."""
    t = x.shape[0]
    x2 = x.detach().reshape(t, -1).contiguous().numpy()
    b = beta_full.detach().reshape(-1).contiguous().numpy()
    u = np.empty_like(x2)
    th = np.empty_like(x2)
    s = np.empty_like(x2)
    a_last = np.empty(x2.shape[1], x2.dtype)
    parallel_for(lambda r: _forward(x2, b, threshold, adaptation, rho, reset, r[0], r[1], u,
                                    th, s, a_last), _blocks(x2.shape[1]))
    shape = x.shape
    return (torch.from_numpy(s).reshape(shape), torch.from_numpy(u).reshape(shape),
            torch.from_numpy(th).reshape(shape), torch.from_numpy(a_last).reshape(shape[1:]))


@alif_forward_op.register_fake
def _(x, beta_full, threshold, adaptation, rho, reset, detach, kind, scale):
    return (torch.empty_like(x), torch.empty_like(x), torch.empty_like(x),
            x.new_empty(x.shape[1:]))


@torch.library.custom_op("spikewave::alif_backward", mutates_args=())
def alif_backward_op(g_s: torch.Tensor, g_a: torch.Tensor, u: torch.Tensor, th: torch.Tensor,
                     beta_full: torch.Tensor, adaptation: float, rho: float, reset: int,
                     detach: bool, kind: int, scale: float
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients ``(g_x, g_beta_full)`` from those of the spikes and of ``a_last``."""
    t = u.shape[0]
    u2 = u.reshape(t, -1).contiguous().numpy()
    th2 = th.reshape(t, -1).contiguous().numpy()
    gs = _rows(g_s, u.dtype)  # T rows, or one shared by every step
    ga = g_a.detach().reshape(-1).to(u.dtype).contiguous().numpy()
    b = beta_full.detach().reshape(-1).contiguous().numpy()
    g_x = np.empty_like(u2)
    g_beta = np.empty(u2.shape[1], u2.dtype)
    parallel_for(lambda r: _backward(gs, ga, u2, th2, b, adaptation, rho, reset, detach, kind,
                                     scale, r[0], r[1], g_x, g_beta), _blocks(u2.shape[1]))
    return (torch.from_numpy(g_x).reshape(u.shape),
            torch.from_numpy(g_beta).reshape(beta_full.shape))


@alif_backward_op.register_fake
def _(g_s, g_a, u, th, beta_full, adaptation, rho, reset, detach, kind, scale):
    return torch.empty_like(u), beta_full.new_empty(beta_full.shape)


def _setup_context(ctx, inputs, output) -> None:
    ctx.set_materialize_grads(False)  # unused outputs get None, not a tensor of zeros
    _, beta_full, _, adaptation, rho, reset, detach, kind, scale = inputs
    ctx.save_for_backward(output[1], output[2], beta_full)
    ctx.cfg = (adaptation, rho, reset, detach, kind, scale)


def _backward_rule(ctx, g_s, g_u, g_th, g_a):
    u, th, beta_full = ctx.saved_tensors
    g_s = u.new_zeros((1, *u.shape[1:])) if g_s is None else g_s  # one row for all steps
    g_a = u.new_zeros(u.shape[1:]) if g_a is None else g_a
    g_x, g_beta = alif_backward_op(g_s, g_a, u, th, beta_full, *ctx.cfg)
    return g_x, g_beta, None, None, None, None, None, None, None


alif_forward_op.register_autograd(_backward_rule, setup_context=_setup_context)


def supports(x: torch.Tensor, beta, rho, spike_fn) -> bool:
    """Whether the fused kernel can run this call (CPU float tensor, a known surrogate, a
    float ``rho``, a beta that broadcasts to one step)."""
    from spikewave.kernels import lif_fused

    return isinstance(rho, float) and lif_fused.supports(x, beta, spike_fn, None)


def alif_multistep_fused(x: torch.Tensor, beta, rho: float, threshold: float,
                         adaptation: float, reset: str, spike_fn, detach_reset: bool = False
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop-in for :func:`~spikewave.kernels.reference.alif_multistep_reference` (see
    :func:`supports`); gradients flow to ``x`` and to a tensor ``beta``."""
    if not isinstance(beta, torch.Tensor):
        beta = torch.tensor(float(beta), dtype=x.dtype)
    beta_full = beta.to(x.dtype).expand(x.shape[1:])
    spikes, _, _, a_last = alif_forward_op(x, beta_full, float(threshold), float(adaptation),
                                           float(rho), RESETS[reset], bool(detach_reset),
                                           KINDS[type(spike_fn)], float(spike_fn.scale))
    return spikes, a_last
