"""The Masquelier et al. 2008 input: statistics, pattern copies, slots, determinism."""

import numpy as np
import pytest

from spikewave import ParameterError
from spikewave.sim import masquelier_input
from spikewave.sim.fastrng import seed_state
from spikewave.sim.masquelier_input import (
    PatternInputParams,
    _drifting_trains,
    make_pattern_input,
    pattern_slots,
)

SMALL = PatternInputParams(n_afferents=200, block_s=20.0)


def test_drifting_trains_rate_and_forced_spikes():
    times, aff = _drifting_trains(100, 20_000, 1.0, 90.0, 50.0, 1800.0,
                                  seed_state(np.random.default_rng(0)))
    rate = times.size / 100 / 20.0
    assert 48.0 < rate < 60.0  # about 54 Hz (the 50 ms rule lifts it above 45)
    for i in range(100):
        isi = np.diff(np.sort(times[aff == i]))
        assert isi.max() <= 51.0  # silent 50 ms -> a spike in the next 1 ms step


@pytest.mark.parametrize("freq", [0.05, 0.25, 0.5])
def test_pattern_slots_never_consecutive(freq):
    slots = pattern_slots(400, freq, np.random.default_rng(1))
    assert slots.size == int(400 * freq)
    assert np.all(np.diff(slots) >= 2)


def test_copies_without_jitter_are_exact():
    block = make_pattern_input(SMALL.replace(jitter_ms=0.0), 7)
    tr = block.trains
    ref_order = np.lexsort((block.pattern_times_ms, block.pattern_afferents))
    for onset in block.pattern_onsets_ms[1:5]:
        sel = block.is_pattern_spike & (tr.times_ms >= onset) & (tr.times_ms < onset + 50.0)
        order = np.lexsort((tr.times_ms[sel], tr.afferents[sel]))
        np.testing.assert_array_equal(tr.afferents[sel][order],
                                      block.pattern_afferents[ref_order])
        # times are kept to 2^-20 ms
        np.testing.assert_allclose(tr.times_ms[sel][order] - onset,
                                   block.pattern_times_ms[ref_order], atol=2e-6)
        # only pattern afferents carry copies
        assert tr.afferents[sel].max() < block.n_pattern


def test_statistics_and_determinism():
    block = make_pattern_input(SMALL, 3)
    rates = block.trains.rates_hz()
    assert 58.0 < rates.mean() < 70.0  # about 64 Hz = 54 + 10 Hz noise
    # pattern and non-pattern afferents have the same mean rate
    assert abs(rates[:100].mean() - rates[100:].mean()) < 5.0
    assert block.pattern_onsets_ms.size == int(400 * 0.25)
    again = make_pattern_input(SMALL, 3)
    np.testing.assert_array_equal(block.trains.times_ms, again.trains.times_ms)
    other = make_pattern_input(SMALL, 4)
    assert len(other.trains) != len(block.trains)


def test_bad_parameters():
    with pytest.raises(ParameterError, match="pattern_freq"):
        PatternInputParams(pattern_freq=0.7)
    with pytest.raises(ParameterError, match="jitter_ms"):
        PatternInputParams(jitter_ms=-1.0)
    with pytest.raises(ParameterError, match="n_afferents"):
        PatternInputParams(n_afferents=10.5)


def test_fused_key_path_equals_the_general_sort(monkeypatch):
    """The fused pack/radix-sort path and the general fallback (keep mask, sort_spikes)
    give the same block, with several patterns (each replacing its own afferents)."""
    params = SMALL.replace(n_patterns=2, jitter_ms=0.5)
    fused = make_pattern_input(params, 11)
    monkeypatch.setattr(masquelier_input, "SORT_SCALE", 2.0**60)  # keys would overflow
    general = make_pattern_input(params, 11)
    np.testing.assert_array_equal(fused.trains.times_ms, general.trains.times_ms)
    np.testing.assert_array_equal(fused.trains.afferents, general.trains.afferents)
    np.testing.assert_array_equal(fused.is_pattern_spike, general.is_pattern_spike)
    # no drift spike of a pattern's afferents is left inside that pattern's slots
    tr = fused.trains
    slot = np.minimum(tr.times_ms // 50.0, params.n_slots - 1).astype(int)
    for onset, q in zip(fused.pattern_onsets_ms, fused.pattern_ids, strict=True):
        inside = (slot == int(onset // 50.0)) & ~fused.is_pattern_spike
        own = fused.pattern_members[q][tr.afferents[inside]]
        # what is left there is the 10 Hz noise (about 50 spikes), not the ~54 Hz drift
        assert own.sum() < 2 * 10.0 * 0.05 * fused.n_pattern
