"""Rate codes: an intensity in [0, 1] becomes a spike probability per time step."""

from __future__ import annotations

import torch

from spikewave._validation import check_int, fail


def bernoulli_spikes(x: torch.Tensor, time_steps: int, max_prob: float = 1.0,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """``[T, *x.shape]`` spikes, each 1 with probability ``max_prob * x`` (``x`` in [0, 1])."""
    t = check_int("time_steps", time_steps, 1)
    if not 0.0 < max_prob <= 1.0:
        raise fail("max_prob", max_prob, "a number in (0, 1]")
    if x.numel() and (x.min() < 0 or x.max() > 1 or not torch.isfinite(x).all()):
        raise fail("x", f"values in [{x.min().item():g}, {x.max().item():g}]",
                   "intensities in [0, 1]")
    u = torch.rand((t, *x.shape), generator=generator, dtype=x.dtype, device=x.device)
    return (u < max_prob * x).to(x.dtype)


def direct_current(x: torch.Tensor, time_steps: int) -> torch.Tensor:
    """The intensity itself as an input current at every step: ``[T, *x.shape]``."""
    t = check_int("time_steps", time_steps, 1)
    return x.unsqueeze(0).expand(t, *x.shape)
