"""The training loop's recorded metrics against values computed here.

A model whose output does not depend on its one parameter (its gradient is zero, so Adam
leaves it alone) gives the same logits in every epoch: the loss, accuracy and spike counts
that ``fit`` records must be the cross-entropy, accuracy and spike count of those logits,
over the training and the test set, epoch after epoch.
"""

import json

import numpy as np
import pytest
import torch
from torch import nn

from spikewave.data.digits import Split
from spikewave.train.loop import TrainConfig, evaluate, fit


class FixedLogits(nn.Module):
    """Readout potential = the input itself ([T, B, 3] -> logits [B, 3] after the time
    mean); 'spikes' = 1.5 per sample whatever the input."""

    def __init__(self) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x + 0.0 * self.p, 1.5 + 0.0 * self.p.sum()


def encode(x, gen):
    return x.unsqueeze(0).expand(4, *x.shape)


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (150, 3)).astype(np.float32)
    y = rng.integers(0, 3, 150)
    return Split(x[:100], y[:100], x[100:], y[100:], 3)


def expected(x, y):
    logits = torch.as_tensor(x, dtype=torch.float32)
    target = torch.as_tensor(y)
    loss = nn.functional.cross_entropy(logits, target).item()
    acc = (logits.argmax(1) == target).sum().item() / len(target)
    return loss, acc


def test_recorded_metrics_are_those_of_the_logits(tmp_path):
    d = data()
    res = fit(FixedLogits(), d, encode, TrainConfig(epochs=2, batch_size=32, lr=1e-2, seed=0),
              tmp_path, progress=False)
    train_loss, train_acc = expected(d.x_train, d.y_train)
    test_loss, test_acc = expected(d.x_test, d.y_test)
    assert 0.0 < train_acc < 1.0 and 0.0 < test_acc < 1.0  # neither bound hides an error
    assert [h["epoch"] for h in res.history] == [1, 2]
    for h in res.history:
        assert h["train_loss"] == pytest.approx(train_loss, rel=1e-6)
        assert h["train_accuracy"] == pytest.approx(train_acc, abs=1e-12)
        assert h["test_loss"] == pytest.approx(test_loss, rel=1e-6)
        assert h["test_accuracy"] == pytest.approx(test_acc, abs=1e-12)
        assert h["spikes_per_sample"] == pytest.approx(1.5)
        assert h["epoch_s"] >= 0.0
    assert res.test_accuracy == pytest.approx(test_acc, abs=1e-12)
    assert res.epochs == 2 and res.params == 1
    assert res.spikes_per_sample == pytest.approx(1.5)
    assert res.epoch_s == pytest.approx(np.mean([h["epoch_s"] for h in res.history]))
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == res.history
    assert (tmp_path / "training_curve.png").stat().st_size > 1000


def test_evaluate_on_batches_of_unequal_size():
    d = data(1)
    x, y = torch.as_tensor(d.x_test), torch.as_tensor(d.y_test)
    loss, acc, spikes = evaluate(FixedLogits(), x, y, encode, 16, 0, "cpu")  # 16+16+16+2
    assert (loss, acc) == pytest.approx(expected(d.x_test, d.y_test), rel=1e-6)
    assert spikes == pytest.approx(1.5)
