"""The discrete LIF with thresholds, decays and resets away from 1, against a scalar loop
written here from the lecture's equations (a missing threshold factor in the reset or the
spike condition shows only when the threshold is not 1)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikewave.neurons.discrete_lif import (
    first_spike_step_constant_input,
    lif_discrete_run,
    lif_discrete_step,
)


def scalar_loop(x, beta, threshold, reset, v0=0.0):
    """``V <- beta V + x; S = [V >= thr]; V <- 0 or V - thr`` on a list of inputs."""
    v, spikes, trace = v0, [], []
    for xt in x:
        v = beta * v + xt
        s = 1.0 if v >= threshold else 0.0
        if s:
            v = 0.0 if reset == "zero" else v - threshold
        spikes.append(s)
        trace.append(v)
    return spikes, trace


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), beta=st.floats(0.0, 1.0),
       threshold=st.floats(0.05, 20.0), reset=st.sampled_from(["zero", "subtract"]))
def test_run_equals_the_scalar_loop(seed, beta, threshold, reset):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.4, 0.6, (60, 3)) * threshold
    v0 = rng.uniform(-1.0, 1.0, 3) * threshold
    s, v = lif_discrete_run(x, beta, threshold, reset, v0=v0)
    s_t, v_t = lif_discrete_run(torch.tensor(x), beta, threshold, reset,
                                v0=torch.tensor(v0))
    for j in range(3):
        ref_s, ref_v = scalar_loop(x[:, j], beta, threshold, reset, v0[j])
        np.testing.assert_array_equal(s[:, j], ref_s)
        np.testing.assert_allclose(v[:, j], ref_v, rtol=1e-12, atol=1e-12 * threshold)
        np.testing.assert_array_equal(s_t[:, j].numpy(), ref_s)
        np.testing.assert_allclose(v_t[:, j].numpy(), ref_v, rtol=1e-12,
                                   atol=1e-12 * threshold)


def test_subtract_reset_removes_the_threshold_not_one():
    v, s = lif_discrete_step(np.array([0.0, 0.0]), np.array([3.0, 2.4]), 0.5, threshold=2.5,
                             reset="subtract")
    np.testing.assert_array_equal(s, [1.0, 0.0])
    np.testing.assert_allclose(v, [0.5, 2.4])
    v, s = lif_discrete_step(np.array([1.0]), np.array([2.0]), 0.5, threshold=2.5)
    np.testing.assert_array_equal(s, [1.0])  # 0.5 + 2.0 reaches 2.5 exactly: fires
    np.testing.assert_array_equal(v, [0.0])


@pytest.mark.parametrize(("x", "beta", "threshold"), [(0.3, 0.9, 2.0), (1.1, 0.5, 2.0),
                                                      (0.05, 0.99, 0.7), (0.4, 1.0, 3.0)])
def test_first_spike_step_with_other_thresholds(x, beta, threshold):
    n = first_spike_step_constant_input(x, beta, threshold)
    spikes, _ = scalar_loop([x] * 500, beta, threshold, "zero")
    assert n == spikes.index(1.0) + 1
    # V just before firing is below threshold, at firing at or above it
    v = [x * sum(beta**k for k in range(m)) for m in (n - 1, n)]
    assert v[0] < threshold <= v[1] + 1e-12


def test_first_spike_step_never_fires_below_the_fixed_point():
    # V tends to x / (1 - beta) = 1.5 < 2
    assert math.isinf(first_spike_step_constant_input(0.3, 0.8, 2.0))
    assert first_spike_step_constant_input(0.3, 0.8, 1.4) < math.inf
    assert first_spike_step_constant_input(2.5, 0.0, 2.0) == 1
    assert math.isinf(first_spike_step_constant_input(1.5, 0.0, 2.0))
    assert math.isinf(first_spike_step_constant_input(-1.0, 1.0, 2.0))
