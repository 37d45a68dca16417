"""NaN, infinity, empty sequences and out-of-range parameters: a clear error from the
neuron functions instead of a silently wrong result; step and run check the same ranges;
simulations refuse up front what exceeds their budget.

(The calls that would fill the memory or run on without the budget are in
tests/fuzz/test_bombs.py, each under a memory cap.)"""

import math

import numpy as np
import pytest
import torch

from spikewave import ParameterError
from spikewave.neurons import (
    ALIFParams,
    HHParams,
    LIFParams,
    lif_discrete_run,
    lif_discrete_step,
    simulate_alif_clock,
    simulate_alif_exact,
    simulate_hh,
    simulate_lif_clock,
    simulate_lif_exact,
)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_run_refuses_non_finite_input(bad, kind):
    x = np.full((5, 3), 0.2)
    x[2, 1] = bad
    x = torch.from_numpy(x) if kind == "torch" else x
    with pytest.raises(ParameterError, match="'weighted_inputs'.*finite"):
        lif_discrete_run(x, 0.9)


def test_one_inf_with_the_zero_reset_would_leave_v_nan():
    """Why the check exists: inf fires, then (1 - 1) * inf is NaN for good."""
    with np.errstate(invalid="ignore"):
        v, s = lif_discrete_step(np.array([0.0]), np.array([np.inf]), 0.9, reset="zero")
    assert s.tolist() == [1.0] and np.isnan(v).all()
    with pytest.raises(ParameterError):
        lif_discrete_run(np.array([[np.inf], [0.1]]), 0.9)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_zero_time_steps_is_a_clear_error(kind):
    x = np.zeros((0, 4))
    x = torch.from_numpy(x) if kind == "torch" else x
    with pytest.raises(ParameterError, match=r"at least one time step \(T >= 1\)"):
        lif_discrete_run(x, 0.9)


@pytest.mark.parametrize(("v0", "match"), [
    (np.zeros(4), "'v0'"), (np.zeros((1, 3)), "'v0'"), (torch.zeros(3), "'v0'"),
    (np.array([0.0, np.nan, 0.0]), "'v0'"),
])
def test_v0_of_the_wrong_shape_kind_or_value(v0, match):
    with pytest.raises(ParameterError, match=match):
        lif_discrete_run(np.zeros((5, 3)), 0.9, v0=v0)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"beta": 2.0}, "'beta'"), ({"beta": -0.5}, "'beta'"), ({"beta": math.nan}, "'beta'"),
    ({"beta": True}, "'beta'"), ({"threshold": 0.0}, "'threshold'"),
    ({"threshold": -1.0}, "'threshold'"), ({"threshold": math.inf}, "'threshold'"),
    ({"reset": "hard"}, "'reset'"),
])
def test_step_and_run_check_the_same_ranges(kwargs, match):
    args = {"beta": 0.9, "threshold": 1.0, "reset": "zero"} | kwargs
    with pytest.raises(ParameterError, match=match):
        lif_discrete_step(np.zeros(3), np.ones(3), **args)
    with pytest.raises(ParameterError, match=match):
        lif_discrete_run(np.zeros((2, 3)), **args)


def test_step_takes_per_neuron_tensors_as_the_layers_pass_them():
    beta = torch.tensor([0.5, 0.9])
    thr = torch.tensor([1.0, 0.5])
    v, s = lif_discrete_step(torch.zeros(2), torch.tensor([0.7, 0.7]), beta, thr)
    assert s.tolist() == [0.0, 1.0]


def test_current_that_overflows_the_drive_is_refused():
    for call in (lambda: simulate_lif_exact(LIFParams(), 10.0, current_na=1e308),
                 lambda: simulate_lif_clock(LIFParams(), 10.0, 1e308),
                 lambda: simulate_alif_exact(ALIFParams(), 1e308, 10.0),
                 lambda: simulate_alif_clock(ALIFParams(), 1e308, 10.0)):
        with pytest.raises(ParameterError, match="'current_na'.*finite"):
            call()


def test_budget_errors_give_the_estimate_and_the_fix():
    from spikewave._budget import Budget, BudgetError

    with pytest.raises(BudgetError, match=r"simulate_hh would take 1e\+14 steps.*"
                                          r"budget=Budget\(max_steps="):
        simulate_hh(HHParams(), 10.0, 1e12)
    with pytest.raises(BudgetError, match="simulate_lif_clock"):
        simulate_lif_clock(LIFParams(), 100.0, 3.0, record_v=True, budget=Budget(max_bytes=1e3))
    run = simulate_lif_clock(LIFParams(), 100.0, 3.0, budget=Budget(max_steps=1e5))
    assert len(run.spike_times_ms[0]) > 0


def test_simulations_within_budget_are_unchanged():
    """The budget checks only refuse: results of ordinary runs are those of the closed
    forms."""
    from spikewave.neurons import lif_rate_hz

    p = LIFParams()
    spikes = simulate_lif_exact(p, 1000.0, current_na=3.0)
    assert abs(len(spikes) - lif_rate_hz(3.0, p)) <= 1
    hh = simulate_hh(HHParams(), 10.0, 50.0)
    assert hh.spike_times_ms.size >= 2


def test_clock_step_checks_what_the_clock_run_checks():
    from spikewave.neurons.lif import lif_clock_step

    v, left, cur = np.full(2, -65.0), np.zeros(2), np.full(2, 3.0)
    for kwargs, match in (({"dt_ms": 0.0}, "'dt_ms'"), ({"dt_ms": math.nan}, "'dt_ms'"),
                          ({"method": "rk4"}, "'method'")):
        args = {"dt_ms": 0.1, "method": "exact"} | kwargs
        with pytest.raises(ParameterError, match=match):
            lif_clock_step(v, left, cur, LIFParams(), **args)
        with pytest.raises(ParameterError, match=match):
            simulate_lif_clock(LIFParams(), 10.0, 3.0, **args)
