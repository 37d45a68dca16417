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

The state before the first step (``Vr[-1]``, zeros for a fresh start) is an input, and its
gradient an output, so a sequence may be run in pieces.

The two passes are registered with PyTorch as custom operators (``spikewave::lif_forward``
with its autograd rule, ``spikewave::lif_backward``), each with a fake (meta) implementation
that gives the output shapes, so ``torch.compile`` traces a layer that uses them without a
graph break (tested with ``fullgraph=True``). Columns (batch x neurons) are split over
threads; inside a block the loop runs over time outside and columns inside, so memory is
read in order. The surrogate's derivative comes from its class
(:mod:`spikewave.kernels._surrogate`). Parity with the reference is tested (identical
spikes, gradients to 1e-10 in float64).
"""

from __future__ import annotations

import numpy as np
import torch

from spikewave._numba import njit
from spikewave.kernels import _buffers as buffers
from spikewave.kernels._surrogate import NONE, OWN, derivative_rows, sg_row
from spikewave.kernels._threads import parallel_for, split_range
from spikewave.neurons.specs import LIFSpec

RESETS = {"subtract": 0, "zero": 1}


def spec_args(spec: LIFSpec) -> tuple[float, int, bool, int, float]:
    """What the compiled passes take of a spec: ``(threshold, reset code, detach, surrogate
    kind, surrogate scale)``."""
    return (float(spec.threshold), RESETS[spec.reset], bool(spec.detach_reset),
            spec.surrogate_kind, float(spec.surrogate.scale))


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
    :func:`_membrane_row` per step (1-D slices, branch-free: LLVM vectorises it).
    ``x`` has ``T`` rows, or one row for an input that is the same at every step; ``u_out``
    has ``T`` rows, or one row rewritten at every step when no backward pass needs the
    potentials. ``s_out`` has ``T`` rows."""
    thr = x.dtype.type(thr)
    for t in range(s_out.shape[0]):
        _membrane_row(beta[m0:m1], v_last[m0:m1], _step_row(x, t)[m0:m1],
                      _step_row(u_out, t)[m0:m1], s_out[t, m0:m1], thr, reset)


@njit
def _backward(g_s, g_vlast, u_all, beta, thr, reset, detach, kind, scale, m0, m1,
              g_x, g_beta, v_init, g_vinit, need_beta, pre):  # pragma: no cover - compiled
    """Reverse pass over ``u_all[T, cols]``; ``v_init`` is the state before step 0 (zeros
    for a fresh start) and ``g_vinit`` receives its gradient (in the arrays' precision).
    ``g_beta`` is left at zero without ``need_beta``. ``pre``: the precomputed surrogate
    derivatives when ``kind`` is ``OWN`` (:mod:`spikewave.kernels._surrogate`).
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
        sg_row(u_all[t], kind, scale, m0, m1, sg, pre, t)
        _gradient_row(_step_row(g_s, t)[m0:m1], sg, u_all[t, m0:m1],
                      u_all[t - 1 if t > 0 else 0, m0:m1], need_beta and t > 0, beta[m0:m1],
                      thr, reset, cut, g_vr, g_x[t, m0:m1], gb)
    for m in range(m1 - m0):
        if need_beta:
            gb[m] += g_x[0, m0 + m] * v_init[m0 + m]
        g_vinit[m0 + m] = g_vr[m]


def _blocks(cols: int) -> list[tuple[int, int]]:
    return split_range(cols, min_chunk=4096)


def _forward_impl(x: torch.Tensor, beta_full: torch.Tensor, v0: torch.Tensor,
                  threshold: float, reset: int, keep_u: bool = True
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The body of :func:`lif_forward_op`."""
    t = x.shape[0]
    same = t > 1 and x.stride(0) == 0  # the same input at every step: read one row
    x2 = x.detach()[:1 if same else t].reshape(1 if same else t, -1).contiguous().numpy()
    b = beta_full.detach().reshape(-1).contiguous().numpy()
    cols = x2.shape[1]
    u = buffers.empty((t, cols), x2.dtype) if keep_u else np.empty((1, cols), x2.dtype)
    s = buffers.empty((t, cols), x2.dtype)
    v_last = v0.detach().reshape(-1).to(x.dtype).numpy().copy()
    parallel_for(lambda r: _forward(x2, b, threshold, reset, r[0], r[1], u, s, v_last),
                 _blocks(x2.shape[1]))
    return (torch.from_numpy(s).reshape(x.shape),
            torch.from_numpy(u).reshape(len(u), *x.shape[1:]),
            torch.from_numpy(v_last).reshape(x.shape[1:]))


@torch.library.custom_op("spikewave::lif_forward", mutates_args=())
def lif_forward_op(x: torch.Tensor, beta_full: torch.Tensor, v0: torch.Tensor,
                   threshold: float, reset: int, detach: bool, kind: int, scale: float,
                   keep_u: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(spikes, U = V - thr, v_last)`` of the LIF over ``x[T, ...]`` from the reset
    potential ``v0`` (``detach``, ``kind`` and ``scale`` are for the backward pass). Without
    ``keep_u`` (no gradient will be asked for) ``U`` is only the last step's, ``[1, ...]``."""
    return _forward_impl(x, beta_full, v0, threshold, reset, keep_u)


@lif_forward_op.register_fake
def _(x, beta_full, v0, threshold, reset, detach, kind, scale, keep_u=True):
    u = torch.empty_like(x) if keep_u else x.new_empty((1, *x.shape[1:]))
    return torch.empty_like(x), u, x.new_empty(x.shape[1:])


def _rows(g_s: torch.Tensor, dtype: torch.dtype) -> np.ndarray:
    """``g_s[T, ...]`` as a ``[T, cols]`` array, or as one ``[1, cols]`` row when it is the
    same at every step (stride 0 over time: the expanded gradient of a sum or mean, or the
    single zero row that stands for no gradient), which the kernels read for every step
    without materialising the broadcast."""
    g = g_s.detach()
    if g.shape[0] == 1 or g.stride(0) == 0:
        return g[:1].reshape(1, -1).to(dtype).contiguous().numpy()
    return g.reshape(g.shape[0], -1).to(dtype).contiguous().numpy()


def _backward_impl(g_s: torch.Tensor, g_v: torch.Tensor, u: torch.Tensor,
                   beta_full: torch.Tensor, v0: torch.Tensor, threshold: float, reset: int,
                   detach: bool, kind: int, scale: float, need_beta: bool = True,
                   pre: np.ndarray = NONE) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The body of :func:`lif_backward_op`; ``pre``: the surrogate derivatives of ``u``
    when ``kind`` is ``OWN``."""
    t = u.shape[0]
    u2 = u.detach().reshape(t, -1).contiguous().numpy()
    gs = _rows(g_s, u.dtype)
    gv = g_v.detach().reshape(-1).to(u.dtype).contiguous().numpy()
    b = beta_full.detach().reshape(-1).contiguous().numpy()
    v_init = v0.detach().reshape(-1).to(u.dtype).contiguous().numpy()
    g_x = buffers.empty_like(u2)
    g_beta = np.empty(u2.shape[1], u2.dtype)
    g_v0 = np.empty(u2.shape[1], u2.dtype)
    pre = pre.astype(u2.dtype, copy=False)
    parallel_for(lambda r: _backward(gs, gv, u2, b, threshold, reset, detach, kind, scale,
                                     r[0], r[1], g_x, g_beta, v_init, g_v0, need_beta, pre),
                 _blocks(u2.shape[1]))
    return (torch.from_numpy(g_x).reshape(u.shape),
            torch.from_numpy(g_beta).reshape(beta_full.shape),
            torch.from_numpy(g_v0).reshape(u.shape[1:]))


@torch.library.custom_op("spikewave::lif_backward", mutates_args=())
def lif_backward_op(g_s: torch.Tensor, g_v: torch.Tensor, u: torch.Tensor,
                    beta_full: torch.Tensor, v0: torch.Tensor, threshold: float, reset: int,
                    detach: bool, kind: int, scale: float, need_beta: bool = True
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients ``(g_x, g_beta_full, g_v0)`` from those of the spikes and of ``v_last``;
    ``g_beta_full`` is zeros, not computed, without ``need_beta``. Built-in surrogates
    only (``kind`` >= 0)."""
    return _backward_impl(g_s, g_v, u, beta_full, v0, threshold, reset, detach, kind, scale,
                          need_beta)


@lif_backward_op.register_fake
def _(g_s, g_v, u, beta_full, v0, threshold, reset, detach, kind, scale, need_beta=True):
    return torch.empty_like(u), beta_full.new_empty(beta_full.shape), u.new_empty(u.shape[1:])


def _setup_context(ctx, inputs, output) -> None:
    ctx.set_materialize_grads(False)  # unused outputs get None, not a tensor of zeros
    _, beta_full, v0, threshold, reset, detach, kind, scale, *_ = inputs
    ctx.save_for_backward(output[1], beta_full, v0)
    ctx.cfg = (threshold, reset, detach, kind, scale)


def _backward_rule(ctx, g_s, g_u, g_v, backward=lif_backward_op, pre=None):
    u, beta_full, v0 = ctx.saved_tensors
    g_s = u.new_zeros((1, *u.shape[1:])) if g_s is None else g_s  # one row for all steps
    g_v = u.new_zeros(u.shape[1:]) if g_v is None else g_v
    need_beta = bool(ctx.needs_input_grad[1])
    extra = {} if pre is None else {"pre": pre}
    g_x, g_beta, g_v0 = backward(g_s, g_v, u, beta_full, v0, *ctx.cfg, need_beta=need_beta,
                                 **extra)
    return (g_x, g_beta if need_beta else None, g_v0 if ctx.needs_input_grad[2] else None,
            None, None, None, None, None, None)


lif_forward_op.register_autograd(_backward_rule, setup_context=_setup_context)


class _EagerLIF(torch.autograd.Function):
    """The operators' forward, autograd rule and backward, called without the operators'
    dispatch (which costs a fraction of a millisecond a call); under ``torch.compile`` the
    operators are traced instead. Same outputs and gradients to the bit (tested). Takes
    any surrogate: one the kernels do not know has its derivatives computed before the
    backward pass (:func:`~spikewave.kernels._surrogate.derivative_rows`). ``forward``
    takes ``ctx`` itself (a separate ``setup_context`` makes torch bind each call's
    arguments through ``inspect``)."""

    @staticmethod
    def forward(ctx, x, beta_full, v0, threshold, reset, detach, kind, scale, keep_u,
                surrogate):
        output = _forward_impl(x, beta_full, v0, threshold, reset, keep_u)
        _setup_context(ctx, (x, beta_full, v0, threshold, reset, detach, kind, scale), output)
        ctx.surrogate = surrogate
        return output

    @staticmethod
    def backward(ctx, g_s, g_u, g_v):
        pre = None
        if ctx.cfg[3] == OWN:
            pre = derivative_rows(ctx.surrogate, ctx.saved_tensors[0].reshape(
                ctx.saved_tensors[0].shape[0], -1).numpy())
        return (*_backward_rule(ctx, g_s, g_u, g_v, backward=_backward_impl, pre=pre), None)


def loop_supports(x: torch.Tensor, beta) -> bool:
    """Whether a fused time loop can run on ``x``: a CPU float tensor ``[T >= 1, ...]``, a
    beta that broadcasts to one step (shared by the fused kernels)."""
    if x.device.type != "cpu" or x.dim() < 2 or x.shape[0] == 0:
        return False
    if x.dtype not in (torch.float32, torch.float64):
        return False
    return beta_fits(beta, tuple(x.shape[1:]))


def beta_fits(beta, step_shape: tuple[int, ...]) -> bool:
    """Whether ``beta`` (a number, or a CPU tensor) broadcasts to one step's shape."""
    if isinstance(beta, torch.Tensor):
        if beta.device.type != "cpu":
            return False
        if beta.dim() == 0:  # broadcasts to anything, without torch.broadcast_shapes
            return True
        try:
            return torch.broadcast_shapes(beta.shape, step_shape) == step_shape
        except RuntimeError:
            return False
    return True


def as_tensor(value, like: torch.Tensor) -> torch.Tensor:
    """A number or tensor as a tensor of ``like``'s dtype (a number: 0-d)."""
    if isinstance(value, torch.Tensor):
        return value.to(like.dtype)
    return torch.tensor(float(value), dtype=like.dtype)


def lif_fused(x: torch.Tensor, beta, v0: torch.Tensor | None, spec: LIFSpec
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(spikes[T, ...], v_last)`` of the LIF of ``spec`` over ``x[T, ...]`` from the reset
    potential ``v0`` (zeros when None), the compiled passes; gradients flow to ``x``, a
    tensor ``beta`` and ``v0``. The registry (:mod:`spikewave.kernels.registry`) calls it
    where :func:`loop_supports` holds."""
    beta = as_tensor(beta, x)
    beta_full = beta.expand(x.shape[1:])
    v0 = x.new_zeros(x.shape[1:]) if v0 is None else v0.to(x.dtype).expand(x.shape[1:])
    keep_u = torch.is_grad_enabled() and (x.requires_grad or beta.requires_grad
                                          or v0.requires_grad)
    args = (x, beta_full, v0, *spec_args(spec), keep_u)
    if torch.compiler.is_compiling():
        spikes, _, v_last = lif_forward_op(*args)
    else:
        spikes, _, v_last = _EagerLIF.apply(*args, spec.surrogate)
    return spikes, v_last
