"""Radix sort of int64 keys: exactly np.sort, on every kind of key set it can meet."""

import numpy as np
import pytest

from spikewave.sim import keysort
from spikewave.sim.keysort import _bucket_radix_sort, _lsd_radix, sort_keys


def _keys(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "uniform50":  # the span of a 150 s block's spike keys
        return rng.integers(0, 2**50, n)
    if kind == "runs":  # ascending runs, as the per-afferent drift spikes
        return np.concatenate([np.sort(rng.integers(0, 2**40, n // 8)) for _ in range(8)])
    if kind == "duplicates":
        return rng.integers(5, 40, n)
    if kind == "constant":
        return np.full(n, 123456789, np.int64)
    if kind == "clustered":  # most keys in one bucket: large LSD bucket plus tiny ones
        return np.concatenate([rng.integers(2**45, 2**45 + 1000, n - 50),
                               rng.integers(0, 2**46, 50)])
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["uniform50", "runs", "duplicates", "constant", "clustered"])
def test_sort_keys_equals_numpy_sort(kind, monkeypatch):
    monkeypatch.setattr(keysort, "MIN_RADIX_KEYS", 0)  # the radix path even for few keys
    keys = _keys(kind, 20_000, np.random.default_rng(1))
    before = keys.copy()
    np.testing.assert_array_equal(sort_keys(keys), np.sort(keys))
    np.testing.assert_array_equal(keys, before)  # the input is left alone


def test_small_and_negative_keys_fall_back_to_numpy():
    rng = np.random.default_rng(2)
    for keys in (np.array([], np.int64), np.array([7]), rng.integers(-2**40, 2**40, 5000)):
        np.testing.assert_array_equal(sort_keys(keys), np.sort(keys))


@pytest.mark.parametrize("top_bits,sub_bits,digit_bits",
                         [(3, 2, 4), (11, 12, 10), (20, 7, 7), (5, 16, 8), (8, 3, 5)])
@pytest.mark.parametrize("crowded", [False, True])
def test_bucket_and_digit_widths_do_not_change_the_result(top_bits, sub_bits, digit_bits,
                                                          crowded):
    rng = np.random.default_rng(3)
    keys = rng.integers(10**6, 2**33, 30_000)
    if crowded:  # most keys in one sub-bucket: the LSD fallback, next to tiny ones
        keys[:20_000] = rng.integers(2**32, 2**32 + 5000, 20_000)
    kmin = keys.min()
    n_bits = int(keys.max() - kmin).bit_length()
    out = _bucket_radix_sort(keys, kmin, n_bits, top_bits, sub_bits, digit_bits, 16)
    np.testing.assert_array_equal(out, np.sort(keys))


def test_lsd_pass_count_parity():
    # an odd and an even number of passes end in the scratch and in place respectively
    rng = np.random.default_rng(4)
    for n_bits in (9, 18, 27):
        a = rng.integers(0, 2**n_bits, 777)
        expect = np.sort(a)
        _lsd_radix.py_func(a, np.empty(777, np.int64), 0, n_bits, 9)
        np.testing.assert_array_equal(a, expect)
