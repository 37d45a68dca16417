"""Rate, latency and retina codes against values computed here from their definitions."""

import math

import numpy as np
import pytest
import torch

from spikewave._validation import ParameterError
from spikewave.coding.latency import (
    first_spike_times,
    intensity_to_latency,
    latency_spikes,
    spike_wave,
)
from spikewave.coding.rate import bernoulli_spikes, direct_current
from spikewave.coding.retina import dog_filter, dog_kernel, local_normalization

# ----------------------------------------------------------------------------- rate


def test_bernoulli_rates_match_the_probabilities():
    x = torch.tensor([0.0, 0.1, 0.5, 1.0], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    s = bernoulli_spikes(x, 20_000, max_prob=0.6, generator=gen)
    assert s.shape == (20_000, 4) and s.dtype == torch.float64
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    p = 0.6 * x
    rate = s.mean(0)
    sigma = torch.sqrt(p * (1 - p) / 20_000)
    assert torch.all((rate - p).abs() <= 5 * sigma + 1e-12)
    assert s[:, 0].sum() == 0
    ones = bernoulli_spikes(torch.ones(3, 2), 7, generator=gen)
    assert torch.equal(ones, torch.ones(7, 3, 2))


def test_bernoulli_spikes_follow_the_generator():
    x = torch.rand(5, 6, generator=torch.Generator().manual_seed(1))
    a = bernoulli_spikes(x, 9, 0.5, torch.Generator().manual_seed(7))
    b = bernoulli_spikes(x, 9, 0.5, torch.Generator().manual_seed(7))
    c = bernoulli_spikes(x, 9, 0.5, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    u = torch.rand((9, 5, 6), generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, (u < 0.5 * x).float())  # one uniform per step and input


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"max_prob": 0.0}, "max_prob"), ({"max_prob": 1.5}, "max_prob"),
    ({"time_steps": 0}, "time_steps"), ({"x": torch.tensor([1.2])}, "'x'"),
    ({"x": torch.tensor([-0.1])}, "'x'"), ({"x": torch.tensor([math.nan])}, "'x'")])
def test_bernoulli_rejects_bad_input(kwargs, match):
    args = {"x": torch.tensor([0.5]), "time_steps": 3, "max_prob": 1.0} | kwargs
    with pytest.raises(ParameterError, match=match):
        bernoulli_spikes(**args)


def test_bernoulli_accepts_max_prob_one_one_step_and_empty_input():
    assert bernoulli_spikes(torch.empty(0), 4).shape == (4, 0)
    assert bernoulli_spikes(torch.full((2, 3), 0.5), 1).shape == (1, 2, 3)
    assert direct_current(torch.ones(2), 1).shape == (1, 2)
    assert bernoulli_spikes(torch.tensor([1.0]), 2, max_prob=1.0).tolist() == [[1.0], [1.0]]


def test_direct_current_repeats_the_intensity():
    x = torch.tensor([[0.2, 0.7]])
    out = direct_current(x, 3)
    assert out.shape == (3, 1, 2) and torch.equal(out[2], x) and torch.equal(out[0], x)
    with pytest.raises(ParameterError, match="time_steps"):
        direct_current(x, 0)


# ----------------------------------------------------------------------------- latency


def test_linear_latency_by_the_formula():
    x = torch.tensor([[2.0, 1.5, 1.0, 0.4, 0.001, 0.0, -3.0]])
    t = intensity_to_latency(x, 10, "linear")[0]
    expected = [min(9, math.floor(10 * (1 - v / 2.0))) for v in (2.0, 1.5, 1.0, 0.4, 0.001)]
    assert t[:5].tolist() == expected == [0, 2, 5, 8, 9]
    assert torch.isinf(t[5:]).all()
    # an intensity below float32 resolution of the peak: 1 - x / peak rounds to 1, and the
    # latency is capped at the last step
    tiny = intensity_to_latency(torch.tensor([[1.0, 1e-9]]), 10, "linear")[0]
    assert tiny.tolist() == [0.0, 9.0]


def test_rank_latency_with_bins_of_unequal_count_and_ties():
    # 7 active values in 3 bins: ranks 0..6 go to floor(3 r / 7) = 0,0,0,1,1,2,2
    x = torch.tensor([[7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]])
    assert intensity_to_latency(x, 3)[0, :7].tolist() == [0, 0, 0, 1, 1, 2, 2]
    # equal intensities keep their order (stable sort): the first of a tie ranks first
    tie = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    assert intensity_to_latency(tie, 2)[0].tolist() == [0, 0, 1, 1]
    # rank coding ignores contrast: any increasing transform gives the same times
    img = torch.rand(2, 5, 5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(intensity_to_latency(img, 4), intensity_to_latency(img**3 * 10, 4))
    # each image on its own: a dim image still fills every bin
    both = torch.stack([img[0], img[0] * 0.01])
    t = intensity_to_latency(both, 4)
    assert torch.equal(t[0], t[1])


def test_latency_keeps_the_shape_and_rejects_a_single_image():
    x = torch.rand(3, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    assert intensity_to_latency(x, 5).shape == x.shape
    with pytest.raises(ParameterError, match="'intensity'"):
        intensity_to_latency(torch.ones(4), 3)


def test_latency_spikes_one_spike_at_the_latency():
    x = torch.tensor([[1.0, 0.5, 0.0]])
    s = latency_spikes(x, 4)
    assert s.shape == (4, 1, 3)
    assert s[:, 0, 0].tolist() == [1, 0, 0, 0]
    assert s[:, 0, 1].tolist() == [0, 0, 1, 0]
    assert s[:, 0, 2].sum() == 0
    assert latency_spikes(x, 4, dtype=torch.float64).dtype == torch.float64
    rank = latency_spikes(x, 4, mode="rank")
    assert rank.sum() == 2 and rank[0, 0, 0] == 1 and rank[2, 0, 1] == 1


def test_first_spike_times_of_a_non_cumulative_wave_and_bad_input():
    wave = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    assert first_spike_times(wave).tolist() == [1.0, 0.0]
    assert torch.equal(spike_wave(torch.tensor([1.0, 0.0]), 3).T[0], torch.tensor([0., 1., 1.]))
    with pytest.raises(ParameterError, match="'wave'"):
        first_spike_times(torch.zeros(0, 3))
    one_step = first_spike_times(torch.tensor([[1.0, 0.0]]))
    assert one_step[0] == 0.0 and math.isinf(one_step[1])
    assert spike_wave(torch.tensor([1.0]), 2, torch.float64).dtype == torch.float64


# ----------------------------------------------------------------------------- retina


def test_dog_kernel_by_the_formula():
    size, s1, s2 = 5, 0.8, 1.6
    r = np.arange(size) - 2
    d2 = r[:, None] ** 2 + r[None, :] ** 2
    g1, g2 = np.exp(-d2 / (2 * s1**2)), np.exp(-d2 / (2 * s2**2))
    k = g1 / g1.sum() - g2 / g2.sum()
    k = k - k.mean()
    np.testing.assert_allclose(dog_kernel(size, s1, s2), k / np.abs(k).max(), rtol=1e-12)
    # an OFF-centre kernel (surround narrower) is the negative-centre one, still max-normalised
    off = dog_kernel(size, s2, s1)
    assert off[2, 2] < 0 and np.abs(off).max() == pytest.approx(1.0)


def test_dog_filter_is_the_convolution_with_the_kernel():
    img = torch.rand(1, 12, 12, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    k = torch.as_tensor(dog_kernel(5, 1.0, 2.0))
    out = dog_filter(img, kernels=((5, 1.0, 2.0),), padding=1)
    assert out.shape == (1, 2, 10, 10)
    ref = torch.nn.functional.conv2d(img[:, None], k[None, None], padding=1)[:, 0]
    torch.testing.assert_close(out[:, 0], ref.clamp_min(0))
    torch.testing.assert_close(out[:, 1], (-ref).clamp_min(0))
    # a smaller kernel sits centred in the larger one's window
    two = dog_filter(img, kernels=((3, 0.5, 1.0), (5, 1.0, 2.0)))
    k3 = torch.as_tensor(dog_kernel(3, 0.5, 1.0))
    ref3 = torch.nn.functional.conv2d(img[:, None], k3[None, None], padding=1)[:, 0]
    torch.testing.assert_close(two[:, 0], ref3.clamp_min(0))
    with pytest.raises(ParameterError, match="kernels"):
        dog_filter(torch.zeros(1, 3, 3), kernels=((7, 1.0, 2.0),), padding=0)


def test_local_normalization_with_a_window_and_zero_padding():
    x = torch.arange(2 * 3 * 3, dtype=torch.float64).reshape(1, 2, 3, 3) + 1.0
    y = local_normalization(x, 1)
    mean_c = x.mean(1)[0]  # [3, 3]
    padded = torch.nn.functional.pad(mean_c, (1, 1, 1, 1))
    for i in range(3):
        for j in range(3):
            m = padded[i:i + 3, j:j + 3].sum() / 9.0  # zeros beyond the border count
            torch.testing.assert_close(y[0, :, i, j], x[0, :, i, j] / m)
    with pytest.raises(ParameterError, match="'x'"):
        local_normalization(torch.ones(2, 3, 3), 1)
