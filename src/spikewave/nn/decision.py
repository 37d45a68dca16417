"""A spiking decision layer trained by reward-modulated STDP (Mozafari et al. 2019).

Convolution of non-leaky IF neurons over the binary maps of the inputs that fired during
the wave (``fired``: ``[B, C, H, W]``); ``maps_per_class`` consecutive feature maps vote for
each class. With no threshold every neuron with a positive potential fires at the end of the
wave, so the decision is the class of the neuron with the largest final potential (ties: the
first in ``(map, row, col)`` order); no input spike at all means no decision (``-1``). On a
labelled image the winner learns by R-STDP (:mod:`spikewave.plasticity.reward`): its inputs
that fired are potentiated on reward and depressed on punishment, the silent ones the other
way. No other classifier is involved.

The reference path is dense PyTorch (:meth:`RSTDPDecision.decide_reference`,
:meth:`RSTDPDecision.learn_reference`); the default path is the compiled event-driven
kernels of :mod:`spikewave.kernels.decision`, which visit only the inputs that fired and
give the same decisions and weights.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from spikewave._validation import Interval, check_int, check_number, fail
from spikewave.kernels._threads import parallel_for, split_range
from spikewave.kernels.decision import _decide_kernel, _rstdp_kernel, sparse_inputs
from spikewave.plasticity.reward import RSTDPParams, adapted_rates
from spikewave.plasticity.stdp import ordinal_stdp_update


class RSTDPDecision:
    """The decision layer: ``weight`` ``[classes * maps_per_class, C, K, K]`` in ``dtype``
    (float32 by default: half the memory traffic of float64. float32's spacing on weights in
    [0.2, 0.8] is at most 6e-8, so a step of 4e-5 -- the reward rate adapted to 1 % misses --
    lands within 0.2 % of its value; steps below about 1e-6 would be lost to rounding, use
    float64 then)."""

    def __init__(self, in_maps: int, n_classes: int, maps_per_class: int, kernel_size: int,
                 padding: int = 0, params: RSTDPParams | None = None, seed: int = 0,
                 weight_mean: float = 0.8, weight_std: float = 0.05,
                 dtype: torch.dtype = torch.float32, dropout: float = 0.0) -> None:
        c = check_int("in_maps", in_maps, 1)
        self.n_classes = check_int("n_classes", n_classes, 2)
        self.maps_per_class = check_int("maps_per_class", maps_per_class, 1)
        k = check_int("kernel_size", kernel_size, 1)
        self.padding = check_int("padding", padding, 0)
        self.params = params or RSTDPParams()
        gen = torch.Generator().manual_seed(seed)
        n_f = self.n_classes * self.maps_per_class
        w = torch.randn((n_f, c, k, k), generator=gen, dtype=torch.float64)
        if dtype not in (torch.float32, torch.float64):
            raise fail("dtype", dtype, "torch.float32 or torch.float64")
        w = (w * weight_std + weight_mean).clamp(self.params.w_min, self.params.w_max)
        self.weight = w.to(dtype)
        self.map_class = torch.arange(n_f) // self.maps_per_class
        self.rates = adapted_rates(self.params, 1.0, 1.0)
        self.use_kernel = True
        self.dropout = check_number("dropout", dropout, Interval(0.0, 1.0, "left"),
                                    owner="RSTDPDecision")
        self._dropout_rng = np.random.default_rng(seed)
        self.enabled = np.ones(n_f, bool)

    def state(self) -> dict:
        """What learning changes, for a checkpoint: the weights, the adapted rates, the
        dropout generator's state and the maps it left enabled (plain types and tensors)."""
        return {"weight": self.weight.clone(), "rates": [float(r) for r in self.rates],
                "dropout_rng": self._dropout_rng.bit_generator.state,
                "enabled": torch.from_numpy(self.enabled.copy())}

    def load_state(self, state: dict) -> None:
        """Continue from :meth:`state` (of a layer of the same shape)."""
        weight = state["weight"]
        if weight.shape != self.weight.shape:
            raise fail("state", f"weights of shape {tuple(weight.shape)}",
                       f"weights of shape {tuple(self.weight.shape)}")
        self.weight = weight.to(self.weight.dtype).clone()
        self.rates = tuple(float(r) for r in state["rates"])
        self._dropout_rng.bit_generator.state = state["dropout_rng"]
        self.enabled = state["enabled"].numpy().astype(bool)

    # -- reference ------------------------------------------------------------------
    def decide_reference(self, fired: torch.Tensor) -> torch.Tensor:
        pot = F.conv2d(fired.to(self.weight.dtype), self.weight, padding=self.padding)
        flat = pot.flatten(1)
        best, idx = flat.max(1)
        cls = self.map_class[idx // (pot.shape[2] * pot.shape[3])]
        return torch.where(best > 0, cls, torch.full_like(cls, -1))

    def learn_reference(self, fired: torch.Tensor, label: int) -> int:
        """One labelled image ``[C, H, W]``: decide, then reward or punish the winner."""
        pot = F.conv2d(fired[None].to(self.weight.dtype), self.weight, padding=self.padding)[0]
        pot[torch.from_numpy(~self.enabled)] = 0.0  # dropped maps stay silent
        best, idx = pot.flatten().max(0)
        if best <= 0:
            return -1
        f, y, x = (int(i) for i in torch.unravel_index(idx, pot.shape))
        decision = int(self.map_class[f])
        k, p = self.weight.shape[-1], self.padding
        patch = F.pad(fired.to(self.weight.dtype), (p, p, p, p))[:, y:y + k, x:x + k] > 0
        plus, minus = (self.rates[:2] if decision == label else self.rates[2:])
        self.weight[f] = ordinal_stdp_update(self.weight[f], patch, plus, minus,
                                             stabilizer=False, w_min=self.params.w_min,
                                             w_max=self.params.w_max)
        return decision

    # -- fast path ------------------------------------------------------------------
    def _sparse(self, fired: torch.Tensor) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        if fired.ndim != 4 or fired.shape[1] != self.weight.shape[1]:
            raise fail("fired", f"a tensor of shape {tuple(fired.shape)}",
                       f"maps [B, {self.weight.shape[1]}, H, W]")
        w_ckkf = np.ascontiguousarray(self.weight.numpy().transpose(1, 2, 3, 0))
        return sparse_inputs(fired), w_ckkf

    def _learn_kernel(self, fired: torch.Tensor, labels: np.ndarray) -> np.ndarray:
        (ptr, c, y, x), w_ckkf = self._sparse(fired)
        decisions = np.empty(len(fired), np.int64)
        real = w_ckkf.dtype.type
        _, n_c, h, w = fired.shape
        _rstdp_kernel(ptr, c, y, x, labels, w_ckkf, self.map_class.numpy(), self.enabled,
                      n_c, h, w, self.padding, np.asarray(self.rates, dtype=real),
                      np.array([self.params.w_min, self.params.w_max], dtype=real), decisions)
        self.weight = torch.from_numpy(np.ascontiguousarray(w_ckkf.transpose(3, 0, 1, 2)))
        return decisions

    def _decide_kernel(self, fired: torch.Tensor) -> np.ndarray:
        (ptr, c, y, x), w_ckkf = self._sparse(fired)
        k, p = self.weight.shape[-1], self.padding
        ho, wo = fired.shape[2] + 2 * p - k + 1, fired.shape[3] + 2 * p - k + 1
        decisions = np.empty(len(fired), np.int64)
        map_class = self.map_class.numpy()
        parallel_for(lambda r: _decide_kernel(ptr, c, y, x, w_ckkf, map_class, p, ho, wo,
                                              r[0], r[1], decisions),
                     split_range(len(fired), min_chunk=64))
        return decisions

    def decide(self, fired: torch.Tensor) -> np.ndarray:
        """Decisions ``[B]`` (class, or -1 when no input fired); images spread over threads."""
        if self.use_kernel:
            return self._decide_kernel(fired)
        return self.decide_reference(fired).numpy()

    def learn_batch(self, fired: torch.Tensor, labels: np.ndarray) -> np.ndarray:
        """Present a batch one image at a time with R-STDP; then adapt the rates to the
        batch's hit and miss fractions. Returns the decisions made while learning. With
        ``dropout`` > 0 a fresh random fraction ``dropout`` of the maps is silenced for the
        batch (Mozafari et al. 2018's dropout: fewer maps dominate the decisions)."""
        labels = np.asarray(labels, np.int64)
        if len(labels) != len(fired):
            raise fail("labels", f"{len(labels)} labels for {len(fired)} images",
                       "one label per image")
        if self.dropout > 0:
            self.enabled = self._dropout_rng.random(len(self.enabled)) >= self.dropout
        if self.use_kernel:
            decisions = self._learn_kernel(fired, labels)
        else:
            decisions = np.array([self.learn_reference(fired[i], int(labels[i]))
                                  for i in range(len(fired))])
        hits = float(np.mean(decisions == labels)) if len(labels) else 0.0
        misses = float(np.mean((decisions != labels) & (decisions >= 0))) if len(labels) else 0.0
        self.rates = adapted_rates(self.params, hits, misses)
        return decisions


