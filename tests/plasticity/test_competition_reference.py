"""Pointwise inhibition and k-winners-take-all against plain loops written here."""

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikewave.plasticity.competition import k_winners, pointwise_inhibition


def maps(seed, shape, p_silent=0.5, n_times=4):
    rng = np.random.default_rng(seed)
    times = rng.integers(0, n_times, shape).astype(float)
    times[rng.random(shape) < p_silent] = math.inf
    pots = rng.normal(0.0, 1.0, shape)  # distinct: no tie of potentials
    return torch.tensor(times), torch.tensor(pots)


def reference_pointwise(times, pots):
    out = torch.full_like(times, math.inf)
    b, c, h, w = times.shape
    for i in range(b):
        for y in range(h):
            for x in range(w):
                cands = [(times[i, k, y, x].item(), -pots[i, k, y, x].item(), k)
                         for k in range(c) if math.isfinite(times[i, k, y, x].item())]
                if cands:
                    k = min(cands)[2]
                    out[i, k, y, x] = times[i, k, y, x]
    return out


def reference_k_winners(times, pots, k, radius):
    c, h, w = times.shape
    blocked_maps, blocked_pos, winners = set(), set(), []
    for _ in range(k):
        cands = [(times[m, y, x].item(), -pots[m, y, x].item(), m, y, x)
                 for m in range(c) for y in range(h) for x in range(w)
                 if math.isfinite(times[m, y, x].item()) and m not in blocked_maps
                 and (y, x) not in blocked_pos]
        if not cands:
            break
        _, _, m, y, x = min(cands)
        winners.append((m, y, x))
        blocked_maps.add(m)
        blocked_pos |= {(yy, xx) for yy in range(y - radius, y + radius + 1)
                        for xx in range(x - radius, x + radius + 1)}
    return winners


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_pointwise_inhibition_equals_the_loop(seed):
    times, pots = maps(seed, (2, 4, 3, 5))
    assert torch.equal(pointwise_inhibition(times, pots), reference_pointwise(times, pots))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 6), radius=st.integers(0, 2))
def test_k_winners_equals_the_loop(seed, k, radius):
    times, pots = maps(seed, (5, 6, 6), p_silent=0.8)
    assert k_winners(times, pots, k, radius) == reference_k_winners(times, pots, k, radius)


def test_k_winners_default_radius_blocks_the_winners_map_only():
    times = torch.full((2, 3, 3), math.inf)
    pots = torch.zeros(2, 3, 3)
    times[0, 1, 1], times[1, 1, 2] = 0.0, 1.0  # neighbours, different maps
    assert k_winners(times, pots, 2) == [(0, 1, 1), (1, 1, 2)]
    assert k_winners(times, pots, 2, radius=1) == [(0, 1, 1)]
