"""Losses on spiking outputs, activity regularisation and the latency encoder."""

import math

import pytest
import torch

from spikewave import ParameterError
from spikewave.coding.latency import latency_spikes
from spikewave.nn import LIF, FastSigmoid
from spikewave.nn.regularization import rate_bounds, spike_count_l1, spike_count_l2
from spikewave.train.losses import (
    first_spike_ce,
    first_spike_times,
    max_over_time_ce,
    mean_potential_ce,
    spike_count_ce,
)


def test_losses_by_hand():
    s = torch.zeros(4, 1, 2)
    s[[0, 2], 0, 1] = 1.0  # class 1 fires twice
    labels = torch.tensor([1])
    expected = -math.log(math.exp(2) / (1 + math.exp(2)))
    assert spike_count_ce(s, labels).item() == pytest.approx(expected)
    v = torch.tensor([[[0.0, 1.0]], [[3.0, 0.0]]])  # max over time: (3, 1); mean: (1.5, 0.5)
    assert max_over_time_ce(v, torch.tensor([0])).item() == pytest.approx(
        -math.log(math.exp(3) / (math.exp(3) + math.e)))
    assert mean_potential_ce(v, torch.tensor([0])).item() == pytest.approx(
        -math.log(math.exp(1.5) / (math.exp(1.5) + math.exp(0.5))))


def test_first_spike_times_and_loss():
    s = torch.zeros(5, 1, 3)
    s[1, 0, 0] = s[3, 0, 0] = 1.0  # class 0 first fires at step 1
    s[3, 0, 1] = 1.0  # class 1 at step 3; class 2 silent
    assert first_spike_times(s)[0].tolist() == [1.0, 3.0, 5.0]
    assert first_spike_ce(s, torch.tensor([0])) < first_spike_ce(s, torch.tensor([1]))


def test_first_spike_gradient_asks_the_right_neuron_to_fire_earlier():
    torch.manual_seed(0)
    x = torch.full((8, 1, 2), 0.3, requires_grad=True)
    layer = LIF(tau_steps=10.0, surrogate=FastSigmoid(5.0))
    first_spike_ce(layer(x), torch.tensor([1])).backward()
    g = x.grad[:, 0]
    assert (g[:, 1] <= 0).all() and g[:, 1].sum() < 0  # more input to class 1 lowers the loss


def test_regularizers_by_hand():
    s = torch.zeros(3, 2, 2)
    s[:, 0, 0] = 1.0  # sample 0: neuron 0 fires 3 times
    s[0, 1, 1] = 1.0  # sample 1: neuron 1 once
    assert spike_count_l1(s).item() == pytest.approx((3 + 1) / 2)
    assert spike_count_l2(s).item() == pytest.approx((9 + 1) / 2)
    # mean counts per neuron (1.5, 0.5): bounds [1, 1.2] -> (0)^2 + (0.3)^2 ... by hand
    assert rate_bounds(s, low=1.0, high=1.2).item() == pytest.approx(0.3**2 + 0.5**2)
    assert rate_bounds(s, low=0.0).item() == 0.0
    with pytest.raises(ParameterError, match="'high'"):
        rate_bounds(s, low=1.0, high=0.5)
    with pytest.raises(ParameterError, match="'spikes'"):
        spike_count_l1(torch.zeros(3))


def test_regularizer_gradient_reduces_activity():
    torch.manual_seed(0)
    x = torch.rand(20, 4, 8, requires_grad=True)
    spike_count_l1(LIF(surrogate=FastSigmoid(5.0))(x)).backward()
    assert (x.grad >= 0).all() and x.grad.sum() > 0  # less input, fewer spikes


def test_latency_encoder_one_spike_per_active_input():
    x = torch.tensor([[1.0, 0.5, 0.0]])
    s = latency_spikes(x, 4)
    assert s.shape == (4, 1, 3)
    assert s[:, 0, 0].tolist() == [1, 0, 0, 0] and s[:, 0, 1].tolist() == [0, 0, 1, 0]
    assert s[:, 0, 2].sum() == 0


def test_loss_bad_input():
    with pytest.raises(ParameterError, match="'spikes'"):
        spike_count_ce(torch.zeros(0, 2, 3), torch.tensor([0, 1]))
    with pytest.raises(ParameterError, match="'labels'"):
        spike_count_ce(torch.zeros(4, 2, 3), torch.tensor([0]))
    with pytest.raises(ParameterError, match="'potentials'"):
        max_over_time_ce(torch.full((2, 1, 2), float("nan")), torch.tensor([0]))
    with pytest.raises(ParameterError, match="'temperature'"):
        first_spike_ce(torch.zeros(2, 1, 2), torch.tensor([0]), temperature=0.0)
