"""Synaptic layers on ``[T, B, ...]`` sequences: a dense layer that uses the sparsity of
binary spikes, the same layer fused with its LIF neurons, and any PyTorch layer applied at
every step. Same surface as :mod:`spikewave.nn.neurons` (``forward(x, state=None, *,
return_state=False)``, ``step``, ``kernel_choice``)."""

from __future__ import annotations

import torch
from torch import nn

from spikewave._validation import NON_NEGATIVE, check_int, check_number, fail
from spikewave.kernels import multistep
from spikewave.kernels.registry import Choice, check_sequence
from spikewave.kernels.spike_gather import input_major_copy
from spikewave.neurons.specs import LIFSpec, LIFState
from spikewave.neurons.steps import lif_step
from spikewave.nn._parts import Decay, SpecFields, check_step_input, checked_state, outputs
from spikewave.surrogate import FastSigmoid, Surrogate


def _check_flag(value: bool, name: str, owner: str) -> bool:
    if not isinstance(value, bool):
        raise fail(name, value, "True or False", owner)
    return value


def _check_density(max_density: float | None, owner: str) -> float | None:
    if max_density is None:
        return None
    return check_number("max_density", max_density, NON_NEGATIVE, owner)


# The checks and the multi-step call of each layer, recorded by torch.fx as one call each.
def _spike_linear_run(x, weight, bias, max_density, n_in):
    if isinstance(x, torch.Tensor) and x.dim() == 2:  # one step [B, in]
        check_sequence(x.unsqueeze(0), "SpikeLinear", features=n_in)
    else:
        check_sequence(x, "SpikeLinear", features=n_in)
    return multistep.linear(x, weight, bias, max_density)


def _linear_lif_run(x, state, weight, bias, beta, spec, chunk_steps, max_density):
    check_sequence(x, "LinearLIF", dims=3, features=weight.shape[1])
    state = checked_state(state, LIFState, x.new_empty(x.shape[1], weight.shape[0]),
                          "LinearLIF")
    return multistep.linear_lif(x, weight, bias, beta, spec, state, chunk_steps, max_density)


def _time_distributed_run(x, module, stochastic):
    check_sequence(x, "TimeDistributed")
    t, b = x.shape[:2]
    if t > 1 and x.stride(0) == 0 and not stochastic:
        y = module(x[0])
        return y.unsqueeze(0).expand(t, *y.shape)
    y = module(x.reshape(t * b, *x.shape[2:]))
    return y.reshape(t, b, *y.shape[1:])


for _name in ("_spike_linear_run", "_linear_lif_run", "outputs"):
    torch.fx.wrap(_name)


class SpikeLinear(nn.Linear):
    """``nn.Linear`` (same initialisation, parameters and state-dict entries) that sums the
    weight rows of the active inputs when its input is binary spikes on the CPU with at
    most ``max_density`` of them active, and takes the dense product otherwise -- the same
    values up to the order of summation, the same gradients. ``max_density=None``: the
    kernels' configuration decides (:mod:`spikewave.kernels.registry`: a measured
    crossover, or this machine's calibration); a number fixes it for this layer. Works on
    ``[..., in_features]``; stateless (``step`` returns ``(y, None)``).

    ``input_major=True`` stores the weight input by input (``weight.T`` contiguous; the
    same shape ``[out_features, in_features]`` and state-dict entry): the rows the gather
    adds up are then the weight's own memory, with no transposed copy per call. Not the
    default: ``torch.nn.utils.parameters_to_vector`` and ``torch.optim.LBFGS`` flatten
    parameters with ``view(-1)``, which needs the usual layout."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 max_density: float | None = None, input_major: bool = False) -> None:
        super().__init__(check_int("in_features", in_features, 1, owner="SpikeLinear"),
                         check_int("out_features", out_features, 1, owner="SpikeLinear"),
                         bias)
        if _check_flag(input_major, "input_major", "SpikeLinear"):
            self.weight = nn.Parameter(input_major_copy(self.weight))
        self.max_density = _check_density(max_density, "SpikeLinear")

    def forward(self, x: torch.Tensor, state: None = None, *, return_state: bool = False):
        y = _spike_linear_run(x, self.weight, self.bias, self.max_density, self.in_features)
        return outputs(y, None, return_state)

    def step(self, x_t: torch.Tensor, state: None = None) -> tuple[torch.Tensor, None]:
        return self(x_t), None

    def kernel_choice(self, x: torch.Tensor) -> Choice:
        return multistep.linear_choice(x, self.weight, self.max_density)


class LinearLIF(SpecFields, nn.Module):
    """Dense synapses and their LIF neurons as one layer: ``x[T, B, in_features]`` ->
    spikes ``[T, B, out_features]`` -- the same as :class:`SpikeLinear` (or ``nn.Linear``)
    then :class:`~spikewave.nn.LIF` (same initialisation, same spikes, same gradients up to
    summation order), on the fastest path that applies
    (:func:`spikewave.kernels.multistep.linear_lif`):

    - sparse binary input on the CPU: the current summed over the active inputs and the
      neurons stepped in one pass (the current is never stored);
    - ``chunk_steps`` set: time in chunks whose start states alone are kept for the
      backward pass, which recomputes each chunk -- memory independent of T for one more
      forward pass;
    - a :class:`~spikewave.surrogate.BandLimited` surrogate with ``detach_reset=True``,
      the subtract reset and a fixed time constant: the sparse backward pass of
      Perez-Nieves & Goodman 2021 (only near-threshold entries visited);
    - else the dense product (once per sample when the input is the same at every step,
      a stride-0 view over time) and the fused LIF.

    ``learn_beta`` learns one time constant per output neuron (``n_neurons``, when given,
    must be ``out_features``); ``input_major`` and ``max_density`` as for
    :class:`SpikeLinear`. The state is :class:`~spikewave.neurons.specs.LIFState`."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 chunk_steps: int | None = None, max_density: float | None = None,
                 input_major: bool = False, tau_steps: float = 10.0, threshold: float = 1.0,
                 reset: str = "subtract", surrogate: Surrogate | None = None,
                 detach_reset: bool = False, learn_beta: bool = False,
                 n_neurons: int | None = None) -> None:
        super().__init__()
        n_in = check_int("in_features", in_features, 1, owner="LinearLIF")
        n_out = check_int("out_features", out_features, 1, owner="LinearLIF")
        if n_neurons is not None and n_neurons != n_out:
            raise fail("n_neurons", n_neurons, f"None or out_features = {n_out} (a LinearLIF "
                       "has one neuron per output; learn_beta gives each its own tau)",
                       "LinearLIF")
        self.spec = LIFSpec(threshold, reset, FastSigmoid() if surrogate is None else
                            surrogate, detach_reset)
        self.decay = Decay(tau_steps, learn_beta, n_out if learn_beta else None,
                           owner="LinearLIF")
        ref = nn.Linear(n_in, n_out, bias)
        self.weight = (nn.Parameter(input_major_copy(ref.weight))
                       if _check_flag(input_major, "input_major", "LinearLIF")
                       else ref.weight)
        self.bias = ref.bias
        self.in_features, self.out_features = n_in, n_out
        self.chunk_steps = (None if chunk_steps is None else
                            check_int("chunk_steps", chunk_steps, 1, owner="LinearLIF"))
        self.max_density = _check_density(max_density, "LinearLIF")

    def forward(self, x: torch.Tensor, state: LIFState | None = None, *,
                return_state: bool = False):
        spikes, state = _linear_lif_run(x, state, self.weight, self.bias, self.decay.beta(),
                                        self.spec, self.chunk_steps, self.max_density)
        return outputs(spikes, state, return_state)

    def step(self, x_t: torch.Tensor, state: LIFState | None = None
             ) -> tuple[torch.Tensor, LIFState]:
        check_step_input(x_t, "LinearLIF", self.in_features)
        current = nn.functional.linear(x_t, self.weight, self.bias)
        state = (checked_state(state, LIFState, current, "LinearLIF")
                 or LIFState(torch.zeros_like(current)))
        return lif_step(current, state, self.decay.beta(), self.spec)

    def kernel_choice(self, x: torch.Tensor) -> Choice:
        return multistep.linear_lif_choice(x, self.weight, self.decay.beta(), self.spec, None,
                                           self.chunk_steps, self.max_density)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"chunk_steps={self.chunk_steps}, {self.spec}, "
                f"learn_beta={self.decay.learn_beta}")


class TimeDistributed(nn.Module):
    """Apply any layer to every time step of ``[T, B, ...]`` in one call (T folded into B).

    A time-constant input given as a stride-0 view over time (what
    :func:`spikewave.coding.rate.direct_current` returns) is computed once, on ``[B, ...]``,
    and the result is expanded over time again: the same values at ``1/T`` of the cost, with
    gradients summed over the steps by the expansion. Layers that draw random numbers
    (dropout) are always applied step by step so that each step gets its own mask. In
    training mode a batch-norm layer then sees each sample once rather than ``T`` times: the
    same normalisation, and running variances updated with ``n - 1`` for ``n = B H W``
    rather than ``T B H W`` samples. Stateless (``step`` returns ``(y, None)``).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise fail("module", module, "a torch.nn.Module", "TimeDistributed")
        self.module = module
        self.stochastic = any(isinstance(m, nn.modules.dropout._DropoutNd)
                              for m in module.modules())

    def forward(self, x: torch.Tensor, state: None = None, *, return_state: bool = False):
        if isinstance(x, torch.fx.Proxy):  # traced: fold time into the batch
            y = self.module(x.flatten(0, 1))
            y = y.unflatten(0, (x.shape[0], x.shape[1]))
        else:
            y = _time_distributed_run(x, self.module, self.stochastic)
        return outputs(y, None, return_state)

    def step(self, x_t: torch.Tensor, state: None = None) -> tuple[torch.Tensor, None]:
        return self.module(x_t), None
