"""Activity regularisation: push spiking layers towards sparse, bounded activity.

Given the spikes ``S[T, B, ...]`` of a layer:

- :func:`spike_count_l1` -- mean over the batch of the total spike count (``sum |S|``).
- :func:`spike_count_l2` -- mean over the batch of the sum of squared per-neuron counts,
  which penalises neurons that fire a lot more than many neurons that fire a little.
- :func:`rate_bounds` -- per-neuron bounds on the mean count per sample (Zenke & Vogels
  2021): ``sum_i relu(low - c_i)^2 + relu(c_i - high)^2`` with ``c_i`` the count of neuron
  ``i`` averaged over the batch; silent neurons are pulled up, hyperactive ones down.

Add ``strength * penalty`` to the task loss.
"""

from __future__ import annotations

import torch

from spikewave._validation import NON_NEGATIVE, check_number, fail


def _counts(spikes: torch.Tensor) -> torch.Tensor:
    if spikes.dim() < 2:
        raise fail("spikes", f"a tensor of shape {tuple(spikes.shape)}", "[T, B, ...]")
    return spikes.sum(0)  # [B, ...]


def spike_count_l1(spikes: torch.Tensor) -> torch.Tensor:
    counts = _counts(spikes)
    return counts.abs().flatten(1).sum(1).mean()


def spike_count_l2(spikes: torch.Tensor) -> torch.Tensor:
    counts = _counts(spikes)
    return counts.pow(2).flatten(1).sum(1).mean()


def rate_bounds(spikes: torch.Tensor, low: float = 0.0, high: float = float("inf")
                ) -> torch.Tensor:
    lo = check_number("low", low, NON_NEGATIVE)
    hi = float(high)
    if not hi > lo:
        raise fail("high", high, f"above low = {lo:g}")
    mean_count = _counts(spikes).mean(0)  # per neuron
    under = torch.relu(lo - mean_count).pow(2)
    over = torch.relu(mean_count - hi).pow(2) if hi != float("inf") else 0 * mean_count
    return (under + over).sum()
