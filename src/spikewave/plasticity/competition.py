"""Competition between STDP neurons: inter-map lateral inhibition and k-winner-take-all.

Neurons of a convolutional STDP layer are described by their first-spike time (``inf`` =
silent) and their potential when they fired. "Earlier" wins; between neurons that fire in
the same time step, the larger potential wins (SpykeTorch's convention).
"""

from __future__ import annotations

import torch

from spikewave._validation import check_int, fail


def _check_maps(times: torch.Tensor, potentials: torch.Tensor, rank: int) -> None:
    if times.shape != potentials.shape or times.ndim != rank:
        raise fail("times", f"shape {tuple(times.shape)} beside potentials "
                   f"{tuple(potentials.shape)}", f"two tensors of the same rank-{rank} shape")


def pointwise_inhibition(times: torch.Tensor, potentials: torch.Tensor) -> torch.Tensor:
    """Keep, at each position of ``[B, C, H, W]`` maps, only the earliest map's spike (ties:
    the largest potential); the others become silent. Returns the new time maps."""
    _check_maps(times, potentials, 4)
    t_min = times.amin(1, keepdim=True)
    contender = (times == t_min) & torch.isfinite(t_min)
    score = torch.where(contender, potentials, torch.full_like(potentials, -torch.inf))
    winner = score.argmax(1, keepdim=True)
    keep = torch.zeros_like(contender).scatter_(1, winner, True) & contender
    return torch.where(keep, times, torch.full_like(times, torch.inf))


def k_winners(times: torch.Tensor, potentials: torch.Tensor, k: int,
              radius: int = 0) -> list[tuple[int, int, int]]:
    """Up to ``k`` learning winners ``(map, row, col)`` of one image's ``[C, H, W]`` maps.

    Repeatedly: the earliest spike (ties: largest potential) among the eligible neurons wins;
    its whole map, and every map within ``radius`` positions of it (a square window), become
    ineligible. Stops early when no eligible neuron fired.
    """
    _check_maps(times, potentials, 3)
    k = check_int("k", k, 1)
    r = check_int("radius", radius, 0)
    t = times.clone()
    winners: list[tuple[int, int, int]] = []
    for _ in range(k):
        t_min = t.min()
        if not torch.isfinite(t_min):
            break
        score = torch.where(t == t_min, potentials, torch.full_like(potentials, -torch.inf))
        c, y, x = (int(i) for i in torch.unravel_index(score.argmax(), score.shape))
        winners.append((c, y, x))
        t[c] = torch.inf
        t[:, max(0, y - r):y + r + 1, max(0, x - r):x + r + 1] = torch.inf
    return winners
