"""Training on the embedded digits: target accuracy, checkpoints, bit-for-bit resume."""

import torch

from spikewave.experiments import REPRODUCTIONS, RunContext
from spikewave.train.loop import TrainConfig, fit
from spikewave.train.recipes import build


def test_surrogate_reproduction_reaches_97_percent_on_digits(tmp_path):
    ctx = RunContext(quick=True, seed=0, out_dir=tmp_path, progress=False)
    result = REPRODUCTIONS["surrogate"].execute(ctx)
    js = result.to_json()
    assert js["test_accuracy"] >= 0.97
    assert (tmp_path / "metrics.jsonl").exists() and (tmp_path / "training_curve.png").exists()


def test_resume_continues_bit_for_bit(tmp_path):
    def train(epochs, out, resume=False):
        recipe = build("digits", "dense", 8, seed=1)
        cfg = TrainConfig(epochs=epochs, batch_size=128, lr=2e-3, seed=1)
        fit(recipe.model, recipe.data, recipe.encode, cfg, out, resume=resume, progress=False)
        return recipe.model.state_dict()

    straight = train(3, tmp_path / "a")
    train(2, tmp_path / "b")
    resumed = train(3, tmp_path / "b", resume=True)
    for k in straight:
        assert torch.equal(straight[k], resumed[k]), k
    state = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2 and len(state["history"]) == 3
