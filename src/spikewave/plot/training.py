"""Figures of surrogate-gradient training: the surrogate derivatives and the training curve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from spikewave.plot import new_figure, save_figure


def surrogate_derivatives_figure(surrogates: Mapping[str, Any], path: Path,
                                 x_range: float = 1.5) -> Path:
    """Each surrogate's derivative ``P'(x)`` against ``x = V - threshold``, beside the
    Heaviside step that the forward pass uses (whose true derivative is zero almost
    everywhere). ``surrogates`` maps a label to a surrogate object with ``derivative``."""
    x = torch.linspace(-x_range, x_range, 1201, dtype=torch.float64)
    fig, (ax_h, ax_d) = new_figure(1, 2, width=10, height=3.8)
    ax_h.plot(x.numpy(), (x >= 0).double().numpy(), color="k", lw=1.2,
              label="forward: H(x), 1 when V reaches threshold")
    ax_h.set(xlabel="x = V - threshold", ylabel="spike", title="forward pass (Heaviside)")
    ax_h.legend(frameon=False, fontsize=8, loc="upper left")
    for i, (label, s) in enumerate(surrogates.items()):
        ax_d.plot(x.numpy(), s.derivative(x).numpy(), lw=1.2, color=f"C{i}",
                  label=f"{label} (scale {s.scale:g})")
    ax_d.axvline(0.0, color="0.7", lw=0.8)
    ax_d.set(xlabel="x = V - threshold", ylabel="P'(x), the gradient used",
             title="backward pass: surrogate derivatives")
    ax_d.legend(frameon=False, fontsize=8, loc="upper right")
    return save_figure(fig, path, caption=(
        "Surrogate gradients: the forward pass emits a spike by the Heaviside step of "
        "x = V - threshold (left); the backward pass replaces its derivative, zero almost "
        "everywhere, by the derivative of a smooth primitive (right), one curve per "
        "surrogate at the scale given."))


def training_curve_figure(history: Sequence[Mapping[str, float]], path: Path) -> Path:
    """Loss and accuracy of the training and test sets after each epoch (integer ticks)."""
    fig, (ax_l, ax_a) = new_figure(1, 2, width=10, height=3.8)
    ep = [h["epoch"] for h in history]
    ax_l.plot(ep, [h["train_loss"] for h in history], "o-", label="train")
    ax_l.plot(ep, [h["test_loss"] for h in history], "s-", label="test")
    ax_l.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_a.plot(ep, [100 * h["train_accuracy"] for h in history], "o-", label="train")
    ax_a.plot(ep, [100 * h["test_accuracy"] for h in history], "s-", label="test")
    ax_a.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_l, ax_a):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(frameon=False)
    best = int(np.argmax([h["test_accuracy"] for h in history]))
    return save_figure(fig, path, caption=(
        "Training curve: cross-entropy loss (left) and accuracy (%, right) of the training "
        f"and test sets after each of {len(history)} epochs; best test accuracy "
        f"{100 * history[best]['test_accuracy']:.2f} % at epoch {history[best]['epoch']}."))
