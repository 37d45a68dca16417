"""One ``spikewave train`` run inside a reproduction, with the figures it is judged by:
test accuracy, hidden spikes per sample and the mean decision step."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spikewave.experiments.registry import RunContext
from spikewave.train.datasets import inputs_of_test_set
from spikewave.train.decision import decision_step
from spikewave.train.loop import TrainConfig, fit
from spikewave.train.recipes import build


@dataclass(frozen=True)
class Trained:
    """What a reproduction keeps of a run (``decision_step`` in steps from 0)."""

    accuracy: float
    spikes_per_sample: float
    decision_step: float
    time_steps: int
    epochs: int
    description: str

    def as_json(self) -> dict:
        return {"test_accuracy": self.accuracy, "spikes_per_sample": self.spikes_per_sample,
                "decision_step": self.decision_step, "time_steps": self.time_steps,
                "epochs": self.epochs, "recipe": self.description}


def train_dense(ctx: RunContext, dataset: str, data_dir: str | None, time_steps: int,
                cfg: TrainConfig, out: Path) -> Trained:
    """``spikewave train --model dense`` on ``dataset`` with ``cfg``'s encoding and
    penalties, then its decision step on the test set."""
    recipe = build(dataset, "dense", time_steps, cfg.seed, data_dir, encoding=cfg.encoding)
    res = fit(recipe.model, recipe.data, recipe.encode, cfg, out, progress=ctx.progress)
    step = decision_step(recipe.model, inputs_of_test_set(recipe.data), recipe.encode, 256,
                         cfg.seed)
    return Trained(res.test_accuracy, res.spikes_per_sample, step, time_steps, res.epochs,
                   recipe.description)


def mnist_available(data_dir: str | None) -> bool:
    """Whether the four MNIST files can be found in ``data_dir`` (or $SPIKEWAVE_DATA)."""
    from spikewave._validation import ParameterError
    from spikewave.data.mnist import find_files

    try:
        find_files("mnist", data_dir)
    except ParameterError:
        return False
    return True
