"""Event-driven dense layer for binary spike inputs: the autograd function that joins the
forward gather (:mod:`spikewave.kernels.spike_gather`) and the weight gradient
(:mod:`spikewave.kernels.spike_wgrad`), the input gradient being the dense ``g @ W``.

For spikes ``s[R, in]`` (0 or 1) both the current ``s @ W.T + b`` and the weight gradient
``g.T @ s`` cost ``(active inputs) x out`` instead of ``R x in x out``. The reference is
``torch.nn.functional.linear``; parity tests hold the two together.
"""

from __future__ import annotations

import numpy as np
import torch

from spikewave._validation import fail
from spikewave.kernels import registry
from spikewave.kernels._simd import (
    NARROW,
)
from spikewave.kernels.spike_gather import (
    _NUMPY_TYPES,
    gather_weight,
    input_major,
)
from spikewave.kernels.spike_scan import active_inputs
from spikewave.kernels.spike_wgrad import weight_grad, weight_grad_narrow


class _SpikeLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, spikes, weight, bias, active):
        b = (bias.detach().numpy() if bias is not None
             else np.zeros(weight.shape[0], _NUMPY_TYPES[weight.dtype]))
        out = gather_weight(active, weight, b)
        ctx.save_for_backward(weight, spikes)
        ctx.active = active
        ctx.has_bias = bias is not None
        return torch.from_numpy(out).reshape(*spikes.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad_out):
        weight, spikes = ctx.saved_tensors
        g2 = grad_out.reshape(-1, grad_out.shape[-1]).contiguous()
        g_in, g_w, g_b = linear_grads(g2, weight, ctx.active, spikes,
                                      *ctx.needs_input_grad[:2],
                                      ctx.has_bias and ctx.needs_input_grad[2])
        return g_in, g_w, g_b, None


def linear_grads(g2: torch.Tensor, weight: torch.Tensor,
                 active: tuple[np.ndarray, np.ndarray], spikes: torch.Tensor,
                 need_input: bool, need_weight: bool, need_bias: bool
                 ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """The gradients ``(input, weight, bias)`` of ``s @ weight.T + b`` from the output's
    gradient ``g2[R, out]`` (contiguous), for ``spikes`` ``s[..., in]`` whose active
    inputs are ``active``: the input's by the dense product (shaped as ``spikes``), the
    weight's summed over the active inputs (:func:`weight_grad`, or
    :func:`weight_grad_narrow` for a layer of at most 16 outputs) in the weight's layout
    -- by the dense product ``g2.T @ s`` where more than
    :data:`~spikewave.kernels.registry.WEIGHT_GRAD_DENSITY` of the inputs are active --,
    the bias's ``g2.sum(0)`` on every path; None for each one not needed."""
    g_in = g_w = g_b = None
    if need_input:
        g_in = (g2 @ weight).reshape(spikes.shape)
    if need_weight and registry.dense_weight_grad(len(active[1]), spikes.numel(),
                                                  weight.shape[0]):
        s2 = spikes.detach().reshape(-1, spikes.shape[-1])
        g_w = (s2.T @ g2).T if input_major(weight) else g2.T @ s2
    elif need_weight and weight.shape[0] <= NARROW:
        ptr, idx = active
        g_w = torch.from_numpy(weight_grad_narrow(ptr, idx, g2.detach().numpy(),
                                                  weight.shape[1], input_major(weight)))
    elif need_weight:
        ptr, idx = active
        g_w = torch.from_numpy(weight_grad(ptr, idx, g2.detach().numpy(), weight.shape[1],
                                           input_major=input_major(weight)))
    if need_bias:
        g_b = g2.sum(0)
    return g_in, g_w, g_b


def spike_linear(spikes: torch.Tensor, weight: torch.Tensor,
                 bias: torch.Tensor | None = None,
                 active: tuple[np.ndarray, np.ndarray] | None = None) -> torch.Tensor:
    """``spikes @ weight.T + bias`` for binary ``spikes`` on the CPU, event driven; the same
    values (up to summation order) and gradients as ``torch.nn.functional.linear``.
    ``active`` is :func:`active_inputs` of the flattened spikes, when already computed."""
    x = spikes.contiguous()
    if active is None:
        active = active_inputs(x.reshape(-1, x.shape[-1]))
        if active is None:
            raise fail("spikes", "a tensor holding values other than 0 and 1",
                       "binary spikes (0 or 1) for the event-driven product", "spike_linear")
    return _SpikeLinear.apply(x, weight, bias, active)
