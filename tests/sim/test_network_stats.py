"""Population statistics on spike trains whose answers are known."""

import numpy as np
import pytest

from spikewave._validation import ParameterError
from spikewave.sim.population_stats import (
    dominant_frequency_hz,
    firing_rates_hz,
    isi_cv,
    population_rate_hz,
    rate_spectrum,
    synchrony_chi,
)


def _poisson(n, rate_hz, duration_ms, rng):
    count = rng.poisson(n * rate_hz * duration_ms / 1000.0)
    t = rng.uniform(0, duration_ms, count)
    k = rng.integers(0, n, count)
    order = np.argsort(t)
    return t[order], k[order]


def test_rates_and_cv_of_clocks_and_poisson_trains():
    rng = np.random.default_rng(0)
    # neuron 0: a clock at 50 Hz; neuron 1: silent; neurons 2..: Poisson at 20 Hz
    clock_t = np.arange(0.0, 10_000.0, 20.0)
    pt, pk = _poisson(200, 20.0, 10_000.0, rng)
    t = np.concatenate([clock_t, pt])
    k = np.concatenate([np.zeros(clock_t.size, int), pk + 2])
    rates = firing_rates_hz(t, k, 202, 0.0, 10_000.0)
    assert rates[0] == 50.0 and rates[1] == 0.0
    assert abs(rates[2:].mean() - 20.0) < 1.0
    cv = isi_cv(t, k, 202, 0.0, 10_000.0)
    assert cv[0] == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(cv[1])
    assert abs(np.nanmean(cv[2:]) - 1.0) < 0.05
    # the window: only the first second counts
    assert firing_rates_hz(t, k, 202, 0.0, 1000.0)[0] == 50.0


def test_population_rate_and_synchrony():
    rng = np.random.default_rng(1)
    n = 400
    pt, pk = _poisson(n, 10.0, 5_000.0, rng)
    starts, rate = population_rate_hz(pt, pk, n, 0.0, 5_000.0, 1.0)
    assert starts.size == 5000 and abs(rate.mean() - 10.0) < 0.5
    chi = synchrony_chi(pt, pk, n, 0.0, 5_000.0, 2.0)
    assert 0.5 / np.sqrt(n) < chi < 2.0 / np.sqrt(n)  # independent: about 1/sqrt(N)
    # every neuron fires in the same bins: chi = 1
    volley = np.repeat(np.arange(5.0, 5_000.0, 25.0), n)
    who = np.tile(np.arange(n), volley.size // n)
    assert synchrony_chi(volley, who, n, 0.0, 5_000.0, 2.0) == pytest.approx(1.0)


def test_spectrum_finds_the_modulation_frequency():
    rng = np.random.default_rng(2)
    t = np.arange(0.0, 4_000.0, 0.1)
    rate = 20.0 + 15.0 * np.sin(2 * np.pi * 0.04 * t) + rng.normal(0, 5, t.size)  # 40 Hz
    f, psd = rate_spectrum(rate, 0.1, segment_bins=10_000)
    peak, ratio = dominant_frequency_hz(f, psd)
    assert peak == pytest.approx(40.0, abs=1.0) and ratio > 100
    _, flat_ratio = dominant_frequency_hz(*rate_spectrum(rng.normal(0, 5, t.size), 0.1, 10_000))
    assert flat_ratio < 20


def test_bad_windows():
    with pytest.raises(ParameterError, match="'t_stop_ms'"):
        firing_rates_hz([1.0], [0], 1, 5.0, 5.0)
    with pytest.raises(ParameterError, match="'spike_neurons'"):
        isi_cv([1.0, 2.0], [0], 1, 0.0, 5.0)
