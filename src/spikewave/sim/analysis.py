"""Analysis of output spike trains against the input they were given."""

from __future__ import annotations

import numpy as np


def spike_latencies_ms(spike_times_ms: np.ndarray, onsets_ms: np.ndarray,
                       pattern_ms: float = 50.0) -> np.ndarray:
    """Latency of each output spike after the last pattern onset before it (ms); NaN for a
    spike outside every pattern period (a false alarm). ``onsets_ms`` sorted."""
    idx = np.searchsorted(onsets_ms, spike_times_ms, side="right") - 1
    lat = spike_times_ms - onsets_ms[np.maximum(idx, 0)]
    return np.where((idx >= 0) & (lat <= pattern_ms), lat, np.nan)
