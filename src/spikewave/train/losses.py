"""Losses for spiking classifiers on ``[T, B, classes]`` outputs.

- :func:`spike_count_ce` -- cross-entropy on the spike counts of the output neurons.
- :func:`max_over_time_ce` -- cross-entropy on ``max_t v[t]`` of a non-spiking readout.
- :func:`mean_potential_ce` -- cross-entropy on the time-averaged readout potential.
- :func:`first_spike_ce` -- the earliest output spike names the class: cross-entropy on
  ``-t_first / temperature``, where ``t_first = sum_t prod_{s <= t} (1 - S[s])`` counts
  the steps before the first spike (``T`` if none). The product is differentiable through
  the surrogate, so an earlier spike of the right neuron is what the gradient asks for.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spikewave._validation import POSITIVE, check_number, fail


def _check(outputs: torch.Tensor, labels: torch.Tensor, name: str) -> None:
    if outputs.dim() != 3:
        raise fail(name, f"a tensor of shape {tuple(outputs.shape)}", "[T, B, classes]")
    if outputs.shape[0] == 0:
        raise fail(name, "a tensor with T = 0", "at least one time step")
    if labels.shape != (outputs.shape[1],):
        raise fail("labels", f"shape {tuple(labels.shape)}", f"[B] = [{outputs.shape[1]}]")
    if not torch.isfinite(outputs).all():
        raise fail(name, "a tensor with NaN or inf", "finite values")


def spike_count_ce(spikes: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    _check(spikes, labels, "spikes")
    return F.cross_entropy(spikes.sum(0), labels)


def max_over_time_ce(potentials: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    _check(potentials, labels, "potentials")
    return F.cross_entropy(potentials.amax(0), labels)


def mean_potential_ce(potentials: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    _check(potentials, labels, "potentials")
    return F.cross_entropy(potentials.mean(0), labels)


def first_spike_times(spikes: torch.Tensor) -> torch.Tensor:
    """Differentiable steps before the first spike, ``[B, classes]`` (``T`` if silent)."""
    not_yet = torch.cumprod(1 - spikes, dim=0)
    return not_yet.sum(0)


def first_spike_ce(spikes: torch.Tensor, labels: torch.Tensor,
                   temperature: float = 1.0) -> torch.Tensor:
    _check(spikes, labels, "spikes")
    tau = check_number("temperature", temperature, POSITIVE)
    return F.cross_entropy(-first_spike_times(spikes) / tau, labels)
