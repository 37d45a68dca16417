"""A deep STDP network for vision: DoG retina -> spike wave -> STDP conv layers -> features.

Kheradpisheh et al. 2018: an image goes through ON/OFF difference-of-Gaussians filters
(:mod:`spikewave.coding.retina`), becomes a spike wave by intensity-to-latency coding
(:mod:`spikewave.coding.latency`), and crosses convolutional layers of non-leaky IF neurons
(:mod:`spikewave.nn.stdp_conv`), each but the last followed by first-spike pooling. Layers are
trained one after the other, without labels, one image at a time. The last layer does not
fire: its potentials after the whole wave are max-pooled over positions (globally, or over a
``grid x grid`` partition) into the feature vector that a linear classifier reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spikewave._validation import NON_NEGATIVE, Interval, Params, check_int, fail, param
from spikewave.coding.latency import MODES, intensity_to_latency
from spikewave.coding.retina import dog_filter, local_normalization
from spikewave.nn.stdp_conv import STDPConv2d, STDPConvParams, convergence, pool_first_spike

Progress = Callable[..., object]


@dataclass(frozen=True)
class RetinaParams(Params):
    """DoG front end and latency coding (defaults: Kheradpisheh et al. 2018 on MNIST)."""

    time_steps: int = param(15, Interval(1, math.inf, "left"), "latency bins T")
    dog_threshold: float = param(0.0, NON_NEGATIVE, "DoG responses at or below are silent")
    normalization_radius: int = param(0, NON_NEGATIVE, "local normalisation radius (0 = off)")
    kernels: tuple[tuple[int, float, float], ...] = ((7, 1.0, 2.0),)
    latency: str = "rank"

    def _check_consistency(self) -> None:
        if self.latency not in MODES:
            raise fail("latency", self.latency, f"one of {', '.join(MODES)}", "RetinaParams")


@dataclass(frozen=True)
class PoolSpec:
    """First-spike pooling after a layer."""

    kernel_size: int
    stride: int
    padding: int = 0


@dataclass(frozen=True)
class Architecture:
    """The retina, the STDP layers and the pooling after each layer (after the last one
    too when the network feeds another stage, e.g. an R-STDP decision layer).

    ``forward_inhibition``: whether the pointwise inhibition between maps also applies to
    the spikes a trained layer passes on (Kheradpisheh et al.), or only to the choice of
    learning winners (SpykeTorch's MozafariDeep)."""

    retina: RetinaParams = field(default_factory=RetinaParams)
    layers: tuple[STDPConvParams, ...] = ()
    pools: tuple[PoolSpec | None, ...] = ()
    forward_inhibition: bool = True

    def __post_init__(self) -> None:
        if not self.layers:
            raise fail("layers", "an empty tuple", "at least one STDPConvParams")
        if len(self.pools) not in (len(self.layers) - 1, len(self.layers)):
            raise fail("pools", f"{len(self.pools)} entries",
                       f"{len(self.layers) - 1} or {len(self.layers)} (one after each layer, "
                       "the last one optional)")
        maps = 2 * len(self.retina.kernels)
        for i, layer in enumerate(self.layers):
            if layer.in_maps != maps:
                raise fail(f"layers[{i}].in_maps", int(layer.in_maps),
                           f"{maps} (the maps the previous stage produces)")
            maps = int(layer.out_maps)


class STDPConvNet(nn.Module):
    """The network of an :class:`Architecture`, with its layers' weights and STDP state."""

    def __init__(self, arch: Architecture, seed: int = 0) -> None:
        super().__init__()
        self.arch = arch
        gen = torch.Generator().manual_seed(seed)
        self.layers = nn.ModuleList(STDPConv2d(p, int(arch.retina.time_steps), gen)
                                    for p in arch.layers)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``[B, H, W]`` in [0, 1] -> input time maps ``[B, 2 K, H, W]``."""
        if not isinstance(images, torch.Tensor) or images.ndim != 3:
            raise fail("images", f"an input of shape {tuple(getattr(images, 'shape', ()))}",
                       "a tensor [B, H, W] of grey images")
        if not images.dtype.is_floating_point:
            raise fail("images", f"a tensor of dtype {images.dtype}",
                       "floating-point intensities in [0, 1] (divide bytes by 255)")
        if images.numel() and (not torch.isfinite(images).all() or images.min() < 0
                               or images.max() > 1):
            raise fail("images", "values outside [0, 1] or not finite",
                       "intensities in [0, 1]")
        r = self.arch.retina
        on_off = dog_filter(images.float(), r.kernels, threshold=r.dog_threshold)
        if r.normalization_radius:
            on_off = local_normalization(on_off, int(r.normalization_radius))
        return intensity_to_latency(on_off, int(r.time_steps), r.latency)

    @torch.no_grad()
    def propagate(self, times: torch.Tensor, depth: int) -> torch.Tensor:
        """Input time maps through layers ``0 .. depth-1`` (each fired, inhibited, pooled)."""
        for i in range(check_int("depth", depth, 0, len(self.layers))):
            times = self.layers[i](times, self.arch.forward_inhibition)
            pool = self.arch.pools[i]
            if pool is not None:
                times = pool_first_spike(times, pool.kernel_size, pool.stride, pool.padding)
        return times

    @torch.no_grad()
    def layer_inputs(self, images: torch.Tensor, depth: int, batch_size: int = 256,
                     progress: Progress | None = None) -> torch.Tensor:
        """The time maps that layer ``depth`` receives for each image, in batches."""
        chunks = []
        starts = range(0, len(images), batch_size)
        for s in (progress(starts, desc=f"inputs of layer {depth + 1}") if progress else starts):
            chunks.append(self.propagate(self.encode(images[s:s + batch_size]), depth))
        return torch.cat(chunks)

    @torch.no_grad()
    def train_layer(self, depth: int, images: torch.Tensor, max_images: int,
                    progress: Progress | None = None, record_every: int = 100
                    ) -> list[tuple[int, float]]:
        """STDP on layer ``depth`` over up to ``max_images`` images (cycled), stopping at
        convergence; returns ``(images seen, C)`` every ``record_every`` images."""
        n = check_int("max_images", max_images, 1)
        if len(images) == 0:
            raise fail("images", "an empty set", "at least one training image")
        layer = self.layers[depth]
        inputs = self.layer_inputs(images, depth, progress=progress)
        history = [(0, convergence(layer.weight))]
        steps = range(n)
        bar = progress(steps, desc=f"STDP layer {depth + 1}") if progress else steps
        for i in bar:
            layer.learn(inputs[i % len(inputs)])
            if (i + 1) % record_every == 0:
                history.append((i + 1, convergence(layer.weight)))
                if layer.converged():
                    break
        if history[-1][0] != layer.learning_images:
            history.append((layer.learning_images, convergence(layer.weight)))
        return history

    @torch.no_grad()
    def features(self, images: torch.Tensor, grid: int = 1, batch_size: int = 256,
                 progress: Progress | None = None) -> np.ndarray:
        """``[N, F grid^2]`` features: the last layer's final potentials, max-pooled over a
        ``grid x grid`` partition of positions (``grid = 1``: global max pooling)."""
        g = check_int("grid", grid, 1)
        last = self.layers[-1]
        out = []
        starts = range(0, len(images), batch_size)
        for s in (progress(starts, desc="features") if progress else starts):
            times = self.propagate(self.encode(images[s:s + batch_size]), len(self.layers) - 1)
            pot = last.final_potentials(times)
            out.append(F.adaptive_max_pool2d(pot, g).flatten(1).numpy())
        return np.concatenate(out) if out else np.zeros((0, int(last.params.out_maps) * g * g))


def mnist_architecture(time_steps: int = 15) -> Architecture:
    """conv1 30 maps 5x5 (thr 15) -> pool 2x2/2 -> conv2 100 maps 5x5 (thr 10) -> global max.

    As attributed to the paper's MNIST section (docs/references.md section 3.2); the DoG is 7x7
    with sigmas 1 and 2, ON and OFF.
    """
    retina = RetinaParams(time_steps=time_steps)
    conv1 = STDPConvParams(in_maps=2, out_maps=30, kernel_size=5, threshold=15.0, padding=2,
                           winners=5, inhibition_radius=2)
    conv2 = STDPConvParams(in_maps=30, out_maps=100, kernel_size=5, threshold=10.0, padding=2,
                           winners=8, inhibition_radius=1)
    return Architecture(retina, (conv1, conv2), (PoolSpec(2, 2),))


def mozafari_architecture(time_steps: int = 15) -> Architecture:
    """The STDP layers of Mozafari et al. 2019 as in SpykeTorch's MozafariDeep.

    Six DoG maps (ON/OFF of sizes 3, 7, 13, sigmas (s/9, 2s/9)), threshold 50/255 of the
    image range, local normalisation radius 8 -> conv1 30 maps 5x5 (threshold 15, 5 winners,
    radius 3) -> pool 2x2/2 -> conv2 250 maps 3x3 (threshold 10, 8 winners, radius 1; its
    padding 1 is SpykeTorch's pad after pool1) -> pool 3x3/3. Pointwise inhibition picks
    the learning winners only; spikes pass on uninhibited, as in MozafariDeep. The decision layer
    (:class:`spikewave.nn.decision.RSTDPDecision`, 200 maps 5x5, padding 2) follows.
    """
    kernels = tuple((s, s / 9, 2 * s / 9) for s in (3, 7, 13))
    retina = RetinaParams(time_steps=time_steps, dog_threshold=50 / 255,
                          normalization_radius=8, kernels=kernels)
    conv1 = STDPConvParams(in_maps=6, out_maps=30, kernel_size=5, threshold=15.0, padding=2,
                           winners=5, inhibition_radius=3)
    conv2 = STDPConvParams(in_maps=30, out_maps=250, kernel_size=3, threshold=10.0, padding=1,
                           winners=8, inhibition_radius=1)
    return Architecture(retina, (conv1, conv2), (PoolSpec(2, 2), PoolSpec(3, 3)),
                        forward_inhibition=False)


def upsample_digits(images: np.ndarray | torch.Tensor, size: int = 20, frame: int = 28
                    ) -> torch.Tensor:
    """8x8 digits -> MNIST-like ``frame x frame`` images: bilinear to ``size``, centred."""
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    if x.ndim != 3:
        raise fail("images", f"an array of shape {tuple(x.shape)}", "shape [N, H, W]")
    up = F.interpolate(x.unsqueeze(1), size=(size, size), mode="bilinear",
                       align_corners=False).squeeze(1).clamp(0, 1)
    pad = (frame - size) // 2
    return F.pad(up, (pad, frame - size - pad, pad, frame - size - pad))


