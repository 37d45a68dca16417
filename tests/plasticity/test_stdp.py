"""STDP rules: the window, the three pairings, bounds."""

import math

import numpy as np
import pytest

from spikewave import ParameterError
from spikewave.plasticity.stdp import STDPParams, apply_spike_pairs, stdp_window

P = STDPParams()


@pytest.mark.parametrize("pairing", ["all-to-all", "nearest", "reduced-nearest"])
@pytest.mark.parametrize("dt", [-60.0, -10.0, -0.5, 0.0, 0.5, 10.0, 60.0])
def test_single_pair_follows_the_window(pairing, dt):
    p = P.replace(pairing=pairing)
    w = apply_spike_pairs(0.5, [100.0], [100.0 + dt], p)
    expected = 0.5 + (P.a_plus * math.exp(-dt / P.tau_plus_ms) if dt >= 0
                      else -P.a_minus * math.exp(dt / P.tau_minus_ms))
    assert w == pytest.approx(expected, rel=1e-12)
    assert float(stdp_window(dt, p)) == pytest.approx(expected - 0.5, rel=1e-12)


def test_pairings_differ_as_documented():
    ap, am, tp, tm = P.a_plus, P.a_minus, P.tau_plus_ms, P.tau_minus_ms
    # two pre spikes, then a post spike
    pre, post = [0.0, 5.0], [10.0]
    ltp_last = ap * math.exp(-5.0 / tp)
    ltp_first = ap * math.exp(-10.0 / tp)
    assert apply_spike_pairs(0.5, pre, post, P.replace(pairing="all-to-all")) == \
        pytest.approx(0.5 + ltp_last + ltp_first)
    assert apply_spike_pairs(0.5, pre, post, P.replace(pairing="nearest")) == \
        pytest.approx(0.5 + ltp_last)
    assert apply_spike_pairs(0.5, pre, post, P) == pytest.approx(0.5 + ltp_last)
    # a post spike, then two pre spikes: reduced-nearest depresses once only
    pre, post = [5.0, 10.0], [0.0]
    ltd1, ltd2 = am * math.exp(-5.0 / tm), am * math.exp(-10.0 / tm)
    assert apply_spike_pairs(0.5, pre, post, P) == pytest.approx(0.5 - ltd1)
    assert apply_spike_pairs(0.5, pre, post, P.replace(pairing="nearest")) == \
        pytest.approx(0.5 - ltd1 - ltd2)
    # reduced-nearest: one pre, two posts -> potentiated once (the trace is used up)
    assert apply_spike_pairs(0.5, [0.0], [5.0, 10.0], P) == \
        pytest.approx(0.5 + ap * math.exp(-5.0 / tp))
    assert apply_spike_pairs(0.5, [0.0], [5.0, 10.0], P.replace(pairing="nearest")) == \
        pytest.approx(0.5 + ap * (math.exp(-5.0 / tp) + math.exp(-10.0 / tp)))


def test_bounds_and_multiplicative_rule():
    big = P.replace(a_plus=0.5, a_minus=0.5)
    assert apply_spike_pairs(0.9, [0.0], [0.0], big) == 1.0
    assert apply_spike_pairs(0.1, [1.0], [0.0], big) == 0.0
    mult = P.replace(multiplicative=True)
    w = apply_spike_pairs(0.8, [0.0], [2.0], mult)
    assert w == pytest.approx(0.8 + P.a_plus * math.exp(-2.0 / P.tau_plus_ms) * 0.2)
    w = apply_spike_pairs(0.8, [2.0], [0.0], mult)
    assert w == pytest.approx(0.8 - P.a_minus * math.exp(-2.0 / P.tau_minus_ms) * 0.8)


def test_bad_parameters():
    with pytest.raises(ParameterError, match="pairing"):
        STDPParams(pairing="nearest-ish")
    with pytest.raises(ParameterError, match="a_minus"):
        STDPParams(a_minus=-0.1)
    with pytest.raises(ParameterError, match="w_max"):
        STDPParams(w_min=1.0, w_max=0.5)
    with pytest.raises(ParameterError, match="tau_plus_ms"):
        STDPParams(tau_plus_ms=0.0)
    assert np.all(np.isfinite(P.as_array()))
