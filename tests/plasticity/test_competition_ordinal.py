"""Ordinal STDP (Kheradpisheh 2018), pointwise inhibition and k-winner-take-all."""

import numpy as np
import pytest
import torch

from spikewave._validation import ParameterError
from spikewave.plasticity.competition import k_winners, pointwise_inhibition
from spikewave.plasticity.stdp import ordinal_stdp_update

INF = float("inf")


def test_ordinal_stdp_matches_hand_computation():
    w = np.array([0.5, 0.5, 0.9, 0.2])
    before = np.array([True, False, True, False])
    new = ordinal_stdp_update(w, before, 0.004, -0.003)
    expected = [0.5 + 0.004 * 0.25, 0.5 - 0.003 * 0.25, 0.9 + 0.004 * 0.09, 0.2 - 0.003 * 0.16]
    np.testing.assert_allclose(new, expected, rtol=0, atol=1e-15)


def test_ordinal_stdp_without_stabilizer_is_additive_and_bounded():
    w = torch.tensor([0.5, 0.799, 0.21])
    new = ordinal_stdp_update(w, torch.tensor([True, True, False]), 0.004, -0.003,
                              stabilizer=False, w_min=0.2, w_max=0.8)
    torch.testing.assert_close(new, torch.tensor([0.504, 0.8, 0.207]))


def test_ordinal_stdp_fixed_points_are_the_bounds():
    w = np.array([0.0, 1.0])
    np.testing.assert_array_equal(ordinal_stdp_update(w, np.array([True, False]), 0.1, -0.1), w)
    with pytest.raises(ParameterError, match="'w_max'"):
        ordinal_stdp_update(w, w > 0, 0.1, -0.1, w_min=1.0, w_max=0.0)


def test_pointwise_inhibition_keeps_the_earliest_map_then_the_largest_potential():
    times = torch.tensor([[[[3.0, 1.0, INF]], [[2.0, 1.0, INF]], [[INF, 4.0, INF]]]])
    pots = torch.tensor([[[[20.0, 16.0, 0.0]], [[15.0, 18.0, 0.0]], [[0.0, 30.0, 0.0]]]])
    out = pointwise_inhibition(times, pots)
    # position 0: map 1 fired first; position 1: maps 0 and 1 tie at t=1, map 1 is larger
    assert out[0, :, 0, 0].tolist() == [INF, 2.0, INF]
    assert out[0, :, 0, 1].tolist() == [INF, 1.0, INF]
    assert torch.isinf(out[0, :, 0, 2]).all()


def test_k_winners_picks_earliest_then_blocks_its_map_and_neighbourhood():
    times = torch.full((3, 6, 6), INF)
    pots = torch.zeros(3, 6, 6)
    times[0, 1, 1], pots[0, 1, 1] = 0.0, 5.0  # the first winner
    times[0, 4, 4], pots[0, 4, 4] = 0.0, 4.0  # same map: blocked
    times[1, 2, 2], pots[1, 2, 2] = 1.0, 9.0  # within radius 1 of (1, 1): blocked
    times[2, 5, 5], pots[2, 5, 5] = 3.0, 1.0  # far away, later: second winner
    times[1, 0, 5], pots[1, 0, 5] = 2.0, 1.0  # map 1 elsewhere: wins before map 2
    winners = k_winners(times, pots, k=5, radius=1)
    assert winners == [(0, 1, 1), (1, 0, 5), (2, 5, 5)]
    assert k_winners(times, pots, k=1, radius=1) == [(0, 1, 1)]
    # radius 0 lets map 1 win at (2, 2) (t = 1), before its later spike at (0, 5)
    assert k_winners(times, pots, k=2, radius=0)[1] == (1, 2, 2)


def test_k_winners_ties_break_on_potential_and_silence_gives_none():
    times = torch.zeros(2, 1, 2)
    pots = torch.tensor([[[1.0, 2.0]], [[3.0, 0.5]]])
    assert k_winners(times, pots, 1) == [(1, 0, 0)]
    assert k_winners(torch.full((2, 3, 3), INF), torch.zeros(2, 3, 3), 3) == []
    with pytest.raises(ParameterError, match="'k'"):
        k_winners(times, pots, 0)
    with pytest.raises(ParameterError, match="'times'"):
        k_winners(times, pots[0], 1)
