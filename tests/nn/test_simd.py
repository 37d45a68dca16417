"""The vector intrinsics of kernels/_simd.py, called directly from compiled code."""

import numba
import numpy as np
import pytest

from spikewave.kernels._simd import LANES, LEFT_PACK, compress_active


@numba.njit
def _compress_for_test(row, start, out, n, one):
    return compress_active(row, start, LEFT_PACK, out, n, one)


@pytest.mark.parametrize("int_type, float_type", [(np.int32, np.float32),
                                                  (np.int64, np.float64)])
def test_compress_active_writes_the_positions_of_the_nonzero_values(int_type, float_type):
    rng = np.random.default_rng(0)
    one = np.array(1.0, float_type).view(int_type)[()]
    for _ in range(200):
        values = (rng.random(3 * LANES) < 0.4).astype(float_type)
        values[rng.random(3 * LANES) < 0.2] = -0.0  # the sign bit alone: inactive
        row = values.view(int_type)
        out = np.full(3 * LANES + LANES, -7, np.int64)
        start, n = LANES, 5
        found = _compress_for_test(row, start, out, n, one)
        want = start + np.flatnonzero(values[start:start + LANES])
        assert found == len(want)  # no value other than 0 and 1: no flag
        assert np.array_equal(out[n:n + found], want)
        assert np.all(out[:n] == -7)  # nothing before n written


def test_compress_active_flags_a_value_that_is_neither_0_nor_1():
    one = np.array(1.0, np.float32).view(np.int32)[()]
    for bad in (0.5, -1.0, 2.0, np.inf, np.nan):
        values = np.zeros(LANES, np.float32)
        values[[1, 6]] = 1.0
        values[3] = bad
        found = _compress_for_test(values.view(np.int32), 0, np.zeros(LANES, np.int64), 0, one)
        assert found & 255 == 3 and found >= 256


def test_compress_active_takes_contiguous_arrays_only():
    one = np.array(1.0, np.float32).view(np.int32)[()]
    strided = np.zeros(2 * LANES, np.int32)[::2]
    with pytest.raises(numba.core.errors.TypingError):
        _compress_for_test(strided, 0, np.zeros(LANES, np.int64), 0, one)
