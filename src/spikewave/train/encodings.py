"""How ``spikewave train`` turns an image batch into the network's input ``[T, B, ...]``.

- ``direct``: the intensities themselves as a constant input current at every step
  (:func:`~spikewave.coding.rate.direct_current`; a stride-0 view over time);
- ``rate``: Bernoulli spikes, each input fires at step ``t`` with probability equal to its
  intensity in [0, 1] (:func:`~spikewave.coding.rate.bernoulli_spikes`), drawn from the
  generator the training loop passes for each epoch, so a resumed run draws the same spikes;
- ``latency``: time to first spike, one spike per input at step
  ``floor(T (1 - x / x_max))`` of its image (capped at ``T - 1``; none for ``x <= 0``;
  :func:`~spikewave.coding.latency.latency_spikes` in ``"linear"`` mode): the brighter,
  the earlier. Deterministic.

Event datasets (N-MNIST, SHD) are spikes already and take no encoding but their own.
"""

from __future__ import annotations

import torch

from spikewave._validation import check_choice, check_int
from spikewave.coding.latency import latency_spikes
from spikewave.coding.rate import bernoulli_spikes, direct_current

ENCODINGS = ("direct", "rate", "latency")


def encode_images(x: torch.Tensor, time_steps: int, encoding: str,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """``[T, *x.shape]``: the batch ``x`` (intensities in [0, 1] for ``rate``) encoded by
    ``encoding`` (one of :data:`ENCODINGS`) over ``time_steps`` steps."""
    check_choice("encoding", encoding, ENCODINGS)
    t = check_int("time_steps", time_steps, 1)
    if encoding == "direct":
        return direct_current(x, t)
    if encoding == "rate":
        return bernoulli_spikes(x, t, generator=generator)
    return latency_spikes(x, t, mode="linear", dtype=x.dtype)
