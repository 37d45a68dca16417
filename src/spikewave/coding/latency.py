"""Intensity-to-latency coding: the spike wave.

Each input neuron fires at most once; the stronger its intensity, the earlier. Times are in
discrete bins ``0 .. T-1``; a neuron with intensity ``<= 0`` never fires (its time is
``inf``). Two conversions:

- ``"rank"`` (SpykeTorch's ``Intensity2Latency``): per image, the positive intensities are
  sorted in decreasing order and split into ``T`` bins of (nearly) equal count, so every bin
  carries the same number of spikes whatever the contrast.
- ``"linear"``: ``t = floor(T (1 - x / x_max))`` per image, capped at ``T - 1`` -- latency
  falls linearly with intensity.

The spike wave is the ``[T, B, ...]`` tensor ``S[t] = (time <= t)``: cumulative, as a
non-leaky integrate-and-fire layer sees it (a neuron that fired stays counted). The inverse
view, :func:`first_spike_times`, turns a wave back into a time map for plotting.
"""

from __future__ import annotations

import torch

from spikewave._validation import check_choice, check_int, fail

MODES = ("rank", "linear")


def intensity_to_latency(intensity: torch.Tensor, time_steps: int,
                         mode: str = "rank") -> torch.Tensor:
    """First-spike times ``[B, ...]`` (float, ``inf`` = never) of intensities ``[B, ...]``."""
    t = check_int("time_steps", time_steps, 1)
    check_choice("mode", mode, MODES)
    if intensity.ndim < 2:
        raise fail("intensity", f"a tensor of shape {tuple(intensity.shape)}",
                   "shape [B, ...] (a batch)")
    if not torch.isfinite(intensity).all():
        raise fail("intensity", "a tensor with NaN or inf", "finite values")
    flat = intensity.reshape(len(intensity), -1).float()
    active = flat > 0
    times = torch.full_like(flat, float("inf"))
    if mode == "linear":
        peak = flat.amax(1, keepdim=True).clamp_min(torch.finfo(flat.dtype).tiny)
        lin = torch.floor(t * (1.0 - flat / peak)).clamp_max(t - 1)
        times = torch.where(active, lin, times)
    else:
        n_active = active.sum(1, keepdim=True)
        order = torch.argsort(flat, dim=1, descending=True, stable=True)
        rank = torch.empty_like(order)
        rank.scatter_(1, order, torch.arange(flat.shape[1]).expand_as(order).contiguous())
        # rank r of n active values goes to bin floor(r T / n): equal-count bins
        bins = torch.div(rank * t, n_active.clamp_min(1), rounding_mode="floor").float()
        times = torch.where(active, bins, times)
    return times.reshape(intensity.shape)


def spike_wave(times: torch.Tensor, time_steps: int, dtype: torch.dtype = torch.float32
               ) -> torch.Tensor:
    """The cumulative spike wave ``[T, *times.shape]``: ``S[t] = 1`` where ``times <= t``."""
    t = check_int("time_steps", time_steps, 1)
    steps = torch.arange(t, dtype=times.dtype, device=times.device)
    return (times.unsqueeze(0) <= steps.view(-1, *([1] * times.ndim))).to(dtype)


def first_spike_times(wave: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`spike_wave`: the first step at which each neuron is 1 (``inf`` if
    never), for waves ``[T, ...]`` (cumulative or not)."""
    if wave.ndim < 1 or wave.shape[0] == 0:
        raise fail("wave", f"a tensor of shape {tuple(wave.shape)}", "shape [T, ...] with T >= 1")
    fired = wave > 0
    first = fired.to(torch.uint8).argmax(0).float()
    return torch.where(fired.any(0), first, torch.full_like(first, float("inf")))


def latency_spikes(intensity: torch.Tensor, time_steps: int, mode: str = "linear",
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Latency encoder for spiking layers: ``[T, B, ...]`` with a single spike per input at
    its latency (none for intensities ``<= 0``); ``mode`` as in
    :func:`intensity_to_latency` (default ``"linear"``: latency falls with intensity)."""
    times = intensity_to_latency(intensity, time_steps, mode)
    steps = torch.arange(time_steps, dtype=times.dtype, device=times.device)
    return (times.unsqueeze(0) == steps.view(-1, *([1] * times.ndim))).to(dtype)
