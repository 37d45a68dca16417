"""Synaptic delays: fixed delays shift by hand, learned delays have exact gradients."""

import pytest
import torch

from spikewave import ParameterError
from spikewave.neurons.specs import DelayState
from spikewave.nn.delays import DelayedLinear, LearnableDelayLinear


def test_fixed_delays_shift_each_synapse():
    x = torch.zeros(6, 1, 2, dtype=torch.float64)
    x[0, 0, 0] = 1.0  # input 0 spikes at t = 0
    x[1, 0, 1] = 1.0  # input 1 at t = 1
    layer = DelayedLinear(2, 2, torch.tensor([[2, 0], [0, 3]])).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 10.0], [100.0, 1000.0]]))
    y = layer(x)[:, 0]
    # output 0: input 0 delayed 2 -> t = 2 (x1); input 1 undelayed -> t = 1 (x10)
    assert y[:, 0].tolist() == [0.0, 10.0, 1.0, 0.0, 0.0, 0.0]
    # output 1: input 0 at t = 0 (x100); input 1 delayed 3 -> t = 4 (x1000)
    assert y[:, 1].tolist() == [100.0, 0.0, 0.0, 0.0, 1000.0, 0.0]


def test_zero_delays_equal_a_linear_layer():
    layer = DelayedLinear(4, 3, torch.zeros(3, 4, dtype=torch.long), bias=True)
    x = torch.randn(5, 2, 4)
    torch.testing.assert_close(layer(x), x @ layer.weight.T + layer.bias)


def test_learned_delays_become_the_fixed_layer_when_sigma_is_small():
    torch.manual_seed(0)
    layer = LearnableDelayLinear(3, 2, max_delay=4, seed=0).double()
    with torch.no_grad():
        layer.position.copy_(torch.tensor([[0.0, 1.0, 4.0], [2.0, 3.0, 1.0]]))
    layer.set_sigma(0.05)
    x = torch.randn(8, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(layer(x), layer.rounded()(x))
    assert layer.delays().tolist() == [[0, 1, 4], [2, 3, 1]]


def test_learned_delay_gradients_match_finite_differences():
    torch.manual_seed(1)
    layer = LearnableDelayLinear(3, 2, max_delay=3, sigma=0.8, seed=1).double()
    x = torch.randn(7, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp, w, p: (layer(inp) ** 2).sum(),
                                    (x, layer.weight, layer.position))


def test_a_delay_can_be_learned():
    """Target: input delayed by 3 steps. Gradient descent on the position finds it."""
    torch.manual_seed(0)
    x = torch.randn(40, 8, 1, dtype=torch.float64)
    target = torch.zeros_like(x)
    target[3:] = x[:-3]
    layer = LearnableDelayLinear(1, 1, max_delay=6, sigma=2.0, seed=0).double()
    with torch.no_grad():
        layer.weight.fill_(1.0)
        layer.position.fill_(0.5)
    opt = torch.optim.Adam([layer.position], lr=0.1)
    for step in range(300):
        layer.set_sigma(max(0.3, 2.0 * (1 - step / 200)))
        opt.zero_grad()
        ((layer(x) - target) ** 2).mean().backward()
        opt.step()
    assert layer.delays().item() == 3


def test_a_sequence_shorter_than_the_delays_runs_in_pieces_with_its_state():
    """The inputs before the start are zeros, or the history carried in the state: a
    sequence of any length, even shorter than the longest delay, in pieces gives one
    run's outputs."""
    layer = DelayedLinear(2, 1, torch.tensor([[5, 0]])).double()
    x = torch.randn(12, 3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    whole, end = layer(x, return_state=True)
    short = layer(x[:4])  # the delayed input has not arrived yet: only the undelayed one
    torch.testing.assert_close(short, x[:4, :, 1:] * layer.weight[0, 1])
    state, pieces = None, []
    for t0, t1 in ((0, 4), (4, 6), (6, 12)):
        y, state = layer(x[t0:t1], state, return_state=True)
        pieces.append(y)
    torch.testing.assert_close(torch.cat(pieces), whole, rtol=1e-12, atol=1e-12)
    assert torch.equal(state.history, end.history) and state.history.shape == (5, 3, 2)
    torch.testing.assert_close(whole[5:, :, 0], x[:-5, :, 0] * layer.weight[0, 0]
                               + x[5:, :, 1] * layer.weight[0, 1])


def test_bad_input():
    with pytest.raises(ParameterError, match="'x'"):  # the wrong number of inputs
        DelayedLinear(2, 1, torch.tensor([[5, 0]]))(torch.zeros(4, 1, 3))
    with pytest.raises(ParameterError, match="'state'"):  # a history of the wrong length
        DelayedLinear(2, 1, torch.tensor([[5, 0]]))(torch.zeros(4, 1, 2),
                                                    DelayState(torch.zeros(4, 1, 2)))
    with pytest.raises(ParameterError, match="'delays'"):
        DelayedLinear(2, 1, torch.tensor([[-1, 0]]))
    with pytest.raises(ParameterError, match="'x'"):
        LearnableDelayLinear(2, 1, max_delay=3)(torch.zeros(5, 1, 3))
    with pytest.raises(ParameterError, match="'sigma'"):
        LearnableDelayLinear(2, 1, max_delay=3).set_sigma(0.0)
