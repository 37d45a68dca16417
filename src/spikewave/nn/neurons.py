"""Spiking neuron layers on ``[T, B, ...]`` sequences: thin, final modules over the
multi-step functions of :mod:`spikewave.kernels.multistep` and the single steps of
:mod:`spikewave.neurons.steps`.

Every layer here has the same surface:

- ``layer(x)`` -- the outputs over the whole sequence ``x[T, B, ...]``, from rest;
- ``layer(x, state)`` -- from a given state; ``return_state=True`` gives ``(outputs,
  state)``, the state after the last step (a ``NamedTuple`` of tensors);
- ``layer.step(x_t, state=None)`` -- one step ``x_t[B, ...]``: ``(outputs, state)``;
  stepping through ``x`` gives exactly what ``layer(x)`` gives;
- ``layer.kernel_choice(x)`` -- the path the registry takes for ``x``, and why
  (:func:`spikewave.kernels.explain` collects them over a network).

The decay per step is ``beta = exp(-1 / tau_steps)`` (``tau_steps = tau / dt``); with
``learn_beta`` it is trained, per layer or per neuron (``n_neurons``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from spikewave._validation import POSITIVE, check_int, check_number, fail
from spikewave.kernels import multistep
from spikewave.kernels.registry import Choice, check_sequence
from spikewave.neurons.specs import (
    ALIFSpec,
    ALIFState,
    CurrentLIFState,
    LeakyState,
    LIFSpec,
    LIFState,
    RecurrentLIFState,
)
from spikewave.neurons.steps import (
    alif_step,
    current_lif_step,
    leaky_step,
    lif_step,
    recurrent_lif_step,
)
from spikewave.nn._parts import Decay, SpecFields, check_step_input, checked_state, outputs
from spikewave.surrogate import FastSigmoid, Surrogate


def _spec(threshold, reset, surrogate, detach_reset) -> LIFSpec:
    return LIFSpec(threshold, reset, FastSigmoid() if surrogate is None else surrogate,
                   detach_reset)


def _zeros(n: int, x_t: torch.Tensor) -> list[torch.Tensor]:
    return [torch.zeros_like(x_t) for _ in range(n)]


# The checks and the multi-step call of each layer, as functions that torch.fx records as
# one call each (torch.fx.wrap) instead of tracing into their branches.
def _lif_run(x, state, beta, spec):
    check_sequence(x, "LIF")
    return multistep.lif(x, beta, spec, checked_state(state, LIFState, x[0], "LIF"))


def _current_lif_run(x, state, alpha, beta, spec):
    check_sequence(x, "CurrentLIF")
    state = checked_state(state, CurrentLIFState, x[0], "CurrentLIF")
    return multistep.current_lif(x, alpha, beta, spec, state)


def _alif_run(x, state, beta, spec):
    check_sequence(x, "ALIF")
    return multistep.alif(x, beta, spec, checked_state(state, ALIFState, x[0], "ALIF"))


def _recurrent_lif_run(x, state, w_rec, beta, spec, n):
    check_sequence(x, "RecurrentLIF", dims=3, features=n)
    state = checked_state(state, RecurrentLIFState, x[0], "RecurrentLIF")
    return multistep.recurrent_lif(x, w_rec, beta, spec, state)


def _leaky_run(x, state, beta):
    check_sequence(x, "LeakyReadout")
    return multistep.leaky(x, beta, checked_state(state, LeakyState, x[0], "LeakyReadout"))


for _name in ("_lif_run", "_current_lif_run", "_alif_run", "_recurrent_lif_run", "_leaky_run",
              "outputs"):
    torch.fx.wrap(_name)


class LIF(SpecFields, nn.Module):
    """Leaky integrate-and-fire layer: input current ``x[T, B, ...]`` -> spikes.

    ``V[t] = beta Vr[t-1] + x[t]``, ``S[t] = H(V[t] - threshold)`` (a surrogate gradient
    backward), then the reset: ``Vr = V - threshold S`` (``"subtract"``) or ``V (1 - S)``
    (``"zero"``), optionally with no gradient through it (``detach_reset``). The spec is
    :class:`~spikewave.neurons.specs.LIFSpec`, the state
    :class:`~spikewave.neurons.specs.LIFState`."""

    def __init__(self, tau_steps: float = 10.0, threshold: float = 1.0,
                 reset: str = "subtract", surrogate: Surrogate | None = None,
                 detach_reset: bool = False, learn_beta: bool = False,
                 n_neurons: int | None = None) -> None:
        super().__init__()
        self.spec = _spec(threshold, reset, surrogate, detach_reset)
        self.decay = Decay(tau_steps, learn_beta, n_neurons, owner="LIF")

    def forward(self, x: torch.Tensor, state: LIFState | None = None, *,
                return_state: bool = False):
        spikes, state = _lif_run(x, state, self.decay.beta(), self.spec)
        return outputs(spikes, state, return_state)

    def step(self, x_t: torch.Tensor, state: LIFState | None = None
             ) -> tuple[torch.Tensor, LIFState]:
        check_step_input(x_t, "LIF")
        state = checked_state(state, LIFState, x_t, "LIF") or LIFState(*_zeros(1, x_t))
        return lif_step(x_t, state, self.decay.beta(), self.spec)

    def kernel_choice(self, x: torch.Tensor) -> Choice:
        return multistep.lif_choice(x, self.decay.beta(), self.spec)

    def extra_repr(self) -> str:
        return f"{self.spec}, learn_beta={self.decay.learn_beta}"


class CurrentLIF(SpecFields, nn.Module):
    """Current-based LIF: a synaptic trace ``I[t] = alpha I[t-1] + x[t]`` (``alpha =
    exp(-1 / tau_syn_steps)``, trainable with ``learn_alpha``) drives the LIF of
    :class:`LIF`. The state is :class:`~spikewave.neurons.specs.CurrentLIFState`."""

    def __init__(self, tau_syn_steps: float = 5.0, tau_steps: float = 10.0,
                 threshold: float = 1.0, reset: str = "subtract",
                 surrogate: Surrogate | None = None, detach_reset: bool = False,
                 learn_beta: bool = False, learn_alpha: bool = False,
                 n_neurons: int | None = None) -> None:
        super().__init__()
        self.spec = _spec(threshold, reset, surrogate, detach_reset)
        self.decay = Decay(tau_steps, learn_beta, n_neurons, owner="CurrentLIF")
        self.syn = Decay(tau_syn_steps, learn_alpha, n_neurons, "tau_syn_steps", "CurrentLIF")

    def forward(self, x: torch.Tensor, state: CurrentLIFState | None = None, *,
                return_state: bool = False):
        spikes, state = _current_lif_run(x, state, self.syn.beta(), self.decay.beta(),
                                         self.spec)
        return outputs(spikes, state, return_state)

    def step(self, x_t: torch.Tensor, state: CurrentLIFState | None = None
             ) -> tuple[torch.Tensor, CurrentLIFState]:
        check_step_input(x_t, "CurrentLIF")
        state = (checked_state(state, CurrentLIFState, x_t, "CurrentLIF")
                 or CurrentLIFState(*_zeros(2, x_t)))
        return current_lif_step(x_t, state, self.syn.beta(), self.decay.beta(), self.spec)

    def kernel_choice(self, x: torch.Tensor) -> Choice:
        return multistep.current_lif_choice(x, self.decay.beta(), self.spec)

    def extra_repr(self) -> str:
        return (f"{self.spec}, learn_beta={self.decay.learn_beta}, "
                f"learn_alpha={self.syn.learn_beta}")


class ALIF(SpecFields, nn.Module):
    """Adaptive-threshold LIF (Bellec et al. 2018): the threshold is ``threshold +
    adaptation a[t-1]``, the adaptation trace ``a[t] = rho a[t-1] + S[t]`` with ``rho =
    exp(-1 / tau_adapt_steps)``. The spec is :class:`~spikewave.neurons.specs.ALIFSpec`,
    the state :class:`~spikewave.neurons.specs.ALIFState`."""

    def __init__(self, tau_steps: float = 10.0, tau_adapt_steps: float = 100.0,
                 adaptation: float = 0.2, threshold: float = 1.0, reset: str = "subtract",
                 surrogate: Surrogate | None = None, detach_reset: bool = False,
                 learn_beta: bool = False, n_neurons: int | None = None) -> None:
        super().__init__()
        self.spec = ALIFSpec(threshold, reset, FastSigmoid() if surrogate is None else
                             surrogate, detach_reset, adaptation, tau_adapt_steps)
        self.decay = Decay(tau_steps, learn_beta, n_neurons, owner="ALIF")

    @property
    def adaptation(self) -> float:
        return self.spec.adaptation

    @property
    def rho(self) -> float:
        return self.spec.rho

    def forward(self, x: torch.Tensor, state: ALIFState | None = None, *,
                return_state: bool = False):
        spikes, state = _alif_run(x, state, self.decay.beta(), self.spec)
        return outputs(spikes, state, return_state)

    def step(self, x_t: torch.Tensor, state: ALIFState | None = None
             ) -> tuple[torch.Tensor, ALIFState]:
        check_step_input(x_t, "ALIF")
        state = checked_state(state, ALIFState, x_t, "ALIF") or ALIFState(*_zeros(2, x_t))
        return alif_step(x_t, state, self.decay.beta(), self.spec)

    def kernel_choice(self, x: torch.Tensor) -> Choice:
        return multistep.alif_choice(x, self.decay.beta(), self.spec)

    def extra_repr(self) -> str:
        return f"{self.spec}, learn_beta={self.decay.learn_beta}"


class RecurrentLIF(SpecFields, nn.Module):
    """LIF with all-to-all recurrent weights ``w_rec[N, N]``: the input of step t is
    ``x[t] + S[t-1] @ w_rec.T`` for ``x[T, B, n_neurons]``. ``w_rec`` starts as ``N(0,
    rec_std^2 / n)``, with a zero diagonal unless ``self_connections``. With
    ``learn_beta`` each neuron learns its own time constant. The state is
    :class:`~spikewave.neurons.specs.RecurrentLIFState`."""

    def __init__(self, n_neurons: int, rec_std: float = 1.0, self_connections: bool = False,
                 seed: int | None = None, tau_steps: float = 10.0, threshold: float = 1.0,
                 reset: str = "subtract", surrogate: Surrogate | None = None,
                 detach_reset: bool = False, learn_beta: bool = False) -> None:
        super().__init__()
        n = check_int("n_neurons", n_neurons, 1, owner="RecurrentLIF")
        self.spec = _spec(threshold, reset, surrogate, detach_reset)
        self.decay = Decay(tau_steps, learn_beta, n if learn_beta else None,
                           owner="RecurrentLIF")
        gen = (torch.Generator().manual_seed(check_int("seed", seed, 0, owner="RecurrentLIF"))
               if seed is not None else None)
        std = check_number("rec_std", rec_std, POSITIVE, "RecurrentLIF")
        w = torch.randn(n, n, generator=gen) * std / math.sqrt(n)
        if not self_connections:
            w.fill_diagonal_(0.0)
        self.w_rec = nn.Parameter(w)
        self.n_neurons = n

    def forward(self, x: torch.Tensor, state: RecurrentLIFState | None = None, *,
                return_state: bool = False):
        spikes, state = _recurrent_lif_run(x, state, self.w_rec, self.decay.beta(), self.spec,
                                           self.n_neurons)
        return outputs(spikes, state, return_state)

    def step(self, x_t: torch.Tensor, state: RecurrentLIFState | None = None
             ) -> tuple[torch.Tensor, RecurrentLIFState]:
        check_step_input(x_t, "RecurrentLIF", self.n_neurons)
        state = (checked_state(state, RecurrentLIFState, x_t, "RecurrentLIF")
                 or RecurrentLIFState(*_zeros(2, x_t)))
        return recurrent_lif_step(x_t, state, self.w_rec, self.decay.beta(), self.spec)

    def kernel_choice(self, x: torch.Tensor) -> Choice:
        return multistep.recurrent_lif_choice(x, self.w_rec, self.decay.beta(), self.spec,
                                              None)

    def extra_repr(self) -> str:
        return f"n_neurons={self.n_neurons}, {self.spec}, learn_beta={self.decay.learn_beta}"


class LeakyReadout(nn.Module):
    """Non-spiking leaky integrator ``v[t] = beta v[t-1] + x[t]``: ``x[T, B, ...]`` ->
    ``v[T, B, ...]``. The state is :class:`~spikewave.neurons.specs.LeakyState`."""

    def __init__(self, tau_steps: float = 10.0, learn_beta: bool = False,
                 n_neurons: int | None = None) -> None:
        super().__init__()
        self.decay = Decay(tau_steps, learn_beta, n_neurons, owner="LeakyReadout")

    def forward(self, x: torch.Tensor, state: LeakyState | None = None, *,
                return_state: bool = False):
        v, state = _leaky_run(x, state, self.decay.beta())
        return outputs(v, state, return_state)

    def step(self, x_t: torch.Tensor, state: LeakyState | None = None
             ) -> tuple[torch.Tensor, LeakyState]:
        check_step_input(x_t, "LeakyReadout")
        state = (checked_state(state, LeakyState, x_t, "LeakyReadout")
                 or LeakyState(*_zeros(1, x_t)))
        return leaky_step(x_t, state, self.decay.beta())

    def kernel_choice(self, x: torch.Tensor) -> Choice:
        return Choice("reference", "a leaky integrator: PyTorch operations on every path")

    def extra_repr(self) -> str:
        return f"learn_beta={self.decay.learn_beta}"


def _check_flag(value: bool, name: str, owner: str) -> bool:
    if not isinstance(value, bool):
        raise fail(name, value, "True or False", owner)
    return value
