"""When does a trained network decide? The decision step of its readout.

The network's prediction is the class with the largest time-averaged readout potential,
``argmax_c mean_t v[t, c]``. Reading the network out after only ``t + 1`` steps gives the
running prediction ``p_t = argmax_c m_t[c]`` with ``m_t = (1 / (t + 1)) sum_{s<=t} v_s``
(ties go to the lowest class index, as ``torch.argmax``), and ``p_{T-1}`` is the final
prediction. The decision step of a sample is

    d = min { t in 0..T-1 : p_s = p_{T-1} for every s >= t },

the first step (counted from 0) from which the running prediction no longer changes: 0
when the first step already gives the final answer, ``T - 1`` when it changes at the last
step. It is defined for every sample, right or wrong; :func:`decision_step` averages it
over a dataset.
"""

from __future__ import annotations

import torch
from torch import nn

from spikewave._validation import fail


def decision_steps(readout: torch.Tensor) -> torch.Tensor:
    """The decision step ``d`` of each sample (int64 ``[B]``) of a readout ``[T, B, C]``."""
    if readout.dim() != 3 or readout.shape[0] == 0:
        raise fail("readout", f"a tensor of shape {tuple(readout.shape)}",
                   "[T, B, C] with T >= 1")
    steps = readout.shape[0]
    count = torch.arange(1, steps + 1, dtype=readout.dtype, device=readout.device)
    pred = (readout.cumsum(0) / count.view(-1, 1, 1)).argmax(2)  # [T, B]
    differs = pred != pred[-1:]
    # the last step at which the prediction differs from the final one, plus one
    idx = torch.arange(1, steps + 1, device=readout.device).view(-1, 1)
    return (differs * idx).amax(0).to(torch.int64)


def decision_step(model: nn.Module, x: torch.Tensor, encode, batch_size: int, seed: int,
                  device: str = "cpu") -> float:
    """The mean decision step (:func:`decision_steps`) of ``model`` over the samples ``x``,
    encoded by ``encode(batch, generator)`` with the generator the training loop's
    evaluation uses (so rate-coded inputs are the same spikes)."""
    from spikewave.train.loop import _generator

    model.eval()
    gen = _generator(seed, -1)
    total = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            v, _ = model(encode(torch.as_tensor(x[i:i + batch_size]), gen).to(device))
            total += int(decision_steps(v).sum())
    return total / len(x)
