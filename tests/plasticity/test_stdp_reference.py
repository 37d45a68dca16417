"""STDP updates against pair sums computed by hand, here, for random spike trains.

With additive updates and bounds far away, the weight change of one synapse is a sum over
spike pairs of the window ``a_plus e^{-dt/tau_plus}`` (``dt = t_post - t_pre >= 0``) or
``-a_minus e^{dt/tau_minus}`` (``dt < 0``). Which pairs count is the pairing:

- all-to-all: every pair;
- nearest: each post spike with the latest pre spike at or before it, each pre spike with
  the latest post spike strictly before it;
- reduced-nearest: each post spike with the latest pre spike since the previous post spike,
  each pre spike with the latest post spike before it only if it is the first pre spike
  since that post spike.

At equal times the pre spike counts as first.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikewave.plasticity.stdp import STDPParams, apply_spike_pairs

FAR = {"w_min": -1e6, "w_max": 1e6}


def ltp(p, dt):
    return p.a_plus * math.exp(-dt / p.tau_plus_ms)


def ltd(p, dt):
    return p.a_minus * math.exp(-dt / p.tau_minus_ms)


def pair_sum(pre, post, p: STDPParams) -> float:
    """The weight change by the definition of each pairing (module docstring)."""
    pre, post = sorted(pre), sorted(post)
    dw = 0.0
    if p.pairing == "all-to-all":
        for tq in post:
            dw += sum(ltp(p, tq - tp) for tp in pre if tp <= tq)
        for tp in pre:
            dw -= sum(ltd(p, tp - tq) for tq in post if tq < tp)
        return dw
    for j, tq in enumerate(post):
        earlier = [tp for tp in pre if tp <= tq]
        if p.pairing == "reduced-nearest" and j > 0:
            earlier = [tp for tp in earlier if tp > post[j - 1]]
        if earlier:
            dw += ltp(p, tq - earlier[-1])
    for i, tp in enumerate(pre):
        before = [tq for tq in post if tq < tp]
        if not before:
            continue
        if p.pairing == "reduced-nearest" and i > 0 and pre[i - 1] > before[-1]:
            continue  # an earlier pre spike already used this post spike
        dw -= ltd(p, tp - before[-1])
    return dw


@st.composite
def trains(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    pre = rng.uniform(0.0, 200.0, int(rng.integers(0, 15)))
    post = rng.uniform(0.0, 200.0, int(rng.integers(0, 15)))
    p = STDPParams(tau_plus_ms=rng.uniform(2.0, 40.0), tau_minus_ms=rng.uniform(2.0, 60.0),
                   a_plus=rng.uniform(0.0, 0.1), a_minus=rng.uniform(0.0, 0.1),
                   pairing=str(rng.choice(["all-to-all", "nearest", "reduced-nearest"])),
                   **FAR)
    return pre, post, p


def _check(case):
    pre, post, p = case
    w = apply_spike_pairs(0.3, pre, post, p)
    assert w - 0.3 == pytest.approx(pair_sum(pre, post, p), rel=1e-10, abs=1e-13)


@settings(max_examples=150, deadline=None)
@given(trains())
def test_additive_updates_equal_the_pair_sums(case):
    _check(case)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None)
@given(trains())
def test_additive_updates_equal_the_pair_sums_long(case):
    _check(case)


def test_three_pairings_on_one_train_by_hand():
    """pre 0, 4; post 6, 9; pre 11: every pairing's sum written out."""
    pre, post = [0.0, 4.0, 11.0], [6.0, 9.0]
    base = STDPParams(tau_plus_ms=10.0, tau_minus_ms=20.0, a_plus=0.1, a_minus=0.05, **FAR)
    e = math.exp
    all_to_all = (0.1 * (e(-0.6) + e(-0.2) + e(-0.9) + e(-0.5))
                  - 0.05 * (e(-5 / 20) + e(-2 / 20)))
    nearest = 0.1 * (e(-0.2) + e(-0.5)) - 0.05 * e(-2 / 20)
    reduced = 0.1 * e(-0.2) - 0.05 * e(-2 / 20)
    for pairing, expected in (("all-to-all", all_to_all), ("nearest", nearest),
                              ("reduced-nearest", reduced)):
        w = apply_spike_pairs(0.0, pre, post, base.replace(pairing=pairing))
        assert w == pytest.approx(expected, rel=1e-13), pairing


def test_bounds_clip_after_each_event():
    """Potentiated past w_max (clipped to 1), then depressed from 1, not from 1.4."""
    p = STDPParams(a_plus=0.5, a_minus=0.25, tau_plus_ms=10.0, tau_minus_ms=10.0,
                   pairing="nearest")
    w = apply_spike_pairs(0.9, [0.0, 3.0], [1.0], p)
    assert w == pytest.approx(1.0 - 0.25 * math.exp(-0.2), rel=1e-13)
    low = apply_spike_pairs(0.1, [2.0, 2.5], [0.0], p.replace(w_min=0.05, a_minus=0.5))
    assert low == 0.05


def test_multiplicative_updates_scale_by_the_distance_to_the_bounds():
    """Soft bounds with w_min = 0.2, w_max = 0.9: potentiation by (w_max - w), depression
    by (w - w_min), each computed from the weight the previous event left."""
    p = STDPParams(a_plus=0.1, a_minus=0.2, tau_plus_ms=10.0, tau_minus_ms=10.0,
                   w_min=0.2, w_max=0.9, pairing="nearest", multiplicative=True)
    w1 = 0.5 + 0.1 * math.exp(-0.5) * (0.9 - 0.5)       # pre 0, post 5
    w2 = w1 + 0.1 * math.exp(-1.2) * (0.9 - w1)          # post 12 pairs with pre 0 again
    w3 = w2 - 0.2 * math.exp(-0.3) * (w2 - 0.2)          # pre 15, 3 ms after post 12
    assert apply_spike_pairs(0.5, [0.0, 15.0], [5.0, 12.0], p) == pytest.approx(w3, rel=1e-13)


# ----------------------------------------------------------------------------- R-STDP rates


def test_reward_rates_adapt_to_the_batch():
    from spikewave.plasticity.reward import RSTDPParams, adapted_rates

    p = RSTDPParams(reward_plus=0.004, reward_minus=-0.003, punish_plus=-0.004,
                    punish_minus=0.0005)
    # mostly right: rewards scaled by the misses (0.2), punishments by the hits (0.8)
    assert adapted_rates(p, 0.8, 0.2) == pytest.approx((0.0008, -0.0006, -0.0032, 0.0004),
                                                        rel=1e-12)
    assert adapted_rates(p, 1.0, 0.0) == pytest.approx((0.0, 0.0, -0.004, 0.0005))
    assert adapted_rates(p, 0.0, 1.0) == pytest.approx((0.004, -0.003, 0.0, 0.0))
    fixed = p.replace(adaptive=False)
    assert adapted_rates(fixed, 0.3, 0.7) == (0.004, -0.003, -0.004, 0.0005)
    from spikewave import ParameterError

    for hit, miss in ((1.01, 0.0), (0.5, -0.01)):
        with pytest.raises(ParameterError, match="fraction"):
            adapted_rates(p, hit, miss)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"reward_plus": 0.0}, "reward_plus"), ({"reward_minus": 0.0}, "reward_minus"),
    ({"punish_plus": 0.0}, "punish_plus"), ({"punish_minus": 0.0}, "punish_minus"),
    ({"w_min": 0.8, "w_max": 0.8}, "w_max"), ({"adaptive": 1}, "adaptive")])
def test_reward_parameters_are_checked(kwargs, name):
    from spikewave import ParameterError
    from spikewave.plasticity.reward import RSTDPParams

    with pytest.raises(ParameterError, match=f"'{name}'"):
        RSTDPParams(**kwargs)
    RSTDPParams(reward_plus=1e-9, reward_minus=-1e-9, punish_plus=-1e-9, punish_minus=1e-9)


def test_default_rule_is_masquelier_2008():
    p = STDPParams()
    assert (p.a_plus, p.a_minus) == (2.0**-5, 0.85 * 2.0**-5)
    assert (p.tau_plus_ms, p.tau_minus_ms) == (16.8, 33.7)
    assert (p.w_min, p.w_max, p.pairing, p.multiplicative) == (0.0, 1.0, "reduced-nearest",
                                                               False)


@pytest.mark.parametrize("pairing", ["all-to-all", "nearest", "reduced-nearest"])
def test_unit_amplitudes(pairing):
    """Traces of value exactly 1 (amplitudes of 1) are used like any other value."""
    p = STDPParams(a_plus=1.0, a_minus=1.0, tau_plus_ms=10.0, tau_minus_ms=10.0,
                   pairing=pairing, **FAR)
    assert apply_spike_pairs(0.0, [0.0], [5.0], p) == pytest.approx(math.exp(-0.5))
    assert apply_spike_pairs(0.0, [5.0], [0.0], p) == pytest.approx(-math.exp(-0.5))
