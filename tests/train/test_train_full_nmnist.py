"""``spikewave train --dataset nmnist`` on the full N-MNIST in its original layout (Train/
and Test/ folders of .bin recordings, or Train.zip / Test.zip), read as it is used: small
copies the test builds, with one bright column per digit so that a network can learn them."""

import json
import zipfile

import numpy as np
import pytest

from spikewave.cli import main
from spikewave.data.nmnist import EVENT_DTYPE, encode_events
from spikewave.train.datasets import SampleView, TrainTest, inputs_of_test_set
from spikewave.train.recipes import load_dataset


def _recording(digit: int, rng: np.random.Generator) -> np.ndarray:
    n = 120
    ev = np.empty(n, EVENT_DTYPE)
    ev["x"] = 3 * digit + rng.integers(0, 2, n)  # the digit's column, give or take one
    ev["y"] = rng.integers(0, 34, n)
    ev["t"] = np.sort(rng.integers(0, 300_000, n))
    ev["p"] = rng.integers(0, 2, n)
    return ev


def _files(per_digit: int, seed: int) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    return {f"{d}/{seed * 100 + d * per_digit + k:05d}.bin": encode_events(_recording(d, rng))
            for d in range(10) for k in range(per_digit)}


def _layout(root, zipped: bool):
    for split, per_digit, seed in (("Train", 6, 1), ("Test", 2, 2)):
        files = _files(per_digit, seed)
        if zipped:
            with zipfile.ZipFile(root / f"{split}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
                for name, data in files.items():
                    zf.writestr(f"{split}/{name}", data)
        else:
            for name, data in files.items():
                (root / split / name).parent.mkdir(parents=True, exist_ok=True)
                (root / split / name).write_bytes(data)
    return root


def test_the_full_layout_is_read_as_datasets_not_arrays(tmp_path):
    data = load_dataset("nmnist", 4, 0, _layout(tmp_path, zipped=False))
    assert isinstance(data, TrainTest) and len(data.train) == 60 and len(data.test) == 20
    x, y = data.train[0]
    assert tuple(x.shape) == (4, 2, 34, 34) and y == 0
    view = inputs_of_test_set(data)
    assert isinstance(view, SampleView) and len(view) == 20
    assert tuple(view[2:5].shape) == (3, 4, 2, 34, 34)
    assert float(view[2:5].sum()) == float(sum(data.test[i][0].sum() for i in (2, 3, 4)))


@pytest.mark.parametrize("zipped", [False, True])
def test_train_learns_the_full_layout(tmp_path, capsys, zipped):
    root = tmp_path / "data"
    root.mkdir()
    _layout(root, zipped)
    argv = ["train", "--dataset", "nmnist", "--data-dir", str(root), "--model", "dense",
            "--epochs", "3", "--time-steps", "4", "--batch-size", "10", "--lr", "5e-3",
            "--out", str(tmp_path / "run"), "--json"]
    assert main(argv) == 0
    js = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert js["test_accuracy"] >= 0.8, js  # chance: 0.1
    assert js["synops_ac"] > 0 and 0 <= js["decision_step"] <= 3
