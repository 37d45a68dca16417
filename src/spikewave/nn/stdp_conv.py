"""Convolutional layers of non-leaky integrate-and-fire neurons trained by STDP.

The deep STDP network of Kheradpisheh et al. 2018 (and the lower layers of Mozafari et al.
2019). Spikes are kept as *first-spike time maps* ``[B, C, H, W]`` (float steps ``0 .. T-1``,
``inf`` = silent): each neuron fires at most once per image. A layer sees the cumulative
spike wave ``S[t] = (t_in <= t)`` and, having no leak, its potential is the convolution

    V[t] = sum_{c, dy, dx} W[f, c, dy, dx] S[t, c, y + dy, x + dx]

computed for all ``T`` steps at once with time folded into the batch. A neuron fires at the
first step with ``V[t] >= threshold``; then only the earliest map survives at each position
(:func:`~spikewave.plasticity.competition.pointwise_inhibition`). Pooling propagates the
earliest spike of its window. Learning picks k winners per image
(:func:`~spikewave.plasticity.competition.k_winners`) and applies the ordinal STDP rule of
:func:`~spikewave.plasticity.stdp.ordinal_stdp_update` to each winner's map, with its input
patch: ``t_pre <= t_post`` potentiates. The learning rate ``a_plus`` doubles every
``lr_double_every`` learning images up to ``a_plus_max`` with ``a_minus = a_ratio a_plus``;
learning of a layer stops when the convergence ``C = mean w (1 - w)`` falls below
``convergence_stop``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from spikewave._validation import NON_NEGATIVE, POSITIVE, Interval, Params, check_int, fail, param
from spikewave.coding.latency import spike_wave
from spikewave.kernels.integrate_fire import if_conv_fire, k_winners_kernel
from spikewave.plasticity.competition import k_winners, pointwise_inhibition
from spikewave.plasticity.stdp import ordinal_stdp_update

COUNT = Interval(1, math.inf, "left")
UNIT = Interval(0.0, 1.0, "both")


@dataclass(frozen=True)
class STDPConvParams(Params):
    """One STDP convolution layer (defaults: conv1 of Kheradpisheh et al. 2018 on MNIST)."""

    in_maps: int = param(2, COUNT, "input maps")
    out_maps: int = param(30, COUNT, "feature maps")
    kernel_size: int = param(5, COUNT, "square kernel side (pixels)")
    threshold: float = param(15.0, POSITIVE, "firing threshold (sum of weights)")
    padding: int = param(2, NON_NEGATIVE, "zero padding (silent inputs) on each side")
    winners: int = param(5, COUNT, "learning winners per image (k of k-WTA)")
    inhibition_radius: int = param(2, NON_NEGATIVE, "positions blocked around a winner")
    a_plus: float = param(0.004, POSITIVE, "initial potentiation rate")
    a_ratio: float = param(-0.75, Interval(-math.inf, 0.0, "neither"),
                           "a_minus / a_plus (negative)")
    a_plus_max: float = param(0.15, POSITIVE, "cap of the doubling schedule")
    lr_double_every: int = param(500, COUNT, "learning images between doublings of a_plus")
    weight_mean: float = param(0.8, UNIT, "initial weights: mean")
    weight_std: float = param(0.05, NON_NEGATIVE, "initial weights: standard deviation")
    convergence_stop: float = param(0.01, Interval(0.0, 0.25, "both"),
                                    "stop learning when mean w(1-w) falls below this")

    def _check_consistency(self) -> None:
        for name in ("in_maps", "out_maps", "kernel_size", "padding", "winners",
                     "inhibition_radius", "lr_double_every"):
            if getattr(self, name) != int(getattr(self, name)):
                raise fail(name, getattr(self, name), "an integer", "STDPConvParams")
        if self.a_plus_max < self.a_plus:
            raise fail("a_plus_max", self.a_plus_max, f">= a_plus = {self.a_plus:g}",
                       "STDPConvParams")


def _check_times(times: torch.Tensor, name: str = "times") -> None:
    if times.ndim != 4:
        raise fail(name, f"a tensor of shape {tuple(times.shape)}", "time maps [B, C, H, W]")


def conv_potentials(times: torch.Tensor, weight: torch.Tensor, time_steps: int,
                    padding: int = 0) -> torch.Tensor:
    """Potentials ``[T, B, F, H', W']`` of a non-leaky layer driven by ``[B, C, H, W]`` times."""
    _check_times(times)
    t = check_int("time_steps", time_steps, 1)
    wave = spike_wave(times, t, weight.dtype)  # [T, B, C, H, W]
    v = F.conv2d(wave.flatten(0, 1), weight, padding=padding)
    return v.unflatten(0, (t, len(times)))


def final_potentials(times: torch.Tensor, weight: torch.Tensor, padding: int = 0) -> torch.Tensor:
    """Potentials ``[B, F, H', W']`` after the whole wave (every input that ever fired)."""
    _check_times(times)
    return F.conv2d(torch.isfinite(times).to(weight.dtype), weight, padding=padding)


def fire(potentials: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """First-spike times and the potential at that step, from potentials ``[T, ...]``."""
    crossed = potentials >= threshold
    first = crossed.to(torch.uint8).argmax(0, keepdim=True)
    fired = crossed.any(0)
    v_fire = potentials.gather(0, first).squeeze(0)
    times = torch.where(fired, first.squeeze(0).to(potentials.dtype),
                        torch.full_like(v_fire, torch.inf))
    return times, torch.where(fired, v_fire, torch.zeros_like(v_fire))


def pool_first_spike(times: torch.Tensor, kernel_size: int, stride: int | None = None,
                     padding: int = 0) -> torch.Tensor:
    """Pooling of time maps: each output carries the earliest spike of its window."""
    _check_times(times)
    k = check_int("kernel_size", kernel_size, 1)
    s = k if stride is None else check_int("stride", stride, 1)
    return -F.max_pool2d(-times, k, s, check_int("padding", padding, 0))


def convergence(weight: torch.Tensor) -> float:
    """``C = mean w (1 - w)``: 0 when every weight sits at 0 or 1 (learning has converged)."""
    return float((weight * (1 - weight)).mean())


class STDPConv2d(nn.Module):
    """A convolution of non-leaky IF neurons with its STDP learning state.

    ``forward(times)`` maps input time maps ``[B, C, H, W]`` to output time maps (fire, then
    pointwise inhibition). ``learn(times)`` presents one image ``[C, H, W]``, updates the
    weights of the k winners' maps and returns the winners. Both run the event-driven kernel
    of :mod:`spikewave.kernels.integrate_fire` on CPU tensors (``use_kernel``, default True)
    and the dense reference otherwise; the two give the same spikes.
    """

    weight: torch.Tensor

    def __init__(self, params: STDPConvParams, time_steps: int,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.params = params
        self.time_steps = check_int("time_steps", time_steps, 1)
        p = params
        shape = (int(p.out_maps), int(p.in_maps), int(p.kernel_size), int(p.kernel_size))
        w = torch.randn(shape, generator=generator) * p.weight_std + p.weight_mean
        self.register_buffer("weight", w.clamp(0.0, 1.0))
        self.learning_images = 0
        self.a_plus = p.a_plus
        self.use_kernel = True

    @property
    def a_minus(self) -> float:
        return self.params.a_ratio * self.a_plus

    def potentials(self, times: torch.Tensor) -> torch.Tensor:
        """Dense reference potentials ``[T, B, F, H', W']``."""
        return conv_potentials(times, self.weight, self.time_steps, int(self.params.padding))

    def fire_inhibit(self, times: torch.Tensor, inhibit: bool = True
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Output time maps (after pointwise inhibition unless ``inhibit`` is False) and the
        potentials at firing (0 where silent)."""
        _check_times(times)
        if times.shape[1] != self.weight.shape[1]:
            raise fail("times", f"{times.shape[1]} input maps",
                       f"{self.weight.shape[1]} maps (the layer's in_maps)")
        p = self.params
        k, pad = int(p.kernel_size), int(p.padding)
        if min(times.shape[2:]) + 2 * pad < k:
            raise fail("kernel_size", k, f"at most the padded input size "
                       f"{min(times.shape[2:]) + 2 * pad} (input {tuple(times.shape[2:])}, "
                       f"padding {pad})", "STDPConvParams")
        if self.use_kernel and times.device.type == "cpu":
            return if_conv_fire(times, self.weight, self.time_steps, p.threshold,
                                int(p.padding), inhibit)
        out, v_fire = fire(self.potentials(times), p.threshold)
        if inhibit:
            out = pointwise_inhibition(out, v_fire)
        return out, torch.where(torch.isfinite(out), v_fire, torch.zeros_like(v_fire))

    def forward(self, times: torch.Tensor, inhibit: bool = True) -> torch.Tensor:
        return self.fire_inhibit(times, inhibit)[0]

    def final_potentials(self, times: torch.Tensor) -> torch.Tensor:
        """Potentials after the whole wave (the readout of a layer that does not fire)."""
        return final_potentials(times, self.weight, int(self.params.padding))

    @torch.no_grad()
    def learn(self, times: torch.Tensor) -> list[tuple[int, int, int]]:
        """One STDP step on one image's input time maps ``[C, H, W]``; returns the winners."""
        if times.ndim != 3:
            raise fail("times", f"a tensor of shape {tuple(times.shape)}",
                       "one image's time maps [C, H, W]")
        p = self.params
        out, v_fire = self.fire_inhibit(times.unsqueeze(0))
        if self.use_kernel and times.device.type == "cpu":
            found = k_winners_kernel(out[0].double().numpy(), v_fire[0].double().numpy(),
                                     int(p.winners), int(p.inhibition_radius))
            winners = [(int(f), int(y), int(x)) for f, y, x in found]
        else:
            winners = k_winners(out[0], v_fire[0], int(p.winners), int(p.inhibition_radius))
        k, pad = int(p.kernel_size), int(p.padding)
        padded = F.pad(times, (pad, pad, pad, pad), value=torch.inf)
        for f, y, x in winners:
            patch = padded[:, y:y + k, x:x + k]
            self.weight[f] = ordinal_stdp_update(self.weight[f], patch <= out[0, f, y, x],
                                                 self.a_plus, self.a_minus)
        self.learning_images += 1
        if self.learning_images % int(p.lr_double_every) == 0:
            self.a_plus = min(2 * self.a_plus, p.a_plus_max)
        return winners

    def converged(self) -> bool:
        return convergence(self.weight) < self.params.convergence_stop
