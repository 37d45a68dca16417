"""The lecture's discrete-time LIF: closed forms, conservation, NumPy/torch parity."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikewave import ParameterError
from spikewave.neurons.discrete_lif import (
    beta_from_tau,
    first_spike_step_constant_input,
    heaviside,
    lif_discrete_run,
    lif_discrete_step,
)


def test_beta_is_exp_minus_dt_over_tau():
    assert beta_from_tau(20.0, 1.0) == pytest.approx(math.exp(-1 / 20))
    with pytest.raises(ParameterError, match="tau_ms"):
        beta_from_tau(0.0, 1.0)
    with pytest.raises(ParameterError, match="dt_ms"):
        beta_from_tau(10.0, -1.0)


def test_heaviside_fires_at_exactly_threshold_and_keeps_dtype():
    x = np.array([-1e-12, 0.0, 1e-12], dtype=np.float32)
    np.testing.assert_array_equal(heaviside(x), [0, 1, 1])
    assert heaviside(x).dtype == np.float32
    t = torch.tensor([-1.0, 0.0], dtype=torch.float64)
    assert heaviside(t).dtype == torch.float64 and heaviside(t).tolist() == [0.0, 1.0]


@settings(max_examples=60, deadline=None)
@given(x=st.floats(0.01, 2.0), beta=st.floats(0.5, 0.99))
def test_first_spike_step_matches_closed_form(x, beta):
    n_expected = first_spike_step_constant_input(x, beta, 1.0)
    T = 400
    spikes, _ = lif_discrete_run(np.full((T, 1), x), beta, 1.0)
    fired = np.flatnonzero(spikes[:, 0])
    # V[n] = x (1 - beta^n) / (1 - beta); skip cases within rounding of the threshold
    if math.isfinite(n_expected) and n_expected <= T:
        v_at = x * (1 - beta ** n_expected) / (1 - beta)
        if abs(v_at - 1.0) > 1e-9:
            assert fired[0] + 1 == n_expected
    elif math.isinf(n_expected) and x / (1 - beta) < 1.0 - 1e-9:
        assert fired.size == 0


def test_reset_to_zero_and_by_subtraction():
    x = np.array([[0.7], [0.7], [0.0]])
    s, v = lif_discrete_run(x, beta=1.0, threshold=1.0, reset="zero")
    np.testing.assert_allclose(v[:, 0], [0.7, 0.0, 0.0])
    np.testing.assert_array_equal(s[:, 0], [0, 1, 0])
    s, v = lif_discrete_run(x, beta=1.0, threshold=1.0, reset="subtract")
    np.testing.assert_allclose(v[:, 0], [0.7, 0.4, 0.4])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_subtract_reset_without_leak_conserves_charge(seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 0.6, (200, 8))
    s, v = lif_discrete_run(x, beta=1.0, threshold=1.0, reset="subtract")
    # every unit of input is either still in V or was paid out as a spike of size threshold
    np.testing.assert_allclose(x.sum(0), v[-1] + s.sum(0), rtol=1e-12)
    assert np.all(v < 1.0)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_and_numpy_give_the_same_spikes(reset, dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(0.3, 0.4, (100, 4, 16))
    s_np, v_np = lif_discrete_run(x, 0.9, 1.0, reset)
    s_t, v_t = lif_discrete_run(torch.tensor(x, dtype=dtype), 0.9, 1.0, reset)
    assert s_t.dtype == dtype and v_t.shape == (100, 4, 16)
    if dtype == torch.float64:
        np.testing.assert_array_equal(s_t.numpy(), s_np)
        np.testing.assert_allclose(v_t.numpy(), v_np, rtol=1e-12, atol=1e-12)
    else:  # float32 may flip a spike within rounding of the threshold
        assert np.mean(s_t.numpy() != s_np) < 1e-3


def test_step_accepts_a_surrogate_spike_function():
    v = torch.zeros(3, requires_grad=True)
    x = torch.tensor([0.5, 1.0, 1.5], requires_grad=True)

    def smooth(u):
        return torch.sigmoid(10 * u)

    v1, s = lif_discrete_step(v, x, 0.9, 1.0, "zero", spike_fn=smooth)
    s.sum().backward()
    assert x.grad is not None and torch.all(x.grad > 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"beta": 1.5}, "beta"), ({"beta": -0.1}, "beta"), ({"threshold": 0.0}, "threshold"),
     ({"threshold": math.nan}, "threshold"), ({"reset": "hard"}, "reset")],
)
def test_run_rejects_bad_parameters(kwargs, match):
    args = {"beta": 0.9, "threshold": 1.0, "reset": "zero"} | kwargs
    with pytest.raises(ParameterError, match=match):
        lif_discrete_run(np.zeros((5, 2)), **args)


def test_run_rejects_integer_or_scalar_input():
    with pytest.raises(ParameterError, match="floating"):
        lif_discrete_run(np.zeros((5, 2), dtype=int), 0.9)
    with pytest.raises(ParameterError, match="time axis"):
        lif_discrete_run(np.float64(1.0), 0.9)
