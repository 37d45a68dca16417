"""Spike-train type and generators."""

import math

import numpy as np
import pytest

from spikewave import ParameterError
from spikewave.sim.spiketrains import (
    SpikeTrains,
    homogeneous_poisson,
    inhomogeneous_poisson,
    sort_spikes,
)


def test_validation_names_the_problem():
    with pytest.raises(ParameterError, match="sorted"):
        SpikeTrains(np.array([2.0, 1.0]), np.array([0, 0]), 1, 10.0)
    with pytest.raises(ParameterError, match=r"times in \[0"):
        SpikeTrains(np.array([-1.0, 1.0]), np.array([0, 0]), 1, 10.0)
    with pytest.raises(ParameterError, match="duration_ms"):
        SpikeTrains(np.array([1.0, 10.0]), np.array([0, 0]), 1, 10.0)
    with pytest.raises(ParameterError, match="afferents"):
        SpikeTrains(np.array([1.0, 2.0]), np.array([0, 3]), 2, 10.0)
    with pytest.raises(ParameterError, match="finite"):
        SpikeTrains(np.array([1.0, math.nan]), np.array([0, 0]), 1, 10.0)
    with pytest.raises(ParameterError, match="one index per spike"):
        SpikeTrains(np.array([1.0, 2.0]), np.array([0]), 1, 10.0)
    with pytest.raises(ParameterError, match="integer"):
        SpikeTrains(np.array([1.0]), np.array([0.5]), 1, 10.0)


def test_window_merge_and_rates():
    tr = SpikeTrains.from_unsorted([5.0, 1.0, 7.5, 3.0], [1, 0, 1, 0], 2, 10.0)
    np.testing.assert_array_equal(tr.times_ms, [1.0, 3.0, 5.0, 7.5])
    w = tr.window(2.0, 6.0)
    np.testing.assert_array_equal(w.times_ms, [1.0, 3.0])
    np.testing.assert_array_equal(w.afferents, [0, 1])
    assert w.duration_ms == 4.0
    np.testing.assert_allclose(tr.rates_hz(), [200.0, 200.0])
    np.testing.assert_array_equal(tr.of_afferent(1), [5.0, 7.5])
    both = tr.merge(tr)
    assert len(both) == 8 and np.all(np.diff(both.times_ms) >= 0)
    with pytest.raises(ParameterError, match="stop_ms"):
        tr.window(5.0, 20.0)


def test_poisson_rates_and_determinism():
    tr = homogeneous_poisson(200, 40.0, 5000.0, rng=3)
    rates = tr.rates_hz()
    # mean over 200 trains of 200 expected spikes: SD of the mean 40/sqrt(200*200) = 0.2 Hz
    assert abs(rates.mean() - 40.0) < 1.0
    again = homogeneous_poisson(200, 40.0, 5000.0, rng=3)
    np.testing.assert_array_equal(tr.times_ms, again.times_ms)
    with pytest.raises(ParameterError, match="seed"):
        homogeneous_poisson(2, 1.0, 10.0, rng=-1)


def test_inhomogeneous_poisson_follows_the_rates():
    rates = np.zeros((2000, 2))
    rates[:1000, 0] = 100.0
    rates[1000:, 1] = 50.0
    tr = inhomogeneous_poisson(rates, 1.0, rng=0)
    first, second = tr.of_afferent(0), tr.of_afferent(1)
    assert first.max() < 1000.0 and second.min() >= 1000.0
    assert abs(first.size - 100) < 40 and abs(second.size - 50) < 30
    with pytest.raises(ParameterError, match="rates_hz"):
        inhomogeneous_poisson(np.full((3, 1), 2000.0), 1.0)


def test_sort_spikes_matches_argsort_to_one_nanosecond():
    rng = np.random.default_rng(0)
    times = rng.uniform(0, 1000.0, 5000)
    aff = rng.integers(0, 37, 5000)
    t_sorted, a_sorted = sort_spikes(times, aff, 37)
    order = np.argsort(times)
    np.testing.assert_array_equal(a_sorted, aff[order])
    assert np.all(np.abs(t_sorted - times[order]) <= 2.0**-20)
    assert np.all(np.diff(t_sorted) >= 0)
