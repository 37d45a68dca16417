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
kernel below, which visits only the inputs that fired and gives the same decisions and
weights.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from spikewave._numba import njit
from spikewave._validation import check_int, fail
from spikewave.plasticity.reward import RSTDPParams, adapted_rates
from spikewave.plasticity.stdp import ordinal_stdp_update


@njit
def _rstdp_kernel(ptr, act_c, act_y, act_x, labels, w_ckkf, map_class, n_c, h, w, pad,
                  rates, w_min, w_max, learn, decisions):  # pragma: no cover - compiled
    k, n_f = w_ckkf.shape[1], w_ckkf.shape[3]
    ho, wo = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    pot = np.zeros((ho, wo, n_f))
    bitmap = np.zeros((n_c, h + 2 * pad, w + 2 * pad), np.bool_)
    for i in range(len(ptr) - 1):
        pot[:] = 0.0
        for j in range(ptr[i], ptr[i + 1]):
            c, y, x = act_c[j], act_y[j] + pad, act_x[j] + pad
            bitmap[c, y, x] = True
            for dy in range(k):
                oy = y - dy
                if oy < 0 or oy >= ho:
                    continue
                for dx in range(k):
                    ox = x - dx
                    if ox < 0 or ox >= wo:
                        continue
                    for f in range(n_f):
                        pot[oy, ox, f] += w_ckkf[c, dy, dx, f]
        best = 0.0
        bf = by = bx = -1
        for f in range(n_f):
            for oy in range(ho):
                for ox in range(wo):
                    if pot[oy, ox, f] > best:
                        best, bf, by, bx = pot[oy, ox, f], f, oy, ox
        decisions[i] = -1 if bf < 0 else map_class[bf]
        if learn and bf >= 0:
            if decisions[i] == labels[i]:
                a_pre, a_other = rates[0], rates[1]
            else:
                a_pre, a_other = rates[2], rates[3]
            for c in range(n_c):
                for dy in range(k):
                    for dx in range(k):
                        v = w_ckkf[c, dy, dx, bf] + (a_pre if bitmap[c, by + dy, bx + dx]
                                                     else a_other)
                        w_ckkf[c, dy, dx, bf] = min(max(v, w_min), w_max)
        for j in range(ptr[i], ptr[i + 1]):
            bitmap[act_c[j], act_y[j] + pad, act_x[j] + pad] = False


def sparse_inputs(fired: torch.Tensor) -> tuple[np.ndarray, ...]:
    """CSR form of binary maps ``[B, C, H, W]``: ``(ptr, c, y, x)`` of the inputs that fired."""
    if fired.ndim != 4:
        raise fail("fired", f"a tensor of shape {tuple(fired.shape)}", "maps [B, C, H, W]")
    nz = torch.nonzero(fired.reshape(len(fired), -1) > 0).numpy()
    counts = np.bincount(nz[:, 0], minlength=len(fired))
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    c, y, x = np.unravel_index(nz[:, 1], fired.shape[1:])
    return ptr, c.astype(np.int64), y.astype(np.int64), x.astype(np.int64)


class RSTDPDecision:
    """The decision layer: ``weight`` ``[classes * maps_per_class, C, K, K]`` (float64)."""

    def __init__(self, in_maps: int, n_classes: int, maps_per_class: int, kernel_size: int,
                 padding: int = 0, params: RSTDPParams | None = None, seed: int = 0,
                 weight_mean: float = 0.8, weight_std: float = 0.05) -> None:
        c = check_int("in_maps", in_maps, 1)
        self.n_classes = check_int("n_classes", n_classes, 2)
        self.maps_per_class = check_int("maps_per_class", maps_per_class, 1)
        k = check_int("kernel_size", kernel_size, 1)
        self.padding = check_int("padding", padding, 0)
        self.params = params or RSTDPParams()
        gen = torch.Generator().manual_seed(seed)
        n_f = self.n_classes * self.maps_per_class
        w = torch.randn((n_f, c, k, k), generator=gen, dtype=torch.float64)
        self.weight = (w * weight_std + weight_mean).clamp(self.params.w_min, self.params.w_max)
        self.map_class = torch.arange(n_f) // self.maps_per_class
        self.rates = adapted_rates(self.params, 1.0, 1.0)
        self.use_kernel = True

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
    def _run(self, fired: torch.Tensor, labels: np.ndarray | None) -> np.ndarray:
        if fired.ndim != 4 or fired.shape[1] != self.weight.shape[1]:
            raise fail("fired", f"a tensor of shape {tuple(fired.shape)}",
                       f"maps [B, {self.weight.shape[1]}, H, W]")
        ptr, c, y, x = sparse_inputs(fired)
        w_ckkf = np.ascontiguousarray(self.weight.numpy().transpose(1, 2, 3, 0))
        decisions = np.empty(len(fired), np.int64)
        learn = labels is not None
        lab = np.asarray(labels if learn else np.zeros(len(fired)), np.int64)
        _rstdp_kernel(ptr, c, y, x, lab, w_ckkf, self.map_class.numpy(), fired.shape[1],
                      fired.shape[2], fired.shape[3], self.padding, np.asarray(self.rates),
                      self.params.w_min, self.params.w_max, learn, decisions)
        if learn:
            self.weight = torch.from_numpy(np.ascontiguousarray(w_ckkf.transpose(3, 0, 1, 2)))
        return decisions

    def decide(self, fired: torch.Tensor) -> np.ndarray:
        """Decisions ``[B]`` (class, or -1 when no input fired)."""
        if self.use_kernel:
            return self._run(fired, None)
        return self.decide_reference(fired).numpy()

    def learn_batch(self, fired: torch.Tensor, labels: np.ndarray) -> np.ndarray:
        """Present a batch one image at a time with R-STDP; then adapt the rates to the
        batch's hit and miss fractions. Returns the decisions made while learning."""
        labels = np.asarray(labels, np.int64)
        if len(labels) != len(fired):
            raise fail("labels", f"{len(labels)} labels for {len(fired)} images",
                       "one label per image")
        if self.use_kernel:
            decisions = self._run(fired, labels)
        else:
            decisions = np.array([self.learn_reference(fired[i], int(labels[i]))
                                  for i in range(len(fired))])
        hits = float(np.mean(decisions == labels)) if len(labels) else 0.0
        misses = float(np.mean((decisions != labels) & (decisions >= 0))) if len(labels) else 0.0
        self.rates = adapted_rates(self.params, hits, misses)
        return decisions


