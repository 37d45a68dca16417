"""Spike rasters: one dot per spike, time on x, neuron (or afferent) index on y."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes

from spikewave._validation import check_array, fail
from spikewave.plot import new_figure


def raster(spike_times_ms, neuron_indices, ax: Axes | None = None, *, marker_size: float = 12.0,
           color: str = "k", highlight=None, highlight_color: str = "C3") -> Axes:
    """Draw a raster of spikes ``(spike_times_ms[k], neuron_indices[k])``; returns the Axes.

    ``highlight`` is an optional boolean mask of the same length; those spikes are drawn in
    ``highlight_color`` (e.g. the spikes belonging to a repeated pattern).
    """
    times = check_array("spike_times_ms", spike_times_ms, ndim=1)
    idx = check_array("neuron_indices", neuron_indices, ndim=1)
    if idx.shape != times.shape:
        raise fail("neuron_indices", f"array of shape {idx.shape}",
                   f"the shape of spike_times_ms, {times.shape}")
    if ax is None:
        _, ax = new_figure(width=8, height=4)
    mask = np.zeros(times.shape, bool) if highlight is None else np.asarray(highlight, bool)
    ax.scatter(times[~mask], idx[~mask], s=marker_size, c=color, marker="|", linewidths=0.6)
    if mask.any():
        ax.scatter(times[mask], idx[mask], s=marker_size, c=highlight_color, marker="|",
                   linewidths=0.6)
    ax.set(xlabel="time (ms)", ylabel="neuron")
    return ax
