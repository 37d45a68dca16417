"""Multi-step spiking layers on ``[T, B, ...]`` tensors (thin wrappers over the kernels).

The decay per step is ``beta = exp(-dt / tau)``. With ``learn_beta`` the time constant is
trainable, per layer or per neuron (``n_neurons``), parametrised as
``beta = sigmoid(raw)`` so that it stays in (0, 1) (tau stays positive).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from spikewave._validation import (
    NON_NEGATIVE,
    POSITIVE,
    check_choice,
    check_int,
    check_number,
    fail,
)
from spikewave.kernels import (
    alif_multistep,
    event_linear_lif,
    leaky_integrate,
    lif_multistep,
    linear_lif,
    recurrent_lif_multistep,
)
from spikewave.kernels import spike_linear as _spike_linear
from spikewave.neurons.discrete_lif import RESET_MODES, lif_discrete_step
from spikewave.nn.surrogate import BandLimited, FastSigmoid, Surrogate


class _Decay(nn.Module):
    """Holds ``beta`` as a buffer, or as a trainable logit when ``learn_beta``."""

    def __init__(self, tau_steps: float, learn_beta: bool, n_neurons: int | None) -> None:
        super().__init__()
        tau = check_number("tau_steps", tau_steps, POSITIVE)
        beta = math.exp(-1.0 / tau)
        shape = (check_int("n_neurons", n_neurons, 1),) if n_neurons is not None else ()
        if beta >= 1.0 - 1e-12:
            raise fail("tau_steps", tau_steps, "small enough that exp(-1/tau) < 1")
        value = torch.full(shape, beta)
        if learn_beta:
            self.beta_logit = nn.Parameter(torch.log(value / (1 - value)))
        else:
            self.register_buffer("beta_value", value)
        self.learn_beta = learn_beta

    def beta(self) -> torch.Tensor:
        return torch.sigmoid(self.beta_logit) if self.learn_beta else self.beta_value

    def tau_steps(self) -> torch.Tensor:
        """Current time constant(s) in steps, ``-1 / ln(beta)``."""
        return -1.0 / torch.log(self.beta())


class LIF(nn.Module):
    """Leaky integrate-and-fire layer: ``x[T, B, ...]`` (input current) -> spikes ``[T, B, ...]``.

    ``V[t] = beta V[t-1] + x[t]``; spike ``S = H(V - threshold)`` with a surrogate gradient;
    reset to zero or by subtraction (optionally with the reset detached from the graph).
    """

    def __init__(self, tau_steps: float = 10.0, threshold: float = 1.0, reset: str = "subtract",
                 surrogate: Surrogate | None = None, detach_reset: bool = False,
                 learn_beta: bool = False, n_neurons: int | None = None) -> None:
        super().__init__()
        self.decay = _Decay(tau_steps, learn_beta, n_neurons)
        self.threshold = check_number("threshold", threshold, POSITIVE, "LIF")
        self.reset = check_choice("reset", reset, RESET_MODES, "LIF")
        self.surrogate = FastSigmoid() if surrogate is None else surrogate
        if not isinstance(self.surrogate, Surrogate):
            raise fail("surrogate", surrogate, "a spikewave.nn.surrogate.Surrogate", "LIF")
        self.detach_reset = bool(detach_reset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise fail("x", f"tensor of shape {tuple(x.shape)}", "a tensor [T, B, ...]", "LIF")
        spikes, _ = lif_multistep(x, self.decay.beta(), self.threshold, self.reset,
                                  self.surrogate, self.detach_reset)
        return spikes

    def step(self, x_t: torch.Tensor, v: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Single-step API for online use: one input ``x_t[B, ...]`` and the potential ``v``
        (zeros when None) -> ``(spikes, new v)``; ``forward`` equals stepping through time."""
        v = torch.zeros_like(x_t) if v is None else v
        v, s = lif_discrete_step(v, x_t, self.decay.beta(), self.threshold, self.reset,
                                 self.surrogate, self.detach_reset)
        return s, v

    def extra_repr(self) -> str:
        return (f"threshold={self.threshold}, reset={self.reset!r}, "
                f"surrogate={self.surrogate}, learn_beta={self.decay.learn_beta}")


class CurrentLIF(LIF):
    """Current-based LIF: a synaptic trace ``I[t] = alpha I[t-1] + x[t]`` drives the LIF
    (``alpha = exp(-1 / tau_syn_steps)``, trainable with ``learn_alpha``)."""

    def __init__(self, tau_syn_steps: float = 5.0, tau_steps: float = 10.0,
                 learn_alpha: bool = False, **lif_options) -> None:
        super().__init__(tau_steps=tau_steps, **lif_options)
        self.syn = _Decay(tau_syn_steps, learn_alpha, lif_options.get("n_neurons"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise fail("x", f"tensor of shape {tuple(x.shape)}", "a tensor [T, B, ...]",
                       "CurrentLIF")
        return super().forward(leaky_integrate(x, self.syn.beta()))


class RecurrentLIF(LIF):
    """LIF with all-to-all recurrent weights: input at step t is
    ``x[t] + S[t-1] @ w_rec.T`` for ``x[T, B, n_neurons]``. ``w_rec`` starts as
    ``N(0, rec_std^2 / n)`` with a zero diagonal option (``self_connections``)."""

    def __init__(self, n_neurons: int, rec_std: float = 1.0, self_connections: bool = False,
                 seed: int | None = None, **lif_options) -> None:
        n = check_int("n_neurons", n_neurons, 1, owner="RecurrentLIF")
        learn = lif_options.pop("learn_beta", False)
        super().__init__(learn_beta=learn, n_neurons=n if learn else None, **lif_options)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        w = torch.randn(n, n, generator=gen) * check_number("rec_std", rec_std,
                                                             POSITIVE) / math.sqrt(n)
        if not self_connections:
            w.fill_diagonal_(0.0)
        self.w_rec = nn.Parameter(w)
        self.n_neurons = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.n_neurons:
            raise fail("x", f"tensor of shape {tuple(x.shape)}",
                       f"a tensor [T, B, {self.n_neurons}]", "RecurrentLIF")
        spikes, _ = recurrent_lif_multistep(x, self.w_rec, self.decay.beta(), self.threshold,
                                            self.reset, self.surrogate, self.detach_reset)
        return spikes


class ALIF(LIF):
    """Adaptive LIF (Bellec et al. 2018): threshold ``threshold + adaptation * a[t]``, the
    adaptation trace ``a[t+1] = rho a[t] + S[t+1]`` with ``rho = exp(-1 / tau_adapt_steps)``."""

    def __init__(self, tau_steps: float = 10.0, tau_adapt_steps: float = 100.0,
                 adaptation: float = 0.2, **lif_options) -> None:
        super().__init__(tau_steps=tau_steps, **lif_options)
        tau_a = check_number("tau_adapt_steps", tau_adapt_steps, POSITIVE, "ALIF")
        self.rho = math.exp(-1.0 / tau_a)
        self.adaptation = check_number("adaptation", adaptation, NON_NEGATIVE, "ALIF")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise fail("x", f"tensor of shape {tuple(x.shape)}", "a tensor [T, B, ...]", "ALIF")
        spikes, _ = alif_multistep(x, self.decay.beta(), self.rho, self.threshold,
                                   self.adaptation, self.reset, self.surrogate,
                                   self.detach_reset)
        return spikes


class LeakyReadout(nn.Module):
    """Non-spiking leaky integrator, ``v[t] = beta v[t-1] + x[t]``; returns ``v[T, B, ...]``."""

    def __init__(self, tau_steps: float = 10.0, learn_beta: bool = False,
                 n_neurons: int | None = None) -> None:
        super().__init__()
        self.decay = _Decay(tau_steps, learn_beta, n_neurons)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return leaky_integrate(x, self.decay.beta())


class TimeDistributed(nn.Module):
    """Apply any layer to every time step of ``[T, B, ...]`` in one call (T folded into B).

    A time-constant input given as a stride-0 view over time (what
    :func:`spikewave.coding.rate.direct_current` returns) is computed once, on ``[B, ...]``,
    and the result is expanded over time again: the same values at ``1/T`` of the cost, with
    gradients summed over the steps by the expansion. Layers that draw random numbers
    (dropout) are always applied step by step so that each step gets its own mask. In
    training mode a batch-norm layer then sees each sample once rather than ``T`` times: the
    same normalisation, and running variances updated with ``n - 1`` for ``n = B H W``
    rather than ``T B H W`` samples.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.stochastic = any(isinstance(m, nn.modules.dropout._DropoutNd)
                              for m in module.modules())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        if t > 1 and x.stride(0) == 0 and not self.stochastic:
            y = self.module(x[0])
            return y.unsqueeze(0).expand(t, *y.shape)
        y = self.module(x.reshape(t * b, *x.shape[2:]))
        return y.reshape(t, b, *y.shape[1:])


def _check_flag(value: bool, name: str, owner: str) -> bool:
    if not isinstance(value, bool):
        raise fail(name, value, "True or False", owner)
    return value


def _check_density(max_density: float | None, owner: str) -> float | None:
    if max_density is None:
        return None
    return check_number("max_density", max_density, NON_NEGATIVE, owner)


class SpikeLinear(nn.Linear):
    """``nn.Linear`` that takes the event-driven path
    (:func:`spikewave.kernels.spike_linear.spike_linear`) when its input is binary spikes on
    the CPU with at most ``max_density`` of them active, and the dense product otherwise.
    By default (``max_density=None``) the crossover is the density at which the two take
    the same time on this machine, measured the first time a weight shape is seen
    (:mod:`spikewave.kernels.dispatch`: about 0.15 on a CPU with AVX-512 and a fast sgemm,
    about 0.5 on an AVX2 one with a slow sgemm); a number fixes it (the same path on every
    run). A layer with fewer than 64 outputs is dense (the product costs less than finding
    the active inputs), except a read-out of 8 to 16 outputs whose input spikes come listed
    by the layer that made them (:class:`LinearLIF`) with at most 20 % active: it adds
    their weights in vector registers
    (:func:`~spikewave.kernels.spike_linear.gather_narrow`). Works on ``[..., in_features]``.

    ``input_major=True`` stores the weight input by input (``weight.T`` contiguous,
    :func:`~spikewave.kernels.spike_linear.input_major`; the same shape ``[out_features,
    in_features]``, initialisation and state-dict entry as ``nn.Linear``'s): the rows the
    gather adds up are then the weight's own memory, no transposed copy is re-made after
    each optimiser step, and the weight gradient is written in that layout without a
    transpose (MLP training step of ``benchmarks/run.py``: 67.4 against 69.0 ms). Not the
    default: ``torch.nn.utils.parameters_to_vector`` and ``torch.optim.LBFGS`` flatten
    parameters with ``view(-1)``, which needs the usual layout, and torch's own backward of
    a narrow dense layer is slower with it (``[3200, 512] -> 10``: 12.6 against 3.75 ms;
    at 512 outputs the same either way), so it pays only where the event path runs (64
    outputs or more). A weight assigned later in either layout works (the usual one through
    a cached transposed copy)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 max_density: float | None = None, input_major: bool = False) -> None:
        super().__init__(in_features, out_features, bias)
        if _check_flag(input_major, "input_major", "SpikeLinear"):
            self.weight = nn.Parameter(_spike_linear.input_major_copy(self.weight))
        self.max_density = _check_density(max_density, "SpikeLinear")
        self.last_path = "dense"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, self.last_path = _event_or_dense_linear(x, self.weight, self.bias, self.max_density)
        return y


def _event_or_dense_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                           max_density: float | None) -> tuple[torch.Tensor, str]:
    """``x @ weight.T + bias`` and the path taken: ``"event"`` (gather over the active
    inputs) for binary float32/float64 CPU input with at most ``max_density`` active
    (None: the crossover measured on this machine; none for fewer than 64 outputs:
    :func:`~spikewave.kernels.spike_linear.event_density_limit`), else ``"dense"``."""
    from spikewave.kernels.spike_linear import spike_linear

    active = _active_inputs(x, weight, max_density)
    if active is not None:
        return spike_linear(x, weight, bias, active), "event"
    return nn.functional.linear(x, weight, bias), "dense"


def _active_inputs(x: torch.Tensor, weight: torch.Tensor, max_density: float | None
                   ) -> tuple | None:
    """The CSR of the active entries of ``x[..., in]`` flattened to rows
    (:func:`~spikewave.kernels.spike_linear.active_inputs`) when the event path applies
    to it (see :func:`_event_or_dense_linear`; for a read-out layer of 8-16 outputs, when
    the layer that made the spikes listed them:
    :func:`~spikewave.kernels.spike_linear.listed_narrow_inputs`), else None."""
    from spikewave.kernels.spike_linear import (
        EVENT_DTYPES,
        active_inputs,
        event_density_limit,
        listed_narrow_inputs,
    )

    if x.device.type != "cpu" or not x.numel() or x.dtype != weight.dtype:
        return None
    if x.dtype in EVENT_DTYPES and (limit := event_density_limit(weight, max_density)) > 0:
        return active_inputs(x.reshape(-1, x.shape[-1]), limit)
    return listed_narrow_inputs(x.reshape(-1, x.shape[-1]), weight, max_density)


class LinearLIF(LIF):
    """Dense synapses and their LIF neurons as one layer: ``x[T, B, in_features]`` ->
    spikes ``[T, B, out_features]``, the same as ``TimeDistributed(nn.Linear)`` then
    :class:`LIF` (same initialisation, same spikes, same gradients up to summation order).

    With ``chunk_steps=None`` (the default) this is :class:`SpikeLinear` then the fused LIF
    kernel, keeping each step's potential for the backward pass; for sparse binary input on
    the CPU, in one pass (:mod:`spikewave.kernels.event_lif`): each row's current is summed
    from the weight rows of its active inputs and its neurons stepped while it is in cache
    (the current is never stored), and the neurons that spiked are listed on the way, so
    that an event-driven layer after it reads no input to find them. With ``chunk_steps``
    set, on the CPU the forward and backward pass run through
    :func:`spikewave.kernels.linear_lif` (:mod:`spikewave.kernels.chunked_lif`): time is
    cut into chunks of ``chunk_steps`` steps and only the membrane state at each chunk's
    start is kept for the backward pass, which recomputes the chunk (checkpointing over
    time). The memory of a training step is then
    the output spikes plus ``T / chunk_steps`` states, instead of a current and a potential
    per step; the price is one more forward pass over the layer, event-driven (a gather of
    weight rows) when the input is binary spikes with at most ``max_density`` active
    (default: the crossover measured on this machine, as for :class:`SpikeLinear`).
    ``learn_beta`` learns one time constant per output neuron; ``input_major`` stores the
    weight as :class:`SpikeLinear` does with it.

    With a :class:`~spikewave.nn.BandLimited` surrogate, ``detach_reset=True``, the subtract
    reset and a fixed time constant, the backward pass is the sparse one of Perez-Nieves &
    Goodman 2021 (:mod:`spikewave.kernels.sparse_grad`): only entries whose potential is
    within the band of threshold are kept and visited (same gradients as the dense path
    with that surrogate).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 chunk_steps: int | None = None, max_density: float | None = None,
                 input_major: bool = False, **lif_options) -> None:
        n_in = check_int("in_features", in_features, 1, owner="LinearLIF")
        n_out = check_int("out_features", out_features, 1, owner="LinearLIF")
        learn = lif_options.pop("learn_beta", False)
        super().__init__(learn_beta=learn, n_neurons=n_out if learn else None, **lif_options)
        ref = nn.Linear(n_in, n_out, bias)
        self.weight = (nn.Parameter(_spike_linear.input_major_copy(ref.weight))
                       if _check_flag(input_major, "input_major", "LinearLIF")
                       else ref.weight)  # input_major: as SpikeLinear's
        self.bias = ref.bias
        self.chunk_steps = (None if chunk_steps is None else
                            check_int("chunk_steps", chunk_steps, 1, owner="LinearLIF"))
        self.max_density = _check_density(max_density, "LinearLIF")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.weight.shape[1]:
            raise fail("x", f"tensor of shape {tuple(x.shape)}",
                       f"a tensor [T, B, {self.weight.shape[1]}]", "LinearLIF")
        beta = self.decay.beta()
        if self.chunk_steps is None and not isinstance(self.surrogate, BandLimited):
            active = _active_inputs(x, self.weight, self.max_density)
            if active is not None:
                spikes = event_linear_lif(x, self.weight, self.bias, beta, self.threshold,
                                          self.reset, self.surrogate, self.detach_reset, active)
                if spikes is not None:
                    return spikes
                current = _spike_linear.spike_linear(x, self.weight, self.bias, active)
            else:
                current = nn.functional.linear(x, self.weight, self.bias)
            return lif_multistep(current, beta, self.threshold, self.reset, self.surrogate,
                                 self.detach_reset)[0]
        return linear_lif(x, self.weight, self.bias, beta, self.threshold, self.reset,
                          self.surrogate, self.detach_reset, self.chunk_steps or len(x),
                          self.max_density)

    def extra_repr(self) -> str:
        return (f"in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}, "
                f"chunk_steps={self.chunk_steps}, " + super().extra_repr())
