"""Reference network architectures for ``spikewave train``."""

from __future__ import annotations

import torch
from torch import nn

from spikewave.nn import LIF, LeakyReadout, Surrogate, TimeDistributed


class DenseSNN(nn.Module):
    """``[T, B, n_in]`` -> Linear -> LIF (-> Linear -> LIF)* -> Linear -> leaky readout.

    Returns the readout potentials ``[T, B, n_out]`` and the number of hidden spikes per
    sample (summed over time and neurons, averaged over the batch).
    """

    def __init__(self, n_in: int, n_hidden: tuple[int, ...], n_out: int, tau_steps: float = 10.0,
                 surrogate: Surrogate | None = None, learn_beta: bool = True) -> None:
        super().__init__()
        layers = []
        width = n_in
        for h in n_hidden:
            layers += [TimeDistributed(nn.Linear(width, h)),
                       LIF(tau_steps, surrogate=surrogate, learn_beta=learn_beta, n_neurons=h)]
            width = h
        self.hidden = nn.ModuleList(layers)
        self.out = TimeDistributed(nn.Linear(width, n_out))
        self.readout = LeakyReadout(tau_steps)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spikes = x.new_zeros(())
        for layer in self.hidden:
            x = layer(x)
            if isinstance(layer, LIF):
                spikes = spikes + x.sum(dim=(0, *range(2, x.dim()))).mean()
        return self.readout(self.out(x)), spikes
