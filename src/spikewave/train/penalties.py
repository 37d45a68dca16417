"""Activity penalties added to the training loss: the spike count of the hidden layers
(:func:`~spikewave.nn.regularization.spike_count_l1` or ``_l2``) and the early-decision
term on the readout (:func:`~spikewave.nn.regularization.early_decision_loss`).

The loss of a training batch becomes

    L = CE(mean_t v_t, y) + w_s sum_layers P(S_layer) + w_d L_decision(v, y),

with ``P`` the chosen spike-count penalty of each spiking layer's output ``S[T, B, N]`` and
``w_s``, ``w_d`` the weights (``TrainConfig.spike_reg_weight`` and
``TrainConfig.decision_reg_weight``). The hidden spikes are taken with forward hooks on
the model's spiking layers (:data:`spikewave.train.models.SPIKING`), so the models stay as
they are: while :func:`recording` is active, each training forward pass (gradients on,
module in training mode) keeps the spike tensors it produced, and :meth:`Penalty.loss`
takes them. Evaluation passes record nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from spikewave._validation import fail
from spikewave.nn.regularization import early_decision_loss, spike_count_l1, spike_count_l2

SPIKE_REGS = ("none", "l1", "l2")
_PENALTIES = {"l1": spike_count_l1, "l2": spike_count_l2}


class Penalty:
    """The penalty terms of one run, with the spikes recorded since the last :meth:`loss`."""

    def __init__(self, spike_reg: str, spike_reg_weight: float,
                 decision_reg_weight: float) -> None:
        self.spike_reg = spike_reg
        self.spike_reg_weight = spike_reg_weight
        self.decision_reg_weight = decision_reg_weight
        self._spikes: list[torch.Tensor] = []

    def keep(self, module: nn.Module, inputs, output) -> None:
        """Forward hook: keep a spiking layer's output during training passes."""
        if module.training and torch.is_grad_enabled() and self.spike_reg != "none":
            self._spikes.append(output)

    def loss(self, readout: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The weighted penalty of the batch whose forward pass just ran; forgets its
        spikes."""
        spikes, self._spikes = self._spikes, []
        total = readout.new_zeros(())
        if spikes and self.spike_reg_weight > 0:
            penalty = _PENALTIES[self.spike_reg]
            total = total + self.spike_reg_weight * sum(penalty(s) for s in spikes)
        if self.decision_reg_weight > 0:
            if readout.dim() != 3:
                raise fail("decision_reg_weight", self.decision_reg_weight, "0 for a model "
                           "whose output is not readout potentials [T, B, classes] (got "
                           f"{tuple(readout.shape)}: no decision over time to reward)")
            total = total + self.decision_reg_weight * early_decision_loss(readout, labels)
        return total


@contextlib.contextmanager
def recording(model: nn.Module, penalty: Penalty | None) -> Iterator[Penalty | None]:
    """Hooks on ``model``'s spiking layers that feed ``penalty`` for the ``with`` block
    (nothing when ``penalty`` is None)."""
    if penalty is None:
        yield None
        return
    from spikewave.train.models import SPIKING

    layers = [m for m in model.modules() if isinstance(m, SPIKING)]
    if not layers and penalty.spike_reg != "none":
        raise fail("spike_reg", penalty.spike_reg, "'none' for a model without spiking "
                   f"layers ({type(model).__name__}: nothing to penalise)")
    handles = [m.register_forward_hook(penalty.keep) for m in layers]
    try:
        yield penalty
    finally:
        for h in handles:
            h.remove()
