"""What the layers share: the decay parameter, the spec's fields as read-only attributes,
and the check of a state passed in."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import nn

from spikewave._validation import POSITIVE, check_int, check_number, fail


class Decay(nn.Module):
    """A decay per step ``beta = exp(-1 / tau_steps)``: a buffer, or with ``learn`` a
    trainable logit (``beta = sigmoid(logit)`` stays in (0, 1), so tau stays positive);
    one value per layer, or per neuron (``n_neurons``)."""

    def __init__(self, tau_steps: float, learn: bool, n_neurons: int | None,
                 name: str = "tau_steps", owner: str | None = None) -> None:
        super().__init__()
        tau = check_number(name, tau_steps, POSITIVE, owner)
        beta = math.exp(-1.0 / tau)
        if beta >= 1.0 - 1e-12:
            raise fail(name, tau_steps, "small enough that exp(-1/tau) < 1", owner)
        if not isinstance(learn, bool):
            raise fail("learn_beta", learn, "True or False", owner)
        shape = (check_int("n_neurons", n_neurons, 1, owner=owner),) if n_neurons else ()
        value = torch.full(shape, beta)
        if learn:
            self.beta_logit = nn.Parameter(torch.log(value / (1 - value)))
        else:
            self.register_buffer("beta_value", value)
        self.learn_beta = learn

    def beta(self) -> torch.Tensor:
        return torch.sigmoid(self.beta_logit) if self.learn_beta else self.beta_value

    def tau_steps(self) -> torch.Tensor:
        """The time constant(s) in steps, ``-1 / ln(beta)``."""
        return -1.0 / torch.log(self.beta())


class SpecFields:
    """The fields of a layer's ``spec`` as read-only attributes (``layer.threshold``...);
    a new spec is made with ``layer.spec.replace(...)`` and assigned whole."""

    spec: Any

    @property
    def threshold(self) -> float:
        return self.spec.threshold

    @property
    def reset(self) -> str:
        return self.spec.reset

    @property
    def surrogate(self):
        return self.spec.surrogate

    @property
    def detach_reset(self) -> bool:
        return self.spec.detach_reset


def checked_state(state: Any, kind: type[NamedTuple], like: torch.Tensor, owner: str) -> Any:
    """``state`` as a ``kind`` record whose tensors have the shape of one step of input
    (``like``) -- or None for a start at rest. One clear error otherwise: a state of another
    batch or width is a bug to report, not a reason to start again silently."""
    if state is None:
        return None
    fields = kind._fields
    if not isinstance(state, tuple) or len(state) != len(fields):
        raise fail("state", state, f"None or a {kind.__name__}({', '.join(fields)})", owner)
    state = kind(*state)
    for name, value in zip(fields, state, strict=True):
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(like.shape):
            got = (f"{name} of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor)
                   else f"{name} = {value!r}")
            raise fail("state", f"a {kind.__name__} with {got}",
                       f"tensors of one step's shape {tuple(like.shape)}", owner)
        if value.dtype != like.dtype:
            raise fail("state", f"a {kind.__name__} with {name} of dtype {value.dtype}",
                       f"tensors of the input's dtype {like.dtype}", owner)
    return state


def outputs(y: torch.Tensor, state: Any, return_state: bool) -> Any:
    """``(y, state)`` with ``return_state``, else ``y`` (a function, so that torch.fx records
    the choice as a call instead of tracing a branch on its argument)."""
    return (y, state) if return_state else y


torch.fx.wrap("outputs")


def check_step_input(x_t: Any, owner: str, features: int | None = None) -> None:
    """One clear error for a single step's input that is not a tensor ``[B, ...]``."""
    if not isinstance(x_t, torch.Tensor) or x_t.dim() < 1:
        raise fail("x_t", x_t if not isinstance(x_t, torch.Tensor) else
                   f"a tensor of shape {tuple(x_t.shape)}", "a tensor [B, ...]", owner)
    if features is not None and x_t.shape[-1] != features:
        raise fail("x_t", f"a tensor of shape {tuple(x_t.shape)}", f"a tensor [B, {features}]",
                   owner)
