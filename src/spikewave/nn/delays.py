"""Synaptic delays on ``[T, B, in]`` sequences: fixed per-synapse delays and delays learned
as in Hammouamri, Khalfaoui-Hassani & Masquelier (ICLR 2024, DCLS).

A dense layer with per-synapse delays ``d[o, i]`` (in steps, ``0 <= d <= max_delay``)::

    y[t, b, o] = sum_i W[o, i] x[t - d[o, i], b, i]          (x = 0 before the start)

is a causal temporal convolution whose kernel ``K[o, i, k]`` is ``W[o, i]`` at ``k = d[o, i]``
and 0 elsewhere; it runs as one ``conv1d`` over all steps.

Learned delays (DCLS): each synapse has one kernel element at a continuous position
``p[o, i]``, spread by a Gaussian of width ``sigma``::

    K[o, i, k] = W[o, i] g(k - p[o, i]) / sum_k' g(k' - p[o, i]),   g(u) = exp(-u^2 / 2 sigma^2)

so the loss is differentiable in ``p``. ``sigma`` starts wide (the kernel sees the whole
window) and is lowered during training (:meth:`LearnableDelayLinear.set_sigma`, e.g. the
paper's linear decay per epoch to 0.5 or below); :meth:`LearnableDelayLinear.rounded`
gives the integer-delay layer used after training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spikewave._validation import POSITIVE, check_int, check_number, fail
from spikewave.kernels.registry import Choice, check_sequence
from spikewave.neurons.specs import DelayState
from spikewave.nn._parts import outputs


def delayed_matmul(x: torch.Tensor, kernel: torch.Tensor,
                   history: torch.Tensor | None = None) -> torch.Tensor:
    """``y[t, b, o] = sum_{i, k} kernel[o, i, k] x[t - k, b, i]`` (causal) for
    ``x[T, B, in]``; the inputs before the first step are ``history[span - 1, B, in]``
    (oldest first), zeros when None."""
    span = kernel.shape[-1]
    if history is None:
        seq = F.pad(x.permute(1, 2, 0), (span - 1, 0))  # [B, in, T + span - 1]
    else:
        seq = torch.cat([history, x]).permute(1, 2, 0)
    return F.conv1d(seq, kernel.flip(-1)).permute(2, 0, 1)


def _delayed_run(x, state, kernel, bias, max_delay, in_features, owner):
    """``(y, state after the last step)`` of a delay layer (one call for torch.fx)."""
    check_sequence(x, owner, dims=3, features=in_features)
    history = None
    if state is not None:
        want = (max_delay, x.shape[1], in_features)
        history = state[0] if isinstance(state, tuple) and len(state) == 1 else None
        if not isinstance(history, torch.Tensor) or tuple(history.shape) != want:
            raise fail("state", state, f"None or a DelayState(history) of shape {want}", owner)
    y = delayed_matmul(x, kernel, history)
    if bias is not None:
        y = y + bias
    past = x.new_zeros(max_delay, *x.shape[1:]) if history is None else history
    return y, DelayState(torch.cat([past, x])[len(x):])


torch.fx.wrap("_delayed_run")
torch.fx.wrap("outputs")


class _Delayed(nn.Module):
    """What both delay layers share: the sequence, state and step around their kernel
    (abstract: the final classes define ``kernel``)."""

    in_features: int
    max_delay: int
    bias: torch.Tensor | None

    def kernel(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor, state: DelayState | None = None, *,
                return_state: bool = False):
        y, state = _delayed_run(x, state, self.kernel(), self.bias, self.max_delay,
                                self.in_features, type(self).__name__)
        return outputs(y, state, return_state)

    def step(self, x_t: torch.Tensor, state: DelayState | None = None
             ) -> tuple[torch.Tensor, DelayState]:
        y, state = self(x_t.unsqueeze(0), state, return_state=True)
        return y[0], state

    def kernel_choice(self, x: torch.Tensor) -> Choice:
        return Choice("dense", "one causal conv1d over all steps (PyTorch)")


class DelayedLinear(_Delayed):
    """Dense layer with fixed integer per-synapse delays ``delays[out, in]`` (steps). The
    state is the last ``max_delay`` inputs (:class:`~spikewave.neurons.specs.DelayState`)."""

    def __init__(self, in_features: int, out_features: int, delays: torch.Tensor,
                 bias: bool = False) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, 1)
        self.out_features = check_int("out_features", out_features, 1)
        d = torch.as_tensor(delays)
        if d.shape != (out_features, in_features) or d.dtype.is_floating_point or (d < 0).any():
            raise fail("delays", f"a tensor of shape {tuple(d.shape)} and dtype {d.dtype}",
                       f"non-negative integers of shape [{out_features}, {in_features}]",
                       "DelayedLinear")
        self.register_buffer("delays", d.long())
        self.max_delay = int(d.max()) if d.numel() else 0
        lin = nn.Linear(in_features, out_features, bias=bias)
        self.weight = lin.weight
        self.bias = lin.bias

    def kernel(self) -> torch.Tensor:
        k = torch.zeros(self.out_features, self.in_features, self.max_delay + 1,
                        dtype=self.weight.dtype, device=self.weight.device)
        return k.scatter(2, self.delays.unsqueeze(-1), self.weight.unsqueeze(-1))


class LearnableDelayLinear(_Delayed):
    """Dense layer whose per-synapse delays are learned (DCLS-style Gaussian interpolation).
    The state is the last ``max_delay`` inputs (:class:`~spikewave.neurons.specs.DelayState`)."""

    def __init__(self, in_features: int, out_features: int, max_delay: int,
                 sigma: float | None = None, bias: bool = False, seed: int | None = None) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, 1)
        self.out_features = check_int("out_features", out_features, 1)
        self.max_delay = check_int("max_delay", max_delay, 1)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        lin = nn.Linear(in_features, out_features, bias=bias)
        self.weight = lin.weight
        self.bias = lin.bias
        pos = torch.rand(out_features, in_features, generator=gen) * max_delay
        self.position = nn.Parameter(pos)
        self.sigma = 0.0
        self.set_sigma(max_delay / 2 if sigma is None else sigma)

    def set_sigma(self, sigma: float) -> None:
        """Width of the Gaussian, in steps; lower it as training goes on."""
        self.sigma = check_number("sigma", sigma, POSITIVE, "LearnableDelayLinear")

    def delays(self) -> torch.Tensor:
        """The current delays rounded to integer steps, within ``[0, max_delay]``."""
        return self.position.detach().round().clamp(0, self.max_delay).long()

    def kernel(self) -> torch.Tensor:
        k = torch.arange(self.max_delay + 1, dtype=self.position.dtype,
                         device=self.position.device)
        pos = self.position.clamp(0, self.max_delay).unsqueeze(-1)
        g = torch.exp(-0.5 * ((k - pos) / self.sigma) ** 2)
        return self.weight.unsqueeze(-1) * g / g.sum(-1, keepdim=True)

    def rounded(self) -> DelayedLinear:
        """The fixed-delay layer with the same weights and the rounded delays."""
        layer = DelayedLinear(self.in_features, self.out_features, self.delays(),
                              bias=self.bias is not None)
        with torch.no_grad():
            layer.weight.copy_(self.weight)
            if self.bias is not None:
                layer.bias.copy_(self.bias)
        return layer.to(self.weight.dtype)
