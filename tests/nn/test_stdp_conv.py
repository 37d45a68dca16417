"""STDP convolution: IF dynamics by hand, kernel parity with the dense reference, learning."""

import numpy as np
import pytest
import torch

from spikewave._validation import ParameterError
from spikewave.kernels.integrate_fire import if_conv_fire
from spikewave.nn.stdp_conv import (
    STDPConv2d,
    STDPConvParams,
    conv_potentials,
    convergence,
    final_potentials,
    fire,
    pool_first_spike,
)
from spikewave.plasticity.competition import pointwise_inhibition

INF = float("inf")


def test_potentials_accumulate_the_wave_without_leak():
    times = torch.tensor([[[[0.0, 2.0, INF]]]])  # three inputs in one row
    weight = torch.tensor([[[[0.5, 0.25, 1.0]]]])
    v = conv_potentials(times, weight, 4)
    assert v.shape == (4, 1, 1, 1, 1)
    assert v.flatten().tolist() == [0.5, 0.5, 0.75, 0.75]  # no leak, silent input never adds
    t, vf = fire(v, 0.7)
    assert t.item() == 2.0 and vf.item() == 0.75
    t, vf = fire(v, 0.8)  # never reaches threshold
    assert torch.isinf(t).all() and vf.item() == 0.0
    assert final_potentials(times, weight).item() == 0.75


def test_first_spike_pooling_keeps_the_earliest():
    times = torch.tensor([[[[3.0, 1.0, INF, INF], [2.0, 5.0, INF, 4.0]]]])
    assert pool_first_spike(times, 2, 2).flatten().tolist() == [1.0, 4.0]
    assert torch.isinf(pool_first_spike(torch.full((1, 1, 2, 2), INF), 2)).all()


def _random_times(shape, steps, density, seed):
    gen = torch.Generator().manual_seed(seed)
    t = torch.randint(0, steps, shape, generator=gen).double()
    return torch.where(torch.rand(shape, generator=gen, dtype=torch.float64) < density, t,
                       torch.full_like(t, INF))


@pytest.mark.parametrize("padding,kernel,maps,density", [(0, 3, 4, 0.5), (2, 5, 7, 0.2),
                                                          (1, 2, 1, 1.0)])
def test_event_kernel_matches_dense_reference(padding, kernel, maps, density):
    steps = 6
    times = _random_times((3, 3, 9, 8), steps, density, seed=kernel)
    weight = torch.rand(maps, 3, kernel, kernel, generator=torch.Generator().manual_seed(1),
                        dtype=torch.float64)
    thr = 0.3 * kernel * kernel * density * 3
    ref_t, ref_v = fire(conv_potentials(times, weight, steps, padding), thr)
    fast_t, fast_v = if_conv_fire(times, weight, steps, thr, padding, inhibit=False)
    assert torch.equal(fast_t, ref_t)
    torch.testing.assert_close(fast_v, ref_v, rtol=1e-12, atol=1e-12)
    inh = pointwise_inhibition(ref_t, ref_v)
    fast_t, fast_v = if_conv_fire(times, weight, steps, thr, padding, inhibit=True, threads=2)
    assert torch.equal(fast_t, inh)
    assert ref_t.isfinite().any()


def test_layer_kernel_and_reference_agree_and_learning_moves_only_winner_maps():
    p = STDPConvParams(in_maps=2, out_maps=6, kernel_size=3, threshold=3.0, padding=1,
                       winners=2, inhibition_radius=1)
    times = _random_times((4, 2, 10, 10), 15, 0.4, seed=3).float()
    layer = STDPConv2d(p, 15, torch.Generator().manual_seed(0))
    fast = layer(times)
    layer.use_kernel = False
    assert torch.equal(layer(times), fast)
    layer.use_kernel = True
    before = layer.weight.clone()
    winners = layer.learn(times[0])
    assert 1 <= len(winners) <= 2 and len({w[0] for w in winners}) == len(winners)
    changed = {f for f in range(6) if not torch.equal(layer.weight[f], before[f])}
    assert changed == {w[0] for w in winners}
    # each winner's update follows the rule: inputs at or before t_post up, the rest down
    for f, y, x in winners:
        patch = torch.nn.functional.pad(times[0], (1, 1, 1, 1), value=INF)[:, y:y + 3, x:x + 3]
        ltp = patch <= fast[0, f, y, x]
        expected = before[f] + torch.where(ltp, 0.004, -0.003) * before[f] * (1 - before[f])
        torch.testing.assert_close(layer.weight[f], expected.clamp(0, 1))


def test_learning_rate_doubles_on_schedule_up_to_the_cap():
    p = STDPConvParams(in_maps=1, out_maps=2, kernel_size=2, threshold=0.5, padding=0,
                       lr_double_every=2, a_plus=0.01, a_plus_max=0.03)
    layer = STDPConv2d(p, 3)
    img = torch.zeros(1, 3, 3)
    rates = []
    for _ in range(6):
        layer.learn(img)
        rates.append(layer.a_plus)
    assert rates == [0.01, 0.02, 0.02, 0.03, 0.03, 0.03]
    assert layer.a_minus == pytest.approx(-0.75 * 0.03)


def test_repeated_pattern_drives_weights_to_the_pattern_and_converges():
    """One image shown again and again: the winner's weights go to 1 on the inputs that fire
    at or before it (t = 0) and to 0 on the rest (silent, or later: t = 1), so C falls below
    the stop level."""
    p = STDPConvParams(in_maps=1, out_maps=1, kernel_size=3, threshold=2.0, padding=0,
                       winners=1, a_plus=0.05, weight_std=0.0)
    img = torch.full((1, 3, 3), INF)
    img[0, 0, :] = 0.0
    img[0, 1, 1] = 1.0
    layer = STDPConv2d(p, 4)
    for _ in range(400):
        layer.learn(img)
    w = layer.weight[0, 0]
    fired = img[0] == 0.0  # the neuron fires at t = 0 (3 x 0.8 >= 2)
    assert (w[fired] > 0.99).all() and (w[~fired] < 0.01).all()
    assert convergence(layer.weight) < 0.01 and layer.converged()


def test_bad_input():
    with pytest.raises(ParameterError, match="'threshold'"):
        STDPConvParams(threshold=0.0)
    with pytest.raises(ParameterError, match="'a_plus_max'"):
        STDPConvParams(a_plus=0.2, a_plus_max=0.1)
    with pytest.raises(ParameterError, match="'kernel_size'"):
        STDPConvParams(kernel_size=2.5)
    layer = STDPConv2d(STDPConvParams(), 15)
    with pytest.raises(ParameterError, match="'times'"):
        layer(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ParameterError, match="'times'"):
        layer.learn(torch.zeros(1, 2, 8, 8))


def test_convergence_measure():
    assert convergence(torch.tensor([0.0, 1.0])) == 0.0
    assert convergence(torch.tensor([0.5])) == 0.25
    assert np.isclose(convergence(torch.tensor([0.8, 0.2])), 0.16)


def test_compiled_k_winners_matches_the_reference():
    from spikewave.kernels.integrate_fire import k_winners_kernel
    from spikewave.plasticity.competition import k_winners
    gen = torch.Generator().manual_seed(5)
    for trial in range(20):
        times = _random_times((5, 7, 6), 4, 0.3, seed=trial)  # many ties in time
        pots = torch.randint(0, 3, (5, 7, 6), generator=gen).double()  # and in potential
        for k, r in ((1, 0), (3, 1), (8, 2)):
            ref = k_winners(times, pots, k, r)
            fast = [tuple(int(i) for i in row) for row in
                    k_winners_kernel(times.numpy(), pots.numpy(), k, r)]
            assert fast == ref


def test_vision_bad_input_one_clear_error_each():
    from spikewave.coding.retina import dog_filter
    from spikewave.nn.stdp_net import STDPConvNet, mnist_architecture
    net = STDPConvNet(mnist_architecture())
    with pytest.raises(ParameterError, match="'images'.*\\[B, H, W\\]"):
        net.encode(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ParameterError, match="'images'.*floating"):
        net.encode(torch.zeros(2, 28, 28, dtype=torch.uint8))
    with pytest.raises(ParameterError, match="'images'.*\\[0, 1\\]"):
        net.encode(torch.full((1, 28, 28), 255.0))
    with pytest.raises(ParameterError, match="'kernels'"):
        dog_filter(torch.zeros(1, 4, 4), ((13, 1.0, 2.0),), padding=0)
    layer = STDPConv2d(STDPConvParams(kernel_size=9, padding=0), 15)
    with pytest.raises(ParameterError, match="'kernel_size'"):
        layer(torch.zeros(1, 2, 6, 6))
