"""Datasets, encoders and models that ``spikewave train`` puts together by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from spikewave._validation import check_choice, check_int
from spikewave.coding.rate import direct_current
from spikewave.train.models import DenseSNN

DATASETS = ("digits",)   # mnist, fashion, nmnist, shd: to come (issue 5)
MODELS = ("dense",)      # conv, recurrent: to come (issue 5)


@dataclass
class Recipe:
    data: object
    model: nn.Module
    encode: Callable[[torch.Tensor, torch.Generator], torch.Tensor]
    description: str


def build(dataset: str, model: str, time_steps: int, seed: int) -> Recipe:
    """The data, encoder and network for a dataset/model pair (seeded initialisation)."""
    check_choice("dataset", dataset, DATASETS)
    check_choice("model", model, MODELS)
    t = check_int("time_steps", time_steps, 1, 10_000)
    torch.manual_seed(seed)
    from spikewave.data.digits import load_digits_split

    data = load_digits_split(seed=seed)
    n_in = int(data.x_train[0].size)

    def encode(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return direct_current(x.reshape(len(x), -1), t)

    net = DenseSNN(n_in, (128,), data.n_classes, tau_steps=10.0)
    return Recipe(data, net, encode, f"digits 8x8, direct current over {t} steps, "
                  f"{n_in}-128-10 LIF (trainable tau), leaky readout")
