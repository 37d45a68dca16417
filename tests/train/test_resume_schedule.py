"""Resuming with several epochs left ends bit-identical to the uninterrupted run.

With one epoch left a resume cannot show a lost learning-rate schedule (the restored
optimiser already holds that epoch's rate, and the scheduler's step after it is never used)
nor a generator or delay schedule that restarts: here the run is interrupted after its
first of four epochs, so three epochs run from the checkpoint. Every model of
:mod:`spikewave.train.recipes` is covered, plus a stochastic encoder and an augmentation
drawing from the epoch generator; the final weights, the optimiser and scheduler states,
the learning rates of every epoch and the recorded metrics must be identical.
"""

import math

import pytest
import torch

from spikewave.coding.rate import bernoulli_spikes
from spikewave.data.augment import random_shift
from spikewave.data.digits import Split
from spikewave.train.loop import TrainConfig, fit
from spikewave.train.recipes import build

EPOCHS = 4
LR = 2e-3


class Interrupted(Exception):
    pass


def small(data: Split) -> Split:
    """192 training and 64 test images: three batches per epoch."""
    return Split(data.x_train[:192], data.y_train[:192], data.x_test[:64], data.y_test[:64],
                 data.n_classes)


def train(out, model, variant, resume=False, stop_after=None):
    recipe = build("digits", model, 8, seed=3)
    encode, augment = recipe.encode, None
    if variant == "random":
        def encode(x, gen):  # rate code: draws from the epoch generator
            return bernoulli_spikes(x.reshape(len(x), -1), 8, 0.8, generator=gen)

        def augment(x, gen):
            return random_shift(x, 1, gen)
    lrs = []

    def on_epoch_end(record):
        lrs.append(record)
        if record["epoch"] == stop_after:
            raise Interrupted

    model_ = recipe.model
    optimizer_lrs = []
    original_step = torch.optim.Adam.step

    def step(self, *args, **kwargs):  # the rate each optimiser step actually used
        optimizer_lrs.append(self.param_groups[0]["lr"])
        return original_step(self, *args, **kwargs)

    cfg = TrainConfig(epochs=EPOCHS, batch_size=64, lr=LR, seed=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.optim.Adam, "step", step)
        fit(model_, small(recipe.data), encode, cfg, out, resume=resume, progress=False,
            on_epoch_end=on_epoch_end, augment=augment)
    return model_, optimizer_lrs


@pytest.mark.parametrize(("model", "variant"), [
    ("dense", "random"), pytest.param("delay", "plain", marks=pytest.mark.slow),
    pytest.param("recurrent", "plain", marks=pytest.mark.slow),
    pytest.param("dense", "plain", marks=pytest.mark.slow),
    pytest.param("conv", "plain", marks=pytest.mark.slow)])
def test_resume_with_three_epochs_left_is_bit_identical(tmp_path, model, variant):
    straight, lrs_straight = train(tmp_path / "a", model, variant)
    with pytest.raises(Interrupted):
        train(tmp_path / "b", model, variant, stop_after=1)
    resumed, lrs_resumed = train(tmp_path / "b", model, variant, resume=True)

    # the learning rate of every step after the interruption: the cosine schedule goes on
    per_epoch = len(lrs_straight) // EPOCHS
    assert len(lrs_resumed) == 3 * per_epoch
    assert lrs_resumed == lrs_straight[per_epoch:]
    expected = [LR * (1 + math.cos(math.pi * e / EPOCHS)) / 2 for e in range(1, EPOCHS)]
    assert lrs_resumed[::per_epoch] == pytest.approx(expected, rel=1e-12)

    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert a["scheduler"] == b["scheduler"]
    assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
    for i, state in a["optimizer"]["state"].items():
        for name, tensor in state.items():
            assert torch.equal(tensor, b["optimizer"]["state"][i][name]), (i, name)
    strip = [{k: v for k, v in h.items() if k != "epoch_s"} for h in a["history"]]
    assert strip == [{k: v for k, v in h.items() if k != "epoch_s"} for h in b["history"]]
    if model == "delay":  # the delay width follows the epoch, not the number of epochs run
        from spikewave.nn import LearnableDelayLinear

        sigmas = [m.sigma for m in resumed.modules() if isinstance(m, LearnableDelayLinear)]
        assert sigmas == [m.sigma for m in straight.modules()
                          if isinstance(m, LearnableDelayLinear)]
