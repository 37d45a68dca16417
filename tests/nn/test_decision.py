"""R-STDP decision layer: hand-checked update, kernel parity with the dense reference."""

import numpy as np
import pytest
import torch

from spikewave._validation import ParameterError
from spikewave.nn.decision import RSTDPDecision, sparse_inputs
from spikewave.plasticity.reward import RSTDPParams, adapted_rates


def _fired(shape, density, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=gen) < density


def test_sparse_inputs_lists_the_fired_inputs_per_image():
    fired = torch.zeros(3, 2, 2, 2, dtype=torch.bool)
    fired[0, 1, 0, 1] = fired[2, 0, 1, 1] = fired[2, 1, 1, 0] = True
    ptr, c, y, x = sparse_inputs(fired)
    assert ptr.tolist() == [0, 1, 1, 3]
    assert list(zip(c, y, x, strict=True)) == [(1, 0, 1), (0, 1, 1), (1, 1, 0)]


def test_reward_potentiates_fired_inputs_and_punishment_depresses_them():
    layer = RSTDPDecision(in_maps=1, n_classes=2, maps_per_class=1, kernel_size=2,
                          weight_std=0.0, weight_mean=0.5, dtype=torch.float64)
    layer.weight[1] += 0.1  # map 1 (class 1) wins on any input
    fired = torch.tensor([[[True, False], [False, True]]])
    before = layer.weight.clone()
    assert layer.learn_reference(fired, 1) == 1  # right: reward
    expected = torch.tensor([[0.604, 0.597], [0.597, 0.604]], dtype=torch.float64)
    torch.testing.assert_close(layer.weight[1, 0], expected)
    assert torch.equal(layer.weight[0], before[0])  # the loser does not learn
    layer.weight = before.clone()
    assert layer.learn_reference(fired, 0) == 1  # wrong: punishment (anti-STDP)
    expected = torch.tensor([[0.596, 0.6005], [0.6005, 0.596]], dtype=torch.float64)
    torch.testing.assert_close(layer.weight[1, 0], expected)
    assert layer.learn_reference(torch.zeros_like(fired), 0) == -1  # silence: no decision


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("padding", [0, 2])
def test_kernel_matches_reference_decisions_and_weights(padding, dtype):
    fired = _fired((40, 6, 5, 5), 0.1, seed=padding)
    fired[3] = False  # one silent image
    labels = np.random.default_rng(0).integers(0, 3, 40)
    fast = RSTDPDecision(6, 3, 4, 3, padding=padding, seed=1, dtype=dtype)
    ref = RSTDPDecision(6, 3, 4, 3, padding=padding, seed=1, dtype=dtype)
    ref.use_kernel = False
    for start in (0, 20):  # two batches: the adapted rates must agree too
        d_fast = fast.learn_batch(fired[start:start + 20], labels[start:start + 20])
        d_ref = ref.learn_batch(fired[start:start + 20], labels[start:start + 20])
        np.testing.assert_array_equal(d_fast, d_ref)
        assert fast.rates == ref.rates
        if start == 0:
            assert d_fast[3] == -1  # the silent image of the first batch: no decision
    assert fast.weight.dtype == dtype
    torch.testing.assert_close(fast.weight, ref.weight, rtol=0, atol=0)  # same steps, same order
    np.testing.assert_array_equal(fast.decide(fired), ref.decide(fired))
    big = _fired((300, 6, 5, 5), 0.3, seed=7)  # spread over threads: same as one pass
    np.testing.assert_array_equal(fast.decide(big), ref.decide(big))
    assert (fast.weight >= 0.2).all() and (fast.weight <= 0.8).all()


@pytest.mark.parametrize("use_kernel", [True, False])
def test_dropout_silences_maps_for_a_batch(use_kernel):
    """Dropped maps neither win nor learn during the batch; a new draw each batch; the
    kernel and the reference draw the same maps and end with the same weights."""
    fired = _fired((30, 4, 5, 5), 0.3, seed=5)
    labels = np.random.default_rng(1).integers(0, 3, 30)
    layer = RSTDPDecision(4, 3, 4, 3, seed=2, dropout=0.5)
    layer.use_kernel = use_kernel
    masks = []
    for start in (0, 15):
        before = layer.weight.clone()
        layer.learn_batch(fired[start:start + 15], labels[start:start + 15])
        dropped = torch.from_numpy(~layer.enabled)
        assert 0 < int(dropped.sum()) < 12
        assert torch.equal(layer.weight[dropped], before[dropped])
        assert not torch.equal(layer.weight[~dropped], before[~dropped])
        masks.append(layer.enabled.copy())
    assert not np.array_equal(*masks)
    twin = RSTDPDecision(4, 3, 4, 3, seed=2, dropout=0.5)
    twin.use_kernel = not use_kernel
    for start in (0, 15):
        twin.learn_batch(fired[start:start + 15], labels[start:start + 15])
    torch.testing.assert_close(twin.weight, layer.weight, rtol=0, atol=0)
    assert (layer.decide(fired) >= 0).all()  # deciding uses every map


def test_rstdp_learns_a_separable_toy_task():
    """Two classes whose images light different halves of the input: R-STDP alone learns
    to tell them apart."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    fired = torch.zeros(400, 2, 4, 4, dtype=torch.bool)
    for i, lab in enumerate(labels):
        fired[i, lab] = torch.from_numpy(rng.random((4, 4)) < 0.5)
    layer = RSTDPDecision(2, 2, 3, 4, seed=0)
    before = np.mean(layer.decide(fired) == labels)
    for start in range(0, 400, 50):
        layer.learn_batch(fired[start:start + 50], labels[start:start + 50])
    after = np.mean(layer.decide(fired) == labels)
    assert after > 0.95 and after > before + 0.2


def test_adaptive_rates_and_bad_input():
    p = RSTDPParams()
    assert adapted_rates(p, 0.9, 0.1) == pytest.approx((0.0004, -0.0003, -0.0036, 0.00045))
    assert adapted_rates(p.replace(adaptive=False), 0.9, 0.1) == (0.004, -0.003, -0.004, 0.0005)
    with pytest.raises(ParameterError, match="'hit_fraction'"):
        adapted_rates(p, 1.5, 0.0)
    with pytest.raises(ParameterError, match="'punish_plus'"):
        RSTDPParams(punish_plus=0.01)
    layer = RSTDPDecision(2, 2, 1, 3)
    with pytest.raises(ParameterError, match="'dropout'"):
        RSTDPDecision(2, 2, 1, 3, dropout=1.0)
    with pytest.raises(ParameterError, match="'dtype'"):
        RSTDPDecision(2, 2, 1, 3, dtype=torch.float16)
    with pytest.raises(ParameterError, match="'fired'"):
        layer.decide(torch.zeros(1, 3, 5, 5))
    with pytest.raises(ParameterError, match="'labels'"):
        layer.learn_batch(torch.zeros(2, 2, 5, 5), np.zeros(3))


def test_state_round_trip_continues_learning_exactly():
    """A layer rebuilt from :meth:`state` after one batch learns the next batch exactly as
    the original does (weights, adapted rates and the dropout draw all carried over)."""
    fired = _fired((30, 4, 5, 5), 0.3, seed=7)
    labels = np.random.default_rng(3).integers(0, 3, 30)
    layer = RSTDPDecision(4, 3, 4, 3, seed=2, dropout=0.5)
    layer.learn_batch(fired[:15], labels[:15])
    saved = layer.state()
    scratch = layer.state()
    scratch["weight"].fill_(0.5)  # a copy, not a view of the layer's weights
    assert not torch.equal(layer.weight, scratch["weight"])
    twin = RSTDPDecision(4, 3, 4, 3, seed=9, dropout=0.5)  # another seed: all state comes in
    twin.load_state(saved)
    assert twin.rates == layer.rates and np.array_equal(twin.enabled, layer.enabled)
    made = layer.learn_batch(fired[15:], labels[15:])
    assert np.array_equal(twin.learn_batch(fired[15:], labels[15:]), made)
    assert torch.equal(twin.weight, layer.weight)
    with pytest.raises(ParameterError, match="'state'"):
        RSTDPDecision(4, 3, 2, 3).load_state(saved)
