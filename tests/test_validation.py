"""Every parameter record rejects bad values with one clear error naming the parameter."""

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spikewave import ParameterError
from spikewave._validation import Interval, check_array, check_choice, check_int, check_number
from spikewave.neurons import ALIFParams, HHParams, LIFParams, SRMParams

RECORDS = [LIFParams, ALIFParams, HHParams, SRMParams]

non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
non_numbers = st.sampled_from(["1.0", None, [1.0], True, complex(1, 1)])


def interval_fields(record):
    return [f for f in dataclasses.fields(record) if "interval" in f.metadata]


@pytest.mark.parametrize("record", RECORDS)
@given(bad=st.one_of(non_finite, non_numbers))
def test_non_finite_or_non_numeric_values_are_rejected(record, bad):
    for f in interval_fields(record):
        with pytest.raises(ParameterError, match=f"'{f.name}' parameter of {record.__name__}"):
            record(**{f.name: bad})


@pytest.mark.parametrize("record", RECORDS)
@given(x=st.floats(min_value=-1e6, max_value=0.0))
def test_positive_fields_reject_non_positive_values(record, x):
    for f in interval_fields(record):
        iv = f.metadata["interval"]
        if iv.low == 0.0 and iv.closed == "neither":
            with pytest.raises(ParameterError, match=f.name) as err:
                record(**{f.name: x})
            assert "(0, inf)" in str(err.value) and "Got" in str(err.value)


@given(x=st.floats(max_value=-1e-12, min_value=-1e6))
def test_negative_refractory_period_is_rejected(x):
    with pytest.raises(ParameterError, match="t_ref_ms"):
        LIFParams(t_ref_ms=x)


@given(v_th=st.floats(min_value=-200, max_value=-65.0))
def test_threshold_at_or_below_reset_is_rejected(v_th):
    with pytest.raises(ParameterError, match="v_th_mv.*v_reset_mv"):
        LIFParams(v_th_mv=v_th, v_reset_mv=-65.0)


def test_records_are_frozen_and_ints_become_floats():
    p = LIFParams(tau_m_ms=20)
    assert isinstance(p.tau_m_ms, float) and p.tau_m_ms == 20.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.tau_m_ms = 5.0  # type: ignore[misc]
    assert p.replace(tau_m_ms=5).tau_m_ms == 5.0
    with pytest.raises(ParameterError):
        p.replace(tau_m_ms=-5)


def test_cross_field_rules():
    with pytest.raises(ParameterError, match="tau_s_ms"):
        SRMParams(tau_s_ms=10.0, tau_m_ms=10.0)
    with pytest.raises(ParameterError, match="e_k_mv"):
        HHParams(e_k_mv=60.0)
    with pytest.raises(ParameterError, match="lif"):
        ALIFParams(lif="not params")  # type: ignore[arg-type]


def test_helpers_message_format():
    with pytest.raises(ParameterError) as err:
        check_number("dt_ms", -1.0, Interval(0, math.inf), "simulate")
    assert str(err.value) == ("The 'dt_ms' parameter of simulate must be a finite number in "
                              "(0, inf). Got -1.0.")
    with pytest.raises(ParameterError, match=r"an integer in \[0, 5\]"):
        check_int("n", 7, 0, 5)
    with pytest.raises(ParameterError, match="one of 'a', 'b'"):
        check_choice("mode", "c", ["a", "b"])
    with pytest.raises(ParameterError, match="finite"):
        check_array("x", [1.0, math.nan])
    with pytest.raises(ParameterError, match="dimension"):
        check_array("x", [[1.0]], ndim=1)
    with pytest.raises(ParameterError, match=r"\[0, 1\]"):
        check_array("x", [0.5, 2.0], interval=Interval(0, 1, "both"))
    assert check_array("x", [1, 2]).dtype.kind == "f"


def test_parameter_and_result_records_are_immutable():
    """Records are values (frozen dataclasses): changing a field raises, so a record shared
    between runs or threads cannot be changed under them."""
    import numpy as np

    from spikewave.experiments.masquelier2008 import Evaluation
    from spikewave.neurons.adaptive import ALIFRun, ALIFTrace
    from spikewave.neurons.hodgkin_huxley import HHRun
    from spikewave.neurons.lif import ClockRun
    from spikewave.plasticity.reward import RSTDPParams
    from spikewave.plasticity.stdp import STDPParams
    from spikewave.sim.eventdriven import EventDrivenRun, SRMNetworkState
    from spikewave.train.loop import TrainConfig

    empty = np.empty(0)
    values = [LIFParams(), ALIFParams(), HHParams(), SRMParams(), STDPParams(), RSTDPParams(),
              TrainConfig(), ClockRun([]), ALIFRun(empty, empty),
              ALIFTrace(empty, empty, empty, empty), HHRun(empty, empty),
              SRMNetworkState.initial(np.ones((1, 2))),
              EventDrivenRun(None, empty, empty, empty, empty),
              Evaluation(True, 1.0, 0, 4.0, 1.0, 1, 1)]
    for value in values:
        name = dataclasses.fields(value)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, name, getattr(value, name))
