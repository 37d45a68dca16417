"""Activity regularisation: push spiking layers towards sparse, bounded activity.

Given the spikes ``S[T, B, ...]`` of a layer:

- :func:`spike_count_l1` -- mean over the batch of the total spike count (``sum |S|``).
- :func:`spike_count_l2` -- mean over the batch of the sum of squared per-neuron counts,
  which penalises neurons that fire a lot more than many neurons that fire a little.
- :func:`rate_bounds` -- per-neuron bounds on the mean count per sample (Zenke & Vogels
  2021): ``sum_i relu(low - c_i)^2 + relu(c_i - high)^2`` with ``c_i`` the count of neuron
  ``i`` averaged over the batch; silent neurons are pulled up, hyperactive ones down.
- :func:`early_decision_loss` -- a latency term on the readout: the cross-entropy of the
  running mean of the readout at every step, averaged over the steps. The task loss of
  ``spikewave train`` judges the mean over all ``T`` steps only; this term also charges
  every step at which the running mean does not yet point clearly to the label, so it
  rewards decisions that are right early and stay right.

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


def early_decision_loss(readout: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The per-step cross-entropy of the running mean of a readout ``[T, B, C]``:

        L = (1 / T) sum_{t=0}^{T-1} CE(m_t, y),   m_t = (1 / (t + 1)) sum_{s<=t} v_s,

    averaged over the batch, where ``CE(m, y) = -log softmax(m)_y``. At ``t = T - 1`` the
    term is the task loss itself; the earlier steps make it a time-to-decision penalty.
    Applying the loss at every step rather than at the end follows the local per-step
    losses of DECOLLE (Kaiser, Mostafa & Neftci 2020, Front. Neurosci. 14:424, applied
    at every time step); Goltz et al. 2021 (Nature Machine Intelligence, doi
    10.1038/s42256-021-00388-x) aim at the same end, few and early spikes, with
    time-to-first-spike coding. See docs/references.md section 11.
    """
    if readout.dim() != 3:
        raise fail("readout", f"a tensor of shape {tuple(readout.shape)}", "[T, B, C]")
    if labels.shape != readout.shape[1:2]:
        raise fail("labels", f"a tensor of shape {tuple(labels.shape)}",
                   f"[B] = [{readout.shape[1]}] (one label per sample)")
    steps = readout.shape[0]
    count = torch.arange(1, steps + 1, dtype=readout.dtype, device=readout.device)
    running = readout.cumsum(0) / count.view(-1, 1, 1)
    ce = torch.nn.functional.cross_entropy(running.flatten(0, 1), labels.repeat(steps),
                                           reduction="none")
    return ce.view(steps, -1).mean()
