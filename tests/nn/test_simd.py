"""The vector intrinsics of kernels/_simd.py, called directly from compiled code."""

import numba
import numpy as np
import pytest

from spikewave.kernels._simd import (
    LANES,
    LEFT_PACK,
    NARROW,
    compress_active,
    panel_lif_step,
    sum_panel_rows,
)


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


@numba.njit
def _panel_sum_for_test(src, idx, j0, j1, init, out):
    sum_panel_rows(src, idx, j0, j1, init, out)


@numba.njit
def _panel_step_for_test(src, idx, j0, j1, init, beta, vr, u, s, thr, subtract):
    panel_lif_step(src, idx, j0, j1, init, beta, vr, u, s, thr, subtract)


def _four_sums(src, idx, j0, j1, init):
    """What sum_panel_rows promises, added one value at a time in the array's dtype."""
    sums = [np.zeros(NARROW, src.dtype) for _ in range(4)]
    for j in range(j0, j1):
        sums[(j - j0) % 4] = sums[(j - j0) % 4] + src[idx[j]]
    return init + ((sums[0] + sums[1]) + (sums[2] + sums[3]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_panel_sums_keep_four_running_sums_in_their_order(dtype):
    rng = np.random.default_rng(1)
    scale = 10.0 ** rng.integers(-3, 4, (40, 1))  # rows of very different sizes
    src = (rng.standard_normal((40, NARROW)) * scale).astype(dtype)
    idx = rng.integers(0, 40, 30).astype(np.int64)
    init = rng.standard_normal(NARROW).astype(dtype)
    for j0, j1 in [(0, 0), (3, 4), (2, 5), (1, 8), (0, 9), (5, 27), (0, 30)]:
        out = np.full(NARROW + 2, 7.0, dtype)
        _panel_sum_for_test(src, idx, j0, j1, init, out)
        np.testing.assert_array_equal(out[:NARROW], _four_sums(src, idx, j0, j1, init))
        assert np.all(out[NARROW:] == 7.0)  # nothing written past 16 values


@pytest.mark.parametrize("subtract", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_panel_lif_step_is_the_membrane_step_of_the_sum(subtract, dtype):
    from spikewave.kernels.lif_fused import _membrane_row

    rng = np.random.default_rng(2)
    src = rng.standard_normal((20, NARROW)).astype(dtype)
    idx = rng.integers(0, 20, 11).astype(np.int64)
    init = rng.standard_normal(NARROW).astype(dtype)
    beta = rng.random(NARROW).astype(dtype)
    vr = rng.standard_normal(NARROW).astype(dtype)
    u, s = np.empty(NARROW, dtype), np.empty(NARROW, dtype)
    want_vr, want_u, want_s = vr.copy(), np.empty(NARROW, dtype), np.empty(NARROW, dtype)
    _membrane_row(beta, want_vr, _four_sums(src, idx, 0, 11, init), want_u, want_s,
                  dtype(0.5), 0 if subtract else 1)
    _panel_step_for_test(src, idx, 0, 11, init, beta, vr, u, s, dtype(0.5), subtract)
    assert 0 < want_s.sum() < NARROW
    for got, want in ((vr, want_vr), (u, want_u), (s, want_s)):
        np.testing.assert_array_equal(got, want)
