"""Fused CPU kernels of the LIF time loop: one compiled pass forward, one backward.

The same recurrence as :func:`spikewave.neurons.discrete_lif.lif_discrete_step` (and so as
the reference :func:`spikewave.kernels.reference.lif_multistep_reference`)::

    V[t] = beta Vr[t-1] + x[t],   S[t] = H(V[t] - thr),
    Vr[t] = V[t] - thr S[t]  (subtract)   or   V[t] (1 - S[t])  (zero)

Forward stores only ``U = V - thr`` per step (spikes are ``U >= 0``). Backward runs the
chain rule of the recurrence in reverse, with the surrogate's derivative ``sg = P'(U)``::

    dVr/dV = 1 - thr sg          (subtract; 1 with a detached reset)
           = (1 - S) - V sg      (zero;     1 - S with a detached reset)
    gV[t]  = gS[t] sg + gVr[t] dVr/dV,   gx[t] = gV[t],   gVr[t-1] = beta gV[t],
    gbeta += gV[t] Vr[t-1]

The two passes are registered with PyTorch as custom operators (``spikewave::lif_forward``
with its autograd rule, ``spikewave::lif_backward``), each with a fake (meta) implementation
that gives the output shapes, so ``torch.compile`` traces a layer that uses them without a
graph break (tested with ``fullgraph=True``). Columns (batch x neurons) are split over
threads; inside a block the loop runs over time outside and columns inside, so memory is
read in order. The surrogates are the five of
:mod:`spikewave.nn.surrogate`, by kind. Parity with the reference is tested (identical
spikes, gradients to 1e-10 in float64).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from spikewave._numba import njit
from spikewave.kernels import _buffers as buffers
from spikewave.kernels._threads import parallel_for, split_range
from spikewave.nn.surrogate import ATan, Boxcar, FastSigmoid, Sigmoid, Surrogate, Triangle

KINDS = {FastSigmoid: 0, ATan: 1, Sigmoid: 2, Triangle: 3, Boxcar: 4}
RESETS = {"subtract": 0, "zero": 1}


@njit(error_model="numpy")  # divisors >= 1: no zero test, so the loops vectorise
def _sg_row(u_row, kind, s, m0, m1, out):  # pragma: no cover - compiled
    """The surrogate derivative ``P'(u)`` over a row segment, one branch-free loop per kind
    (in the arrays' precision: every constant is cast to their dtype)."""
    real = u_row.dtype.type
    s = real(s)
    one, half, zero = real(1.0), real(0.5), real(0.0)
    if kind == 0:
        for m in range(m0, m1):
            d = one + s * abs(u_row[m])
            out[m - m0] = one / (d * d)
    elif kind == 1:
        c = real(0.5 * math.pi) * s
        for m in range(m0, m1):
            a = c * u_row[m]
            out[m - m0] = half * s / (one + a * a)
    elif kind == 2:
        for m in range(m0, m1):
            e = one / (one + math.exp(-s * u_row[m]))
            out[m - m0] = s * e * (one - e)
    elif kind == 3:
        for m in range(m0, m1):
            out[m - m0] = s * max(zero, one - s * abs(u_row[m]))
    else:
        for m in range(m0, m1):
            out[m - m0] = half * s if s * abs(u_row[m]) < one else zero


@njit
def _membrane_row(beta, vr, x_row, u_row, s_row, thr, reset):  # pragma: no cover - compiled
    """One step over a row of neurons: ``V = beta Vr + x``, ``U = V - thr``, ``S = H(U)``,
    then the reset in place in ``vr``: exactly ``V - thr`` or 0 where S = 1, ``V`` elsewhere
    (``V - thr S`` / ``V (1 - S)``). Branch-free on 1-D slices, so LLVM vectorises it."""
    one, zero = vr.dtype.type(1.0), vr.dtype.type(0.0)
    for m in range(len(vr)):
        v = beta[m] * vr[m] + x_row[m]
        u = v - thr
        u_row[m] = u
        s_row[m] = one if u >= zero else zero
        vr[m] = (v - thr if reset == 0 else zero) if u >= zero else v


@njit
def _gradient_row(g_s_row, sg, u_row, u_prev, has_prev, beta, thr, reset, cut, g_vr,
                  g_x_row, g_beta):  # pragma: no cover - compiled
    """One reverse step over a row: ``gV = gS sg + gVr dVr/dV`` into ``g_x_row``, ``gVr``
    carried to the step before (``beta gV``), ``g_beta += gV Vr[t-1]`` when there is a step
    before (``has_prev``; ``u_prev`` is its ``U``; False too when no gradient of beta is
    wanted, which saves a pass over ``U``). ``cut`` is 0 for a detached reset."""
    one, zero = g_vr.dtype.type(1.0), g_vr.dtype.type(0.0)
    c_thr = cut * thr
    if reset == 0:  # dVr/dV = 1 - cut thr sg
        for m in range(len(g_vr)):
            gv = g_s_row[m] * sg[m] + g_vr[m] * (one - c_thr * sg[m])
            g_x_row[m] = gv
            g_vr[m] = beta[m] * gv
    else:  # dVr/dV = (1 - S) - cut V sg
        for m in range(len(g_vr)):
            u = u_row[m]
            keep = zero if u >= zero else one
            gv = g_s_row[m] * sg[m] + g_vr[m] * (keep - cut * (u + thr) * sg[m])
            g_x_row[m] = gv
            g_vr[m] = beta[m] * gv
    if has_prev:  # Vr[t-1]: exactly U + thr where it did not spike, else 0 or U
        for m in range(len(g_vr)):
            up = u_prev[m]
            vr_prev = (up if reset == 0 else zero) if up >= zero else up + thr
            g_beta[m] += g_x_row[m] * vr_prev


@njit
def _step_row(a, t):  # pragma: no cover - compiled
    """Row ``t`` of ``a``, or row 0 when ``a`` has one row shared by every step."""
    return a[t if a.shape[0] > 1 else 0]


@njit
def _forward(x, beta, thr, reset, m0, m1, u_out, s_out, v_last):  # pragma: no cover
    """Steps ``x[T, cols]`` from the state in ``v_last`` (the reset potential before step 0;
    zeros for a fresh start), which holds the state after the last step on return.
    Computed in the arrays' precision (float32 stays float32, as in the reference), one
    :func:`_membrane_row` per step (measured 3x faster than the same arithmetic indexed
    ``[t, m]`` with the reset tested inside the loop). ``u_out`` has ``T`` rows, or one row
    rewritten at every step when no backward pass needs the potentials."""
    thr = x.dtype.type(thr)
    for t in range(x.shape[0]):
        _membrane_row(beta[m0:m1], v_last[m0:m1], x[t, m0:m1], _step_row(u_out, t)[m0:m1],
                      s_out[t, m0:m1], thr, reset)


@njit
def _backward(g_s, g_vlast, u_all, beta, thr, reset, detach, kind, scale, m0, m1,
              g_x, g_beta, v_init, g_vinit, need_beta=True):  # pragma: no cover - compiled
    """Reverse pass over ``u_all[T, cols]``; ``v_init`` is the state before step 0 (zeros
    for a fresh start) and ``g_vinit`` receives its gradient (in the arrays' precision).
    ``g_beta`` is left at zero without ``need_beta``.
    ``g_s`` has ``T`` rows, or one row shared by every step (a gradient broadcast over
    time, as ``spikes.sum()`` gives: no ``[T, cols]`` copy of it is made)."""
    real = u_all.dtype.type
    thr = real(thr)
    gb = g_beta[m0:m1]
    g_vr = g_vlast[m0:m1].copy()
    sg = np.empty(m1 - m0, u_all.dtype)
    gb[:] = real(0.0)
    cut = real(0.0) if detach else real(1.0)  # whether the reset's gradient flows
    for t in range(u_all.shape[0] - 1, -1, -1):
        _sg_row(u_all[t], kind, scale, m0, m1, sg)
        _gradient_row(_step_row(g_s, t)[m0:m1], sg, u_all[t, m0:m1],
                      u_all[t - 1 if t > 0 else 0, m0:m1], need_beta and t > 0, beta[m0:m1],
                      thr, reset, cut, g_vr, g_x[t, m0:m1], gb)
    for m in range(m1 - m0):
        if need_beta:
            gb[m] += g_x[0, m0 + m] * v_init[m0 + m]
        g_vinit[m0 + m] = g_vr[m]


def _blocks(cols: int) -> list[tuple[int, int]]:
    return split_range(cols, min_chunk=4096)


def _forward_impl(x: torch.Tensor, beta_full: torch.Tensor, threshold: float, reset: int,
                  keep_u: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The body of :func:`lif_forward_op`."""
    t = x.shape[0]
    x2 = x.detach().reshape(t, -1).contiguous().numpy()
    b = beta_full.detach().reshape(-1).contiguous().numpy()
    u = buffers.empty_like(x2) if keep_u else np.empty((1, x2.shape[1]), x2.dtype)
    s = buffers.empty_like(x2)
    v_last = np.zeros(x2.shape[1], x2.dtype)
    parallel_for(lambda r: _forward(x2, b, threshold, reset, r[0], r[1], u, s, v_last),
                 _blocks(x2.shape[1]))
    return (torch.from_numpy(s).reshape(x.shape),
            torch.from_numpy(u).reshape(len(u), *x.shape[1:]),
            torch.from_numpy(v_last).reshape(x.shape[1:]))


@torch.library.custom_op("spikewave::lif_forward", mutates_args=())
def lif_forward_op(x: torch.Tensor, beta_full: torch.Tensor, threshold: float, reset: int,
                   detach: bool, kind: int, scale: float, keep_u: bool = True
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(spikes, U = V - thr, v_last)`` of the LIF over ``x[T, ...]`` from rest (``detach``,
    ``kind`` and ``scale`` are for the backward pass). Without ``keep_u`` (no gradient will
    be asked for) ``U`` is only the last step's, ``[1, ...]``: a third less memory traffic."""
    return _forward_impl(x, beta_full, threshold, reset, keep_u)


@lif_forward_op.register_fake
def _(x, beta_full, threshold, reset, detach, kind, scale, keep_u=True):
    u = torch.empty_like(x) if keep_u else x.new_empty((1, *x.shape[1:]))
    return torch.empty_like(x), u, x.new_empty(x.shape[1:])


def _rows(g_s: torch.Tensor, dtype: torch.dtype) -> np.ndarray:
    """``g_s[T, ...]`` as a ``[T, cols]`` array, or as one ``[1, cols]`` row when it is the
    same at every step (stride 0 over time: the expanded gradient of a sum or mean, or the
    single zero row that stands for no gradient), which the kernels read for every step --
    materialising the broadcast would cost a full ``[T, cols]`` copy (3-9 ms at
    ``[100, 32768]``)."""
    g = g_s.detach()
    if g.shape[0] == 1 or g.stride(0) == 0:
        return g[:1].reshape(1, -1).to(dtype).contiguous().numpy()
    return g.reshape(g.shape[0], -1).to(dtype).contiguous().numpy()


def _backward_impl(g_s: torch.Tensor, g_v: torch.Tensor, u: torch.Tensor,
                   beta_full: torch.Tensor, threshold: float, reset: int, detach: bool,
                   kind: int, scale: float, need_beta: bool = True
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The body of :func:`lif_backward_op`."""
    t = u.shape[0]
    u2 = u.detach().reshape(t, -1).contiguous().numpy()
    gs = _rows(g_s, u.dtype)
    gv = g_v.detach().reshape(-1).to(u.dtype).contiguous().numpy()
    b = beta_full.detach().reshape(-1).contiguous().numpy()
    g_x = buffers.empty_like(u2)
    g_beta = np.empty(u2.shape[1], u2.dtype)
    zeros = np.zeros(u2.shape[1], u2.dtype)
    g_v0 = np.empty(u2.shape[1], u2.dtype)
    parallel_for(lambda r: _backward(gs, gv, u2, b, threshold, reset, detach, kind, scale,
                                     r[0], r[1], g_x, g_beta, zeros, g_v0, need_beta),
                 _blocks(u2.shape[1]))
    return (torch.from_numpy(g_x).reshape(u.shape),
            torch.from_numpy(g_beta).reshape(beta_full.shape))


@torch.library.custom_op("spikewave::lif_backward", mutates_args=())
def lif_backward_op(g_s: torch.Tensor, g_v: torch.Tensor, u: torch.Tensor,
                    beta_full: torch.Tensor, threshold: float, reset: int, detach: bool,
                    kind: int, scale: float, need_beta: bool = True
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients ``(g_x, g_beta_full)`` from those of the spikes and of ``v_last``;
    ``g_beta_full`` is zeros, not computed, without ``need_beta``."""
    return _backward_impl(g_s, g_v, u, beta_full, threshold, reset, detach, kind, scale,
                          need_beta)


@lif_backward_op.register_fake
def _(g_s, g_v, u, beta_full, threshold, reset, detach, kind, scale, need_beta=True):
    return torch.empty_like(u), beta_full.new_empty(beta_full.shape)


def _setup_context(ctx, inputs, output) -> None:
    ctx.set_materialize_grads(False)  # unused outputs get None, not a tensor of zeros
    _, beta_full, threshold, reset, detach, kind, scale, *_ = inputs
    ctx.save_for_backward(output[1], beta_full)
    ctx.cfg = (threshold, reset, detach, kind, scale)


def _backward_rule(ctx, g_s, g_u, g_v, backward=lif_backward_op):
    u, beta_full = ctx.saved_tensors
    g_s = u.new_zeros((1, *u.shape[1:])) if g_s is None else g_s  # one row for all steps
    g_v = u.new_zeros(u.shape[1:]) if g_v is None else g_v
    need_beta = bool(ctx.needs_input_grad[1])
    g_x, g_beta = backward(g_s, g_v, u, beta_full, *ctx.cfg, need_beta=need_beta)
    return g_x, g_beta if need_beta else None, None, None, None, None, None, None


lif_forward_op.register_autograd(_backward_rule, setup_context=_setup_context)


class _EagerLIF(torch.autograd.Function):
    """The operators' forward, autograd rule and backward, called without the operators'
    dispatch (in eager mode it costs about 0.17 ms a call, ~1.3 ms of the MLP benchmark's
    step); under ``torch.compile`` the operators are traced instead. Same outputs and
    gradients to the bit (tested). ``forward`` takes ``ctx`` itself: with a separate
    ``setup_context`` torch binds every call's arguments to the signature through
    ``inspect`` (0.1 ms a call)."""

    @staticmethod
    def forward(ctx, x, beta_full, threshold, reset, detach, kind, scale, keep_u):
        output = _forward_impl(x, beta_full, threshold, reset, keep_u)
        _setup_context(ctx, (x, beta_full, threshold, reset, detach, kind, scale), output)
        return output

    @staticmethod
    def backward(ctx, g_s, g_u, g_v):
        return _backward_rule(ctx, g_s, g_u, g_v, backward=_backward_impl)


def loop_supports(x: torch.Tensor, beta, v0) -> bool:
    """Whether a fused time loop can run on ``x``: a CPU float tensor ``[T >= 1, ...]``, no
    initial state, a beta that broadcasts to one step (shared by the fused kernels)."""
    if v0 is not None or x.device.type != "cpu" or x.dim() < 2 or x.shape[0] == 0:
        return False
    if x.dtype not in (torch.float32, torch.float64):
        return False
    return beta_fits(beta, tuple(x.shape[1:]))


def beta_fits(beta, step_shape: tuple[int, ...]) -> bool:
    """Whether ``beta`` (a number, or a CPU tensor) broadcasts to one step's shape."""
    if isinstance(beta, torch.Tensor):
        if beta.device.type != "cpu":
            return False
        if beta.dim() == 0:  # broadcasts to anything (torch.broadcast_shapes: ~40 us)
            return True
        try:
            return torch.broadcast_shapes(beta.shape, step_shape) == step_shape
        except RuntimeError:
            return False
    return True


def supports(x: torch.Tensor, beta, spike_fn, v0) -> bool:
    """Whether the fused kernel can run this call (:func:`loop_supports` and one of the
    five surrogates)."""
    return type(spike_fn) in KINDS and loop_supports(x, beta, v0)


def lif_multistep_fused(x: torch.Tensor, beta, threshold: float, reset: str,
                        spike_fn: Surrogate, detach_reset: bool = False, v0=None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop-in for :func:`~spikewave.kernels.reference.lif_multistep_reference` (see
    :func:`supports`); gradients flow to ``x`` and to a tensor ``beta``."""
    if not isinstance(beta, torch.Tensor):
        beta = torch.tensor(float(beta), dtype=x.dtype)
    beta_full = beta.to(x.dtype).expand(x.shape[1:])
    keep_u = torch.is_grad_enabled() and (x.requires_grad or beta.requires_grad)
    forward = lif_forward_op if torch.compiler.is_compiling() else _EagerLIF.apply
    spikes, _, v_last = forward(x, beta_full, float(threshold), RESETS[reset],
                                bool(detach_reset), KINDS[type(spike_fn)],
                                float(spike_fn.scale), keep_u)
    return spikes, v_last
