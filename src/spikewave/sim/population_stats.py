"""Statistics of a population's spikes: rates, irregularity, synchrony, oscillations.

All take the spikes as two arrays (times in ms, neuron indices) and a time window
``[t_start_ms, t_stop_ms)``:

- :func:`firing_rates_hz` -- each neuron's spike count over the window's length;
- :func:`isi_cv` -- each neuron's coefficient of variation of its inter-spike intervals,
  ``CV = SD(ISI) / mean(ISI)`` (0 for a clock, 1 for a Poisson process; Softky & Koch
  1993), NaN for a neuron with fewer than ``min_intervals`` intervals;
- :func:`population_rate_hz` -- the population activity: spikes per bin over neurons and
  bin width (Brian2's ``PopulationRateMonitor``, binned);
- :func:`synchrony_chi` -- Golomb's (2007) synchrony measure on binned spike counts
  ``s_i(t)``::

      chi^2 = Var_t(mean_i s_i(t)) / mean_i Var_t(s_i(t))

  1 when every neuron fires in the same bins, about ``1/sqrt(N)`` for independent neurons;
- :func:`rate_spectrum` -- the power spectral density of the population activity (Welch,
  Hann windows, mean removed), and :func:`dominant_frequency_hz` its highest peak above a
  floor frequency, with the peak's height over the median power (a flat spectrum, as in an
  asynchronous state, gives a ratio near 1 and a meaningless frequency).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from spikewave._validation import POSITIVE, check_int, check_number, fail


def _window(times, neurons, t_start_ms, t_stop_ms):
    times = np.asarray(times, dtype=np.float64)
    neurons = np.asarray(neurons, dtype=np.int64)
    if times.shape != neurons.shape or times.ndim != 1:
        raise fail("spike_neurons", f"array of shape {neurons.shape}",
                   f"one index per spike time, shape {times.shape}")
    start = check_number("t_start_ms", t_start_ms)
    stop = check_number("t_stop_ms", t_stop_ms)
    if stop <= start:
        raise fail("t_stop_ms", stop, f"after t_start_ms = {start:g}")
    keep = (times >= start) & (times < stop)
    return times[keep], neurons[keep], start, stop


def firing_rates_hz(spike_times_ms, spike_neurons, n_neurons: int, t_start_ms: float,
                    t_stop_ms: float) -> np.ndarray:
    """Each neuron's rate (Hz) over ``[t_start_ms, t_stop_ms)``."""
    n = check_int("n_neurons", n_neurons, 1)
    _, k, start, stop = _window(spike_times_ms, spike_neurons, t_start_ms, t_stop_ms)
    return np.bincount(k, minlength=n)[:n] / ((stop - start) / 1000.0)


def isi_cv(spike_times_ms, spike_neurons, n_neurons: int, t_start_ms: float,
           t_stop_ms: float, min_intervals: int = 2) -> np.ndarray:
    """Each neuron's CV of ISI within the window (NaN below ``min_intervals`` intervals)."""
    n = check_int("n_neurons", n_neurons, 1)
    min_intervals = check_int("min_intervals", min_intervals, 1)
    t, k, _, _ = _window(spike_times_ms, spike_neurons, t_start_ms, t_stop_ms)
    order = np.lexsort((t, k))
    t, k = t[order], k[order]
    same = k[1:] == k[:-1]
    isi, who = np.diff(t)[same], k[1:][same]
    count = np.bincount(who, minlength=n)[:n]
    mean = np.bincount(who, weights=isi, minlength=n)[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = mean / count
        dev = isi - mean[who]
        var = np.bincount(who, weights=dev * dev, minlength=n)[:n] / count
        cv = np.sqrt(var) / mean
    return np.where(count >= min_intervals, cv, np.nan)


def population_rate_hz(spike_times_ms, spike_neurons, n_neurons: int, t_start_ms: float,
                       t_stop_ms: float, bin_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """``(bin starts in ms, rate in Hz)``: spikes per bin / (neurons x bin width)."""
    n = check_int("n_neurons", n_neurons, 1)
    width = check_number("bin_ms", bin_ms, POSITIVE)
    t, _, start, stop = _window(spike_times_ms, spike_neurons, t_start_ms, t_stop_ms)
    n_bins = int(np.floor((stop - start) / width + 1e-9))
    if n_bins < 1:
        raise fail("bin_ms", width, f"at most the window, {stop - start:g} ms")
    idx = np.floor((t - start) / width + 1e-9).astype(np.int64)
    counts = np.bincount(idx[idx < n_bins], minlength=n_bins)
    return start + width * np.arange(n_bins), counts / (n * width / 1000.0)


def synchrony_chi(spike_times_ms, spike_neurons, n_neurons: int, t_start_ms: float,
                  t_stop_ms: float, bin_ms: float) -> float:
    """Golomb's ``chi`` over neurons that fired in the window (see the module docstring)."""
    n = check_int("n_neurons", n_neurons, 1)
    width = check_number("bin_ms", bin_ms, POSITIVE)
    t, k, start, stop = _window(spike_times_ms, spike_neurons, t_start_ms, t_stop_ms)
    n_bins = int(np.floor((stop - start) / width + 1e-9))
    if n_bins < 2 or t.size == 0:
        return float("nan")
    b = np.floor((t - start) / width + 1e-9).astype(np.int64)
    keep = b < n_bins
    b, k = b[keep], k[keep]
    population = np.bincount(b, minlength=n_bins) / n
    # per neuron: sum of counts and sum of squared counts over bins
    cells = np.unique(k * n_bins + b, return_counts=True)[1]
    owner = np.unique(k * n_bins + b) // n_bins
    total = np.bincount(owner, weights=cells, minlength=n)
    squares = np.bincount(owner, weights=cells.astype(float) ** 2, minlength=n)
    var_each = squares / n_bins - (total / n_bins) ** 2
    mean_var = var_each.mean()
    if mean_var <= 0:
        return float("nan")
    return float(np.sqrt(population.var() / mean_var))


def rate_spectrum(rate_hz: np.ndarray, bin_ms: float, segment_bins: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(frequencies in Hz, PSD)`` of a population rate sampled every ``bin_ms``."""
    rate = np.asarray(rate_hz, dtype=np.float64)
    width = check_number("bin_ms", bin_ms, POSITIVE)
    if rate.ndim != 1 or rate.size < 8:
        raise fail("rate_hz", f"array of shape {rate.shape}", "a 1-D series of 8 values or more")
    nper = min(rate.size, segment_bins or rate.size)
    return signal.welch(rate, fs=1000.0 / width, nperseg=nper, detrend="constant")


def dominant_frequency_hz(freqs_hz: np.ndarray, psd: np.ndarray, min_hz: float = 5.0
                          ) -> tuple[float, float]:
    """``(frequency, peak / median power)`` of the highest PSD value at ``f >= min_hz``."""
    f = np.asarray(freqs_hz)
    p = np.asarray(psd)
    sel = f >= min_hz
    if not sel.any():
        raise fail("min_hz", min_hz, f"below the highest frequency, {f.max():g} Hz")
    k = int(np.argmax(p[sel]))
    median = float(np.median(p[sel]))
    ratio = float(p[sel][k] / median) if median > 0 else float("inf")
    return float(f[sel][k]), ratio
