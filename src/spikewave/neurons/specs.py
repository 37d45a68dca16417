"""Specs and state records of the discrete-time neuron models that the layers run.

A spec is a frozen, validated record of a model's fixed settings (threshold, reset,
surrogate, adaptation); the decays and weights are tensors passed beside it, because they
may be learnt. A state is a ``NamedTuple`` of tensors, a pytree for ``torch.func`` and
``torch.compile``; a step takes a state and returns a new one (nothing is changed in
place). The update rules are in :mod:`spikewave.neurons.steps`.

The decay per step is ``beta = exp(-dt / tau)`` (``tau_steps = tau / dt``); spikes fire
when the potential reaches the threshold (``V >= threshold``, the tie fires).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import torch

from spikewave._validation import NON_NEGATIVE, POSITIVE, check_choice, check_number, fail
from spikewave.surrogate import FastSigmoid, Surrogate, kernel_kind

RESET_MODES = ("subtract", "zero")


@dataclass(frozen=True, slots=True)
class LIFSpec:
    """Settings of a leaky integrate-and-fire neuron:

    ``V[t] = beta Vr[t-1] + x[t]``, ``S[t] = H(V[t] - threshold)``, then the reset:
    ``Vr = V - threshold S`` (``"subtract"``) or ``Vr = V (1 - S)`` (``"zero"``).
    ``surrogate`` stands in for ``H``'s derivative in the backward pass; with
    ``detach_reset`` no gradient flows through the reset term (Zenke & Vogels 2021).
    """

    threshold: float = 1.0
    reset: str = "subtract"
    surrogate: Surrogate = field(default_factory=FastSigmoid)
    detach_reset: bool = False
    # what the compiled kernels know the surrogate's derivative by: always looked up again
    # from the surrogate (an init field only so that records rebuilt from their fields, as
    # torch.fx's generated code does, are accepted)
    surrogate_kind: int = field(default=0, repr=False, compare=False, kw_only=True)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        object.__setattr__(self, "threshold",
                           check_number("threshold", self.threshold, POSITIVE, owner))
        check_choice("reset", self.reset, RESET_MODES, owner)
        if not isinstance(self.surrogate, Surrogate):
            raise fail("surrogate", self.surrogate, "a spikewave.surrogate.Surrogate", owner)
        if not isinstance(self.detach_reset, bool):
            raise fail("detach_reset", self.detach_reset, "True or False", owner)
        object.__setattr__(self, "surrogate_kind", kernel_kind(self.surrogate))

    def replace(self, **changes: Any) -> LIFSpec:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class ALIFSpec(LIFSpec):
    """An adaptive-threshold LIF (Bellec et al. 2018): the threshold at step ``t`` is
    ``threshold + adaptation a[t-1]`` and the adaptation trace ``a[t] = rho a[t-1] + S[t]``
    decays with ``rho = exp(-1 / tau_adapt_steps)``."""

    adaptation: float = 0.2
    tau_adapt_steps: float = 100.0

    def __post_init__(self) -> None:
        LIFSpec.__post_init__(self)
        owner = type(self).__name__
        object.__setattr__(self, "adaptation",
                           check_number("adaptation", self.adaptation, NON_NEGATIVE, owner))
        object.__setattr__(self, "tau_adapt_steps", check_number(
            "tau_adapt_steps", self.tau_adapt_steps, POSITIVE, owner))

    @property
    def rho(self) -> float:
        """The adaptation trace's decay per step."""
        return math.exp(-1.0 / self.tau_adapt_steps)


class LIFState(NamedTuple):
    """``v``: the membrane potential after the last step's reset, ``[B, ...]``."""

    v: torch.Tensor


class CurrentLIFState(NamedTuple):
    """``i``: the synaptic current; ``v``: the potential after the reset."""

    i: torch.Tensor
    v: torch.Tensor


class ALIFState(NamedTuple):
    """``v``: the potential after the reset; ``a``: the adaptation trace."""

    v: torch.Tensor
    a: torch.Tensor


class RecurrentLIFState(NamedTuple):
    """``v``: the potential after the reset; ``s``: the last step's spikes, which the
    recurrent weights carry into the next step."""

    v: torch.Tensor
    s: torch.Tensor


class LeakyState(NamedTuple):
    """``v``: the leaky integrator's value."""

    v: torch.Tensor


class DelayState(NamedTuple):
    """``history``: the last ``max_delay`` inputs ``[max_delay, B, in]``, oldest first (zeros
    before the start)."""

    history: torch.Tensor


__all__ = ["ALIFSpec", "ALIFState", "CurrentLIFState", "DelayState", "LIFSpec", "LIFState",
           "LeakyState", "RESET_MODES", "RecurrentLIFState"]
