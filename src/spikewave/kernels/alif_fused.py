"""Fused CPU kernels of the adaptive-threshold LIF (ALIF) time loop, forward and backward.

The recurrence of :func:`spikewave.neurons.steps.alif_step`, per neuron, from the state
``(Vr[-1], a[-1])`` (zeros for a fresh start)::

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

starting from the gradients of the last state ``(Vr[T-1], a[T-1])`` and ending with those of
the first.

Registered as the custom operators ``spikewave::alif_forward`` (with its autograd rule) and
``spikewave::alif_backward``, each with a fake implementation. Parity with the reference is
tested (identical spikes, gradients to 1e-10 in float64).
"""

from __future__ import annotations

import numpy as np
import torch

from spikewave._numba import njit
from spikewave.kernels._surrogate import NONE, OWN, derivative_rows, sg_row
from spikewave.kernels._threads import parallel_for
from spikewave.kernels.lif_fused import RESETS, _blocks, _rows, _step_row, as_tensor
from spikewave.neurons.specs import ALIFSpec


@njit
def _forward(x, beta, thr, alpha, rho, reset, m0, m1, u_out, th_out, s_out, a_last, v_last
             ):  # pragma: no cover - compiled
    """Steps from the state in ``(v_last, a_last)``, which holds the last state on return.
    Computed in the arrays' precision, in one branch-free loop over 1-D row slices
    (which LLVM vectorises), as :func:`spikewave.kernels.lif_fused._membrane_row`: the
    reset is exactly ``V - th`` or 0 where S = 1, ``V`` elsewhere."""
    real = x.dtype.type
    thr, alpha, rho = real(thr), real(alpha), real(rho)
    one, zero = real(1.0), real(0.0)
    width = m1 - m0
    vr = v_last[m0:m1]
    b = beta[m0:m1]
    a = a_last[m0:m1]
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
def _backward(g_s, g_vlast, g_alast, u_all, th_all, beta, alpha, rho, reset, detach, kind,
              scale, m0, m1, g_x, g_beta, v_init, g_vinit, g_ainit, pre
              ):  # pragma: no cover - compiled
    """Reverse pass; ``v_init`` is the reset potential before step 0, whose gradient goes
    to ``g_vinit`` (and the adaptation trace's to ``g_ainit``); ``pre``: the precomputed
    surrogate derivatives when ``kind`` is ``OWN``."""
    real = u_all.dtype.type
    alpha, rho = real(alpha), real(rho)
    one, zero = real(1.0), real(0.0)
    width = m1 - m0
    b = beta[m0:m1]
    gb = g_beta[m0:m1]
    g_vr = g_vlast[m0:m1].copy()
    g_a = g_alast[m0:m1].copy()
    sg = np.empty(width, u_all.dtype)
    gb[:] = zero
    cut = zero if detach else one
    for t in range(u_all.shape[0] - 1, -1, -1):
        sg_row(u_all[t], kind, scale, m0, m1, sg, pre, t)
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
    g0 = g_x[0, m0:m1]
    v0 = v_init[m0:m1]
    for m in range(width):
        gb[m] += g0[m] * v0[m]
        g_vinit[m0 + m] = g_vr[m]
        g_ainit[m0 + m] = g_a[m]


def _forward_impl(x, beta_full, v0, a0, threshold, adaptation, rho, reset):
    t = x.shape[0]
    x2 = x.detach().reshape(t, -1).contiguous().numpy()
    b = beta_full.detach().reshape(-1).contiguous().numpy()
    u = np.empty_like(x2)
    th = np.empty_like(x2)
    s = np.empty_like(x2)
    v_last = v0.detach().reshape(-1).to(x.dtype).numpy().copy()
    a_last = a0.detach().reshape(-1).to(x.dtype).numpy().copy()
    parallel_for(lambda r: _forward(x2, b, threshold, adaptation, rho, reset, r[0], r[1], u,
                                    th, s, a_last, v_last), _blocks(x2.shape[1]))
    shape = x.shape
    return (torch.from_numpy(s).reshape(shape), torch.from_numpy(u).reshape(shape),
            torch.from_numpy(th).reshape(shape), torch.from_numpy(v_last).reshape(shape[1:]),
            torch.from_numpy(a_last).reshape(shape[1:]))


@torch.library.custom_op("spikewave::alif_forward", mutates_args=())
def alif_forward_op(x: torch.Tensor, beta_full: torch.Tensor, v0: torch.Tensor,
                    a0: torch.Tensor, threshold: float, adaptation: float, rho: float,
                    reset: int, detach: bool, kind: int, scale: float
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                               torch.Tensor]:
    """``(spikes, U, th, v_last, a_last)`` of the ALIF over ``x[T, ...]`` from the state
    ``(v0, a0)``."""
    return _forward_impl(x, beta_full, v0, a0, threshold, adaptation, rho, reset)


@alif_forward_op.register_fake
def _(x, beta_full, v0, a0, threshold, adaptation, rho, reset, detach, kind, scale):
    return (torch.empty_like(x), torch.empty_like(x), torch.empty_like(x),
            x.new_empty(x.shape[1:]), x.new_empty(x.shape[1:]))


def _backward_impl(g_s, g_v, g_a, u, th, beta_full, v0, adaptation, rho, reset, detach,
                   kind, scale, pre=NONE):
    t = u.shape[0]
    u2 = u.reshape(t, -1).contiguous().numpy()
    th2 = th.reshape(t, -1).contiguous().numpy()
    gs = _rows(g_s, u.dtype)  # T rows, or one shared by every step
    gv = g_v.detach().reshape(-1).to(u.dtype).contiguous().numpy()
    ga = g_a.detach().reshape(-1).to(u.dtype).contiguous().numpy()
    b = beta_full.detach().reshape(-1).contiguous().numpy()
    v_init = v0.detach().reshape(-1).to(u.dtype).contiguous().numpy()
    g_x = np.empty_like(u2)
    g_beta = np.empty(u2.shape[1], u2.dtype)
    g_v0 = np.empty(u2.shape[1], u2.dtype)
    g_a0 = np.empty(u2.shape[1], u2.dtype)
    pre = pre.astype(u2.dtype, copy=False)
    parallel_for(lambda r: _backward(gs, gv, ga, u2, th2, b, adaptation, rho, reset, detach,
                                     kind, scale, r[0], r[1], g_x, g_beta, v_init, g_v0,
                                     g_a0, pre), _blocks(u2.shape[1]))
    step = u.shape[1:]
    return (torch.from_numpy(g_x).reshape(u.shape),
            torch.from_numpy(g_beta).reshape(beta_full.shape),
            torch.from_numpy(g_v0).reshape(step), torch.from_numpy(g_a0).reshape(step))


@torch.library.custom_op("spikewave::alif_backward", mutates_args=())
def alif_backward_op(g_s: torch.Tensor, g_v: torch.Tensor, g_a: torch.Tensor,
                     u: torch.Tensor, th: torch.Tensor, beta_full: torch.Tensor,
                     v0: torch.Tensor, adaptation: float, rho: float, reset: int,
                     detach: bool, kind: int, scale: float
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients ``(g_x, g_beta_full, g_v0, g_a0)`` from those of the spikes and of the
    last state. Built-in surrogates only (``kind`` >= 0)."""
    return _backward_impl(g_s, g_v, g_a, u, th, beta_full, v0, adaptation, rho, reset,
                          detach, kind, scale)


@alif_backward_op.register_fake
def _(g_s, g_v, g_a, u, th, beta_full, v0, adaptation, rho, reset, detach, kind, scale):
    step = u.shape[1:]
    return (torch.empty_like(u), beta_full.new_empty(beta_full.shape), u.new_empty(step),
            u.new_empty(step))


def _setup_context(ctx, inputs, output) -> None:
    ctx.set_materialize_grads(False)  # unused outputs get None, not a tensor of zeros
    _, beta_full, v0, _, _, adaptation, rho, reset, detach, kind, scale = inputs
    ctx.save_for_backward(output[1], output[2], beta_full, v0)
    ctx.cfg = (adaptation, rho, reset, detach, kind, scale)


def _backward_rule(ctx, g_s, g_u, g_th, g_v, g_a, backward=alif_backward_op, pre=None):
    u, th, beta_full, v0 = ctx.saved_tensors
    g_s = u.new_zeros((1, *u.shape[1:])) if g_s is None else g_s  # one row for all steps
    g_v = u.new_zeros(u.shape[1:]) if g_v is None else g_v
    g_a = u.new_zeros(u.shape[1:]) if g_a is None else g_a
    extra = {} if pre is None else {"pre": pre}
    g_x, g_beta, g_v0, g_a0 = backward(g_s, g_v, g_a, u, th, beta_full, v0, *ctx.cfg, **extra)
    need = ctx.needs_input_grad
    return (g_x, g_beta if need[1] else None, g_v0 if need[2] else None,
            g_a0 if need[3] else None, None, None, None, None, None, None, None)


alif_forward_op.register_autograd(_backward_rule, setup_context=_setup_context)


class _EagerALIF(torch.autograd.Function):
    """The operators' forward and backward without their dispatch, for any surrogate (see
    :class:`spikewave.kernels.lif_fused._EagerLIF`)."""

    @staticmethod
    def forward(ctx, x, beta_full, v0, a0, threshold, adaptation, rho, reset, detach, kind,
                scale, surrogate):
        inputs = (x, beta_full, v0, a0, threshold, adaptation, rho, reset, detach, kind, scale)
        output = _forward_impl(x, beta_full, v0, a0, threshold, adaptation, rho, reset)
        _setup_context(ctx, inputs, output)
        ctx.surrogate = surrogate
        return output

    @staticmethod
    def backward(ctx, g_s, g_u, g_th, g_v, g_a):
        pre = None
        if ctx.cfg[4] == OWN:
            u = ctx.saved_tensors[0]
            pre = derivative_rows(ctx.surrogate, u.reshape(u.shape[0], -1).numpy())
        return (*_backward_rule(ctx, g_s, g_u, g_th, g_v, g_a, backward=_backward_impl,
                                pre=pre), None)


def alif_fused(x: torch.Tensor, beta, state: tuple[torch.Tensor, torch.Tensor] | None,
               spec: ALIFSpec) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(spikes, v_last, a_last)`` of the ALIF of ``spec`` over ``x[T, ...]`` from the
    state ``(v0, a0)`` (zeros when None); gradients flow to ``x``, a tensor ``beta`` and
    the state. The registry calls it where the fused LIF loop applies."""
    beta = as_tensor(beta, x)
    step = x.shape[1:]
    beta_full = beta.expand(step)
    if state is None:
        v0 = a0 = x.new_zeros(step)
    else:
        v0, a0 = (t.to(x.dtype).expand(step) for t in state)
    args = (x, beta_full, v0, a0, float(spec.threshold), float(spec.adaptation),
            float(spec.rho), RESETS[spec.reset], bool(spec.detach_reset),
            spec.surrogate_kind, float(spec.surrogate.scale))
    if torch.compiler.is_compiling():
        spikes, _, _, v_last, a_last = alif_forward_op(*args)
    else:
        spikes, _, _, v_last, a_last = _EagerALIF.apply(*args, spec.surrogate)
    return spikes, v_last, a_last
