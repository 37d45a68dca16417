"""Reference network architectures for ``spikewave train``."""

from __future__ import annotations

import math

import torch
from torch import nn

from spikewave import kernels
from spikewave._validation import POSITIVE, check_choice, check_int, check_number, fail
from spikewave.nn import (
    ALIF,
    LIF,
    CurrentLIF,
    LeakyReadout,
    LearnableDelayLinear,
    LinearLIF,
    RecurrentLIF,
    SpikeLinear,
    Surrogate,
    TimeDistributed,
)

SPIKING = (LIF, CurrentLIF, ALIF, RecurrentLIF, LinearLIF)  # layers whose outputs are spikes


class SpikingSequential(nn.Module):
    """Layers applied in order to ``[T, B, ...]``, then a leaky readout.

    Returns the readout potentials ``[T, B, n_out]`` and the number of spikes per sample
    in all spiking layers (summed over time and neurons, averaged over the batch).

    The input is checked for NaN and infinite values by the first layer; a layer whose
    input is the spikes of a spiking layer skips that check (spikes are 0 or 1 whatever
    the potentials: nothing to find, and a pass over the spikes saved).
    """

    def __init__(self, layers: list[nn.Module], tau_steps: float = 10.0) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.readout = LeakyReadout(tau_steps)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spikes = x.new_zeros(())
        from_spikes = False
        for layer in self.layers:
            x = _unchecked(layer, x) if from_spikes else layer(x)
            from_spikes = isinstance(layer, SPIKING)
            if from_spikes:  # all spikes of the batch over its samples
                spikes = spikes + x.detach().sum() / x.shape[1]
        return _unchecked(self.readout, x) if from_spikes else self.readout(x), spikes


def _unchecked(layer: nn.Module, spikes: torch.Tensor) -> torch.Tensor:
    """``layer(spikes)`` without the finiteness check of its input (under
    ``torch.compile`` the check is an assertion in the graph and is kept)."""
    if torch.compiler.is_compiling():
        return layer(spikes)
    with kernels.use(check_finite=False):
        return layer(spikes)


def initialise(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Draw the synaptic weights of ``model`` from ``generator``, in place; returns it.

    Every module that owns a ``weight`` of two or more dimensions (dense, convolutional
    and delay layers; not BatchNorm) gets PyTorch's default initialisation of
    ``nn.Linear`` and ``nn.Conv2d``, ``kaiming_uniform_(w, a=sqrt(5))``, i.e.
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, and its ``bias`` ``U(-1/sqrt(fan_in),
    1/sqrt(fan_in))``, in the order of ``model.modules()`` -- the values the layers'
    constructors draw from the global generator, here from an explicit one.
    """
    with torch.no_grad():
        for module in model.modules():
            weight = module._parameters.get("weight")
            if weight is None or weight.dim() < 2:
                continue
            fresh = torch.empty(weight.shape, dtype=weight.dtype)
            nn.init.kaiming_uniform_(fresh, a=math.sqrt(5), generator=generator)
            weight.copy_(fresh)
            bias = module._parameters.get("bias")
            if bias is not None:
                fan_in = fresh[0].numel()
                bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                bias.uniform_(-bound, bound, generator=generator)
    return model


def dense_snn(n_in: int, n_hidden: tuple[int, ...], n_out: int, tau_steps: float = 10.0,
              surrogate: Surrogate | None = None, reset: str = "subtract"
              ) -> SpikingSequential:
    """``n_in`` -> (dense synapses + LIF neurons with per-neuron trainable tau)* -> dense
    read-out -> leaky readout. Each hidden layer is a :class:`~spikewave.nn.LinearLIF`
    (event-driven on sparse spikes, the product once per sample for a time-constant
    input) and the read-out a :class:`~spikewave.nn.SpikeLinear`."""
    layers: list[nn.Module] = []
    width = n_in
    for h in n_hidden:
        layers.append(LinearLIF(width, h, tau_steps=tau_steps, surrogate=surrogate,
                                reset=reset, learn_beta=True))
        width = h
    layers.append(SpikeLinear(width, n_out))
    return SpikingSequential(layers, tau_steps)


def recurrent_snn(n_in: int, n_hidden: int, n_out: int, tau_steps: float = 10.0,
                  surrogate: Surrogate | None = None, seed: int = 0, reset: str = "subtract"
                  ) -> SpikingSequential:
    """``n_in`` -> Linear -> recurrent LIF (all-to-all, trainable per-neuron tau) -> Linear
    -> readout. ``reset``: the LIF's reset (``"zero"`` for a network NIR can express)."""
    layers: list[nn.Module] = [
        SpikeLinear(n_in, n_hidden),
        RecurrentLIF(n_hidden, rec_std=0.5, seed=seed, tau_steps=tau_steps,
                     surrogate=surrogate, reset=reset, learn_beta=True),
        SpikeLinear(n_hidden, n_out),
    ]
    return SpikingSequential(layers, tau_steps)


def conv_snn(in_channels: int, height: int, width: int, n_out: int, channels=(32, 64),
             n_hidden: int = 256, tau_steps: float = 10.0,
             surrogate: Surrogate | None = None, reset: str = "subtract", pool: str = "max"
             ) -> SpikingSequential:
    """(Conv3x3 -> BatchNorm -> MaxPool2 -> LIF)* -> LinearLIF -> SpikeLinear -> readout.
    ``reset``: the reset of every LIF layer; ``pool="avg"`` pools by average instead of
    maximum (NIR has average and sum pooling, no max pooling).

    The max-pooling acts on the synaptic currents, before the neurons, so each LIF layer
    has a quarter of the neurons it would have after the convolution (4x less state to
    integrate and to store for the backward pass). With a time-constant input (direct
    current as a stride-0 view) the first Conv-BN-MaxPool block runs once per image rather
    than once per step (:class:`~spikewave.nn.TimeDistributed`).
    """
    check_choice("pool", pool, ("max", "avg"), "conv_snn")
    layers: list[nn.Module] = []
    c, h, w = in_channels, height, width
    for out_c in channels:
        pooling = nn.MaxPool2d(2) if pool == "max" else nn.AvgPool2d(2)
        layers += [TimeDistributed(nn.Sequential(nn.Conv2d(c, out_c, 3, padding=1, bias=False),
                                                 nn.BatchNorm2d(out_c), pooling)),
                   LIF(tau_steps, surrogate=surrogate, reset=reset, learn_beta=True)]
        c, h, w = out_c, h // 2, w // 2
    layers += [TimeDistributed(nn.Flatten()),
               LinearLIF(c * h * w, n_hidden, tau_steps=tau_steps, surrogate=surrogate,
                         reset=reset, learn_beta=True),
               SpikeLinear(n_hidden, n_out)]
    return SpikingSequential(layers, tau_steps)


def delay_sigma(epoch: int, epochs: int, sigma_start: float, sigma_end: float) -> float:
    """Width of the delay kernels during ``epoch`` (0-based) of ``epochs``: geometric decay

        sigma_e = sigma_start (sigma_end / sigma_start) ** (e / (epochs - 1)),

    from ``sigma_start`` in the first epoch to ``sigma_end`` in the last (DCLS shrinks the
    Gaussian during training so that the learned positions end as integer delays).
    """
    epochs = check_int("epochs", epochs, 1)
    epoch = check_int("epoch", epoch, 0, epochs - 1)
    start = check_number("sigma_start", sigma_start, POSITIVE)
    end = check_number("sigma_end", sigma_end, POSITIVE)
    if epochs == 1:
        return end
    return start * (end / start) ** (epoch / (epochs - 1))


class DelaySNN(SpikingSequential):
    """:class:`SpikingSequential` whose :class:`~spikewave.nn.LearnableDelayLinear` layers
    follow the :func:`delay_sigma` schedule; ``fit`` calls :meth:`start_epoch`."""

    def __init__(self, layers: list[nn.Module], tau_steps: float = 10.0,
                 sigma_end: float = 0.1) -> None:
        super().__init__(layers, tau_steps)
        self.sigma_end = check_number("sigma_end", sigma_end, POSITIVE)

    def start_epoch(self, epoch: int, epochs: int) -> None:
        for layer in self.layers:
            if isinstance(layer, LearnableDelayLinear):
                layer.set_sigma(delay_sigma(epoch, epochs, layer.max_delay / 2, self.sigma_end))


def delay_snn(n_in: int, n_hidden: int, n_out: int, max_delay: int, tau_steps: float = 10.0,
              surrogate: Surrogate | None = None, seed: int = 0, reset: str = "subtract"
              ) -> DelaySNN:
    """``n_in`` -> dense layer with learned per-synapse delays (0..``max_delay`` steps) ->
    LIF (trainable per-neuron tau, reset ``reset``) -> dense layer with learned delays ->
    readout.

    The delays are learned as in Hammouamri et al. (DCLS): see
    :class:`~spikewave.nn.LearnableDelayLinear` and :func:`delay_sigma`.
    """
    max_delay = check_int("max_delay", max_delay, 1)
    if n_hidden < 1:
        raise fail("n_hidden", n_hidden, "at least 1", "delay_snn")
    layers: list[nn.Module] = [
        LearnableDelayLinear(n_in, n_hidden, max_delay, bias=True, seed=seed),
        LIF(tau_steps, surrogate=surrogate, reset=reset, learn_beta=True, n_neurons=n_hidden),
        LearnableDelayLinear(n_hidden, n_out, max_delay, bias=True, seed=seed + 1),
    ]
    return DelaySNN(layers, tau_steps)
