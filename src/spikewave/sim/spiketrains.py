"""Spike trains of a population: sorted times (ms) with afferent indices, and generators.

:class:`SpikeTrains` holds one merged, time-sorted list of spikes of ``n_afferents``
afferents on ``[0, duration_ms)``; slicing by a time window is a binary search. Every
generator takes a ``numpy.random.Generator`` or an integer seed.

Generators:

- :func:`homogeneous_poisson` -- independent Poisson trains of one rate;
- :func:`inhomogeneous_poisson` -- rates given per time bin and afferent (thinning-free:
  Bernoulli per bin, each spike placed uniformly inside its bin);
- :mod:`spikewave.sim.masquelier_input` builds the input of Masquelier et al. 2008 from these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spikewave._budget import Budget, check_budget
from spikewave._numba import grow, njit
from spikewave._validation import NON_NEGATIVE, POSITIVE, check_array, check_int, check_number, fail
from spikewave.sim.keysort import sort_keys

RandomLike = np.random.Generator | int | None


def as_generator(rng: RandomLike) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed or a generator (``None``: fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, int | np.integer) and not isinstance(rng, bool)
                       and rng >= 0):
        return np.random.default_rng(rng)
    raise fail("seed", rng, "a non-negative integer or a numpy.random.Generator")


@njit
def _first_problem(times, aff, n, duration):  # pragma: no cover - compiled
    """One pass over a spike list: 0 if valid, else the first check that fails (1 a
    non-finite time, 2 a time outside ``[0, duration)``, 3 unsorted, 4 an index outside
    ``[0, n)``), in that order of priority."""
    nonfinite = outside = unsorted = bad_index = False
    prev = -np.inf
    for i in range(times.shape[0]):
        t = times[i]
        nonfinite |= not math.isfinite(t)
        outside |= (t < 0.0) | (t >= duration)
        unsorted |= t < prev
        prev = t
        bad_index |= (aff[i] < 0) | (aff[i] >= n)
    if nonfinite:
        return 1
    if outside:
        return 2
    if unsorted:
        return 3
    if bad_index:
        return 4
    return 0


@dataclass(frozen=True)
class SpikeTrains:
    """Spikes of ``n_afferents`` afferents on ``[0, duration_ms)``, sorted by time.

    ``times_ms`` (float64) and ``afferents`` (int32) have one entry per spike. Construction
    validates sortedness, the time range and the index range.
    """

    times_ms: np.ndarray
    afferents: np.ndarray
    n_afferents: int
    duration_ms: float

    def __post_init__(self) -> None:
        times = np.ascontiguousarray(self.times_ms, dtype=np.float64)
        aff = np.asarray(self.afferents)
        n = check_int("n_afferents", self.n_afferents, 1, owner="SpikeTrains")
        duration = check_number("duration_ms", self.duration_ms, POSITIVE, "SpikeTrains")
        if times.ndim != 1 or aff.shape != times.shape:
            raise fail("afferents", f"array of shape {aff.shape}",
                       f"one index per spike, shape {times.shape}", "SpikeTrains")
        if aff.size and not np.issubdtype(aff.dtype, np.integer):
            raise fail("afferents", f"array of dtype {aff.dtype}", "integer indices",
                       "SpikeTrains")
        if times.size:
            problem = _first_problem(times, aff, n, duration)
            if problem == 1:
                raise fail("times_ms", "an array with NaN or inf", "finite times", "SpikeTrains")
            if problem == 2:
                raise fail("times_ms", f"times in [{times.min():g}, {times.max():g}]",
                           f"times in [0, duration_ms = {duration:g})", "SpikeTrains")
            if problem == 3:
                raise fail("times_ms", "an unsorted array", "sorted in increasing order "
                           "(use SpikeTrains.from_unsorted)", "SpikeTrains")
            if problem == 4:
                raise fail("afferents", f"indices in [{aff.min()}, {aff.max()}]",
                           f"indices in [0, {n - 1}]", "SpikeTrains")
        object.__setattr__(self, "times_ms", times)
        object.__setattr__(self, "afferents", np.ascontiguousarray(aff, dtype=np.int32))
        object.__setattr__(self, "n_afferents", n)
        object.__setattr__(self, "duration_ms", duration)

    @classmethod
    def from_unsorted(cls, times_ms, afferents, n_afferents: int,
                      duration_ms: float) -> SpikeTrains:
        """Sort by time (stable, so equal times keep their order) and build."""
        times = check_array("times_ms", times_ms, ndim=1)
        order = np.argsort(times, kind="stable")
        return cls(times[order], np.asarray(afferents)[order], n_afferents, duration_ms)

    def __len__(self) -> int:
        return int(self.times_ms.size)

    def window(self, start_ms: float, stop_ms: float) -> SpikeTrains:
        """Spikes with ``start <= t < stop``, times shifted so the window starts at 0."""
        start = check_number("start_ms", start_ms, NON_NEGATIVE)
        stop = check_number("stop_ms", stop_ms, NON_NEGATIVE)
        if not start < stop <= self.duration_ms:
            raise fail("stop_ms", stop_ms, f"in (start_ms = {start:g}, "
                       f"duration_ms = {self.duration_ms:g}]")
        lo, hi = np.searchsorted(self.times_ms, [start, stop], side="left")
        return SpikeTrains(self.times_ms[lo:hi] - start, self.afferents[lo:hi],
                           self.n_afferents, stop - start)

    def rates_hz(self) -> np.ndarray:
        """Mean rate of each afferent (Hz)."""
        counts = np.bincount(self.afferents, minlength=self.n_afferents)
        return counts * 1000.0 / self.duration_ms

    def of_afferent(self, index: int) -> np.ndarray:
        """Spike times (ms) of one afferent."""
        index = check_int("index", index, 0, self.n_afferents - 1)
        return self.times_ms[self.afferents == index]

    def merge(self, other: SpikeTrains) -> SpikeTrains:
        """Union of two sets of spikes of the same population and duration."""
        if (other.n_afferents, other.duration_ms) != (self.n_afferents, self.duration_ms):
            raise fail("other", f"SpikeTrains({other.n_afferents}, {other.duration_ms:g} ms)",
                       f"the same n_afferents ({self.n_afferents}) and duration_ms "
                       f"({self.duration_ms:g})")
        return SpikeTrains.from_unsorted(np.concatenate([self.times_ms, other.times_ms]),
                                         np.concatenate([self.afferents, other.afferents]),
                                         self.n_afferents, self.duration_ms)


SORT_SCALE = 2.0**20  # sort_spikes rounds times down to multiples of 1/SORT_SCALE ms


@njit
def spike_key(time_ms, afferent, aff_bits, scale):  # pragma: no cover - compiled
    """One spike's sort key: its time in units of ``1/scale`` ms (rounded down), then its
    afferent in the low ``aff_bits`` bits."""
    return (np.int64(math.floor(time_ms * scale)) << aff_bits) | np.int64(afferent)


@njit
def key_time(key, aff_bits, scale):  # pragma: no cover - compiled
    """The time (ms) that :func:`spike_key` packed into ``key``."""
    return (key >> aff_bits) / scale


@njit
def _pack_keys(times, afferents, aff_bits, scale):  # pragma: no cover - compiled
    keys = np.empty(times.shape[0], np.int64)
    for i in range(times.shape[0]):
        keys[i] = spike_key(times[i], afferents[i], aff_bits, scale)
    return keys


@njit
def _unpack_keys(keys, aff_bits, scale):  # pragma: no cover - compiled
    times = np.empty(keys.shape[0])
    aff = np.empty(keys.shape[0], np.int32)
    mask = (np.int64(1) << aff_bits) - 1
    for i in range(keys.shape[0]):
        times[i] = key_time(keys[i], aff_bits, scale)
        aff[i] = keys[i] & mask
    return times, aff


def sort_spikes(times_ms: np.ndarray, afferents: np.ndarray,
                n_afferents: int) -> tuple[np.ndarray, np.ndarray]:
    """Spikes sorted by time (ties by afferent), with times rounded down to 2^-20 ms (~1 ns).

    For the large arrays of long simulations, sorting one ``int64`` key (time in units of
    2^-20 ms, then afferent) is several times faster than an argsort of floats. The times
    returned are exactly those units, so they are sorted as floats too. Falls back to an
    exact stable argsort when the key would overflow.
    """
    times = np.ascontiguousarray(times_ms, dtype=np.float64)
    aff = np.ascontiguousarray(afferents)
    aff_bits = max(1, int(n_afferents - 1).bit_length())
    scale = SORT_SCALE
    if times.size == 0 or times.min() < 0 or times.max() * scale * 2.0**aff_bits >= 2.0**62:
        order = np.argsort(times, kind="stable")
        return times[order], aff[order].astype(np.int32)
    keys = sort_keys(_pack_keys(times, aff, aff_bits, scale))
    return _unpack_keys(keys, aff_bits, scale)


# bytes per spike while generating and sorting: time and index, their sorted copies, keys
BYTES_PER_SPIKE = 40


def _expected_spikes_bound(mean: float) -> float:
    """A count that a Poisson total of mean ``mean`` exceeds with negligible probability
    (mean + 10 standard deviations + 10)."""
    return mean + 10.0 * math.sqrt(mean) + 10.0


def homogeneous_poisson(n_afferents: int, rate_hz: float, duration_ms: float,
                        rng: RandomLike = None, budget: Budget | None = None) -> SpikeTrains:
    """Independent homogeneous Poisson trains: counts Poisson, times uniform.

    ``budget`` bounds the spikes and their memory, checked from the expected count before
    anything is drawn."""
    n = check_int("n_afferents", n_afferents, 1)
    rate = check_number("rate_hz", rate_hz, NON_NEGATIVE)
    duration = check_number("duration_ms", duration_ms, POSITIVE)
    spikes = _expected_spikes_bound(n * rate * duration / 1000.0)
    check_budget("homogeneous_poisson", spikes, BYTES_PER_SPIKE * spikes, budget,
                 f"about {n * rate * duration / 1000.0:.3g} spikes: {n} afferents at "
                 f"{rate:g} Hz for {duration:g} ms")
    gen = as_generator(rng)
    counts = gen.poisson(rate * duration / 1000.0, n)
    times = gen.uniform(0.0, duration, counts.sum())
    aff = np.repeat(np.arange(n, dtype=np.int32), counts)
    return SpikeTrains.from_unsorted(times, aff, n, duration)


@njit
def _bernoulli_bins(rates_hz, dt_ms, rng):  # pragma: no cover - compiled
    n_bins, n_aff = rates_hz.shape
    times = np.empty(16)
    aff = np.empty(16, np.int32)
    k = 0
    for b in range(n_bins):
        for i in range(n_aff):
            if rng.random() < rates_hz[b, i] * dt_ms / 1000.0:
                if k == times.shape[0]:
                    times, aff = grow(times, k), grow(aff, k)
                times[k] = (b + rng.random()) * dt_ms
                aff[k] = i
                k += 1
    return times[:k], aff[:k]


def inhomogeneous_poisson(rates_hz: np.ndarray, dt_ms: float,
                          rng: RandomLike = None, budget: Budget | None = None) -> SpikeTrains:
    """Spikes from rates given per bin and afferent, ``rates_hz[bin, afferent]``.

    In each bin of width ``dt_ms`` an afferent spikes with probability ``rate * dt``
    (which must be at most 1), at a uniform position inside the bin. ``budget`` bounds the
    bins visited and the spikes' memory (from the expected count), checked first.
    """
    rates = check_array("rates_hz", rates_hz, ndim=2)
    dt = check_number("dt_ms", dt_ms, POSITIVE)
    if rates.size and (rates.min() < 0 or rates.max() * dt / 1000.0 > 1.0):
        raise fail("rates_hz", f"rates in [{rates.min():g}, {rates.max():g}] Hz",
                   f"rates in [0, {1000.0 / dt:g}] Hz (at most one spike per bin of {dt:g} ms)")
    spikes = _expected_spikes_bound(float(rates.sum()) * dt / 1000.0)
    check_budget("inhomogeneous_poisson", rates.size, BYTES_PER_SPIKE * spikes, budget,
                 f"{rates.shape[0]} bins x {rates.shape[1]} afferents")
    times, aff = _bernoulli_bins(np.ascontiguousarray(rates), dt, as_generator(rng))
    return SpikeTrains.from_unsorted(times, aff, rates.shape[1], rates.shape[0] * dt)
