"""DoG filters and intensity-to-latency coding on hand-made images."""

import numpy as np
import pytest
import torch

from spikewave._validation import ParameterError
from spikewave.coding.latency import first_spike_times, intensity_to_latency, spike_wave
from spikewave.coding.retina import dog_filter, dog_kernel, local_normalization


def test_dog_kernel_is_zero_mean_centre_positive_and_max_normalised():
    k = dog_kernel(7, 1.0, 2.0)
    assert k.shape == (7, 7)
    assert abs(k.sum()) < 1e-12
    assert k[3, 3] == pytest.approx(1.0)  # the centre is the largest entry
    assert k[0, 0] < 0  # surround inhibits
    np.testing.assert_allclose(k, k.T)  # isotropic
    np.testing.assert_allclose(k, k[::-1, ::-1])


def test_uniform_image_gives_no_response_away_from_the_border():
    img = torch.full((1, 15, 15), 0.7)
    out = dog_filter(img, padding=0)
    assert out.shape == (1, 2, 9, 9)
    assert out.abs().max() < 1e-6


def test_bright_dot_drives_on_cells_and_dark_dot_off_cells():
    bright = torch.zeros(1, 11, 11)
    bright[0, 5, 5] = 1.0
    out = dog_filter(bright)
    assert out.shape == (1, 2, 11, 11)
    assert out[0, 0, 5, 5] == pytest.approx(1.0)  # ON centre sees the kernel's centre value
    assert out[0, 1, 5, 5] == 0.0
    dark = 1.0 - bright
    out = dog_filter(dark, padding=0)
    assert out[0, 1].max() == out[0, 1, 2, 2] and out[0, 1, 2, 2] == pytest.approx(1.0)
    assert out[0, 0, 2, 2] == 0.0


def test_dog_threshold_silences_weak_responses_and_channels_follow_kernels():
    img = torch.zeros(2, 9, 9)
    img[:, 4, 4] = 1.0
    kernels = ((3, 0.5, 1.0), (7, 1.0, 2.0))
    out = dog_filter(img, kernels=kernels, threshold=0.5)
    assert out.shape == (2, 4, 9, 9)
    assert ((out == 0) | (out > 0.5)).all()
    # channel 2i is kernel i's ON response, 2i + 1 its OFF response: a bright dot gives each
    # ON channel the (flipped) kernel itself around the dot, above threshold only
    raw = dog_filter(img, kernels=kernels)
    for i, (size, s1, s2) in enumerate(kernels):
        k = torch.as_tensor(dog_kernel(size, s1, s2), dtype=torch.float32)
        r = size // 2
        on = raw[0, 2 * i, 4 - r:4 + r + 1, 4 - r:4 + r + 1]
        off = raw[0, 2 * i + 1, 4 - r:4 + r + 1, 4 - r:4 + r + 1]
        torch.testing.assert_close(on, k.flip(0, 1).clamp_min(0), atol=1e-6, rtol=0)
        torch.testing.assert_close(off, (-k.flip(0, 1)).clamp_min(0), atol=1e-6, rtol=0)
        assert out[0, 2 * i, 4, 4] == pytest.approx(1.0)
        assert out[0, 2 * i + 1, 4, 4] == 0.0
        kept = out[0, 2 * i + 1][out[0, 2 * i + 1] > 0]
        # the OFF ring around the dot: present where the kernel's surround dips below -0.5
        assert kept.numel() == int((-k > 0.5).sum())
    # a dark dot on a bright field swaps the roles: OFF at the centre, ON silent there
    dark = dog_filter(1.0 - img, kernels=kernels, padding=0)
    assert dark[0, 1, 1, 1] == pytest.approx(1.0) and dark[0, 0, 1, 1] == 0.0
    assert dark[0, 3, 1, 1] == pytest.approx(1.0) and dark[0, 2, 1, 1] == 0.0


def test_dog_bad_input():
    with pytest.raises(ParameterError, match="'size'"):
        dog_kernel(4, 1.0, 2.0)
    with pytest.raises(ParameterError, match="'sigma_surround'"):
        dog_kernel(5, 1.0, 1.0)
    with pytest.raises(ParameterError, match="'images'"):
        dog_filter(torch.zeros(3, 3))
    with pytest.raises(ParameterError, match="'images'"):
        dog_filter(torch.full((1, 5, 5), float("nan")))


def test_local_normalization_divides_by_the_local_mean():
    x = torch.full((1, 2, 5, 5), 3.0)
    np.testing.assert_allclose(local_normalization(x, 0).numpy(), 1.0, rtol=1e-6)
    x[0, 0, 2, 2] = 9.0
    y = local_normalization(x, 0)  # radius 0: mean over channels at the same pixel
    assert y[0, 0, 2, 2] == pytest.approx(9.0 / 6.0)


def test_rank_latency_fills_equal_count_bins_strongest_first():
    x = torch.tensor([[8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0, -1.0]])
    t = intensity_to_latency(x, 4)
    assert t[0, :8].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert torch.isinf(t[0, 8:]).all()  # zero and negative intensities never fire


def test_linear_latency():
    x = torch.tensor([[1.0, 0.5, 0.26, 0.01, 0.0]])
    t = intensity_to_latency(x, 4, mode="linear")
    assert t[0].tolist()[:4] == [0.0, 2.0, 2.0, 3.0]
    assert torch.isinf(t[0, 4])


def test_latency_is_per_image_and_monotone():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 6, 6, generator=gen)
    t = intensity_to_latency(x, 5)
    for b in range(3):
        order = torch.argsort(x[b].flatten(), descending=True)
        assert (torch.diff(t[b].flatten()[order]) >= 0).all()  # stronger never fires later


def test_spike_wave_is_cumulative_and_inverts():
    times = torch.tensor([[0.0, 2.0, float("inf")]])
    wave = spike_wave(times, 3)
    assert wave[:, 0].tolist() == [[1, 0, 0], [1, 0, 0], [1, 1, 0]]
    assert torch.equal(first_spike_times(wave), times)
    assert wave.sum(0).max() <= 3


def test_latency_bad_input():
    with pytest.raises(ParameterError, match="'time_steps'"):
        intensity_to_latency(torch.ones(1, 3), 0)
    with pytest.raises(ParameterError, match="'mode'"):
        intensity_to_latency(torch.ones(1, 3), 3, mode="log")
    with pytest.raises(ParameterError, match="'intensity'"):
        intensity_to_latency(torch.tensor([[float("nan")]]), 3)
