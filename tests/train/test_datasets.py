"""fit on any Dataset or DataLoader, and on models of plain logits: the same batches as the
array path (so the same model, bit for bit), exact resume, and clear errors."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from spikewave import ParameterError
from spikewave.data.digits import load_digits_split
from spikewave.train.datasets import TrainTest, readout, train_test
from spikewave.train.loop import TrainConfig, fit

CFG = TrainConfig(epochs=3, batch_size=64, lr=1e-2, seed=3)


class Pairs(Dataset):
    """A plain map-style dataset of (numpy image, int label), as user code writes one."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def _mlp():
    gen = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.empty_like(p).uniform_(-0.2, 0.2, generator=gen))
    return net


def _identity(x, gen):
    return x


def _train(data, out, cfg=CFG, **kw):
    model = _mlp()
    result = fit(model, data, _identity, cfg, out, progress=False, **kw)
    return result, model.state_dict()


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


@pytest.fixture(scope="module")
def on_arrays(digits, tmp_path_factory):
    """The array path's run: the reference every other form must equal."""
    return _train(digits, tmp_path_factory.mktemp("arrays") / "run")


def _forms(split):
    train, test = Pairs(split.x_train, split.y_train), Pairs(split.x_test, split.y_test)
    return {
        "dataset": TrainTest(train, test),
        "loader": (DataLoader(train, batch_size=CFG.batch_size, shuffle=True),
                   DataLoader(test, batch_size=CFG.batch_size)),
    }


def test_a_sequential_trains_the_same_on_arrays_datasets_and_loaders(digits, on_arrays,
                                                                     tmp_path):
    ref, ref_state = on_arrays
    assert ref.test_accuracy >= 0.9 and ref.spikes_per_sample == 0.0
    for name, data in _forms(digits).items():
        result, state = _train(data, tmp_path / name)
        assert result.test_accuracy == ref.test_accuracy, name
        assert [h["train_loss"] for h in result.history] == \
            [h["train_loss"] for h in ref.history], name
        for k in ref_state:
            assert torch.equal(state[k], ref_state[k]), (name, k)


class Interrupted(Exception):
    pass


def test_resume_on_a_loader_continues_bit_for_bit(digits, on_arrays, tmp_path):
    forms = _forms(digits)
    straight = on_arrays[1]  # = the loader's uninterrupted run (the test above)

    def stop(record):
        if record["epoch"] == 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        _train(forms["loader"], tmp_path / "b", on_epoch_end=stop)
    model = _mlp()
    fit(model, forms["loader"], _identity, CFG, tmp_path / "b", resume=True, progress=False)
    for k, v in model.state_dict().items():
        assert torch.equal(v, straight[k]), k
    loader = forms["loader"][0]
    assert loader.sampler.generator is None  # the epoch's generator was only lent


def test_the_loaders_order_is_the_arrays_order(digits):
    train = Pairs(digits.x_train, digits.y_train)
    loader = DataLoader(train, batch_size=50, shuffle=True)
    src, _ = train_test((loader, loader))
    ref, _ = train_test(digits)
    got = list(src.batches(50, torch.Generator().manual_seed(7)))
    want = list(ref.batches(50, torch.Generator().manual_seed(7)))
    assert len(got) == len(want) == src.n_batches(50) == ref.n_batches(50)
    for (xa, ya), (xb, yb) in zip(got, want, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    first = [y for _, y in src.batches(50, torch.Generator().manual_seed(8))]
    assert not torch.equal(torch.cat(first), torch.cat([y for _, y in got]))
    tensors = TensorDataset(torch.as_tensor(digits.x_train), torch.as_tensor(digits.y_train))
    src, _ = train_test(TrainTest(tensors, tensors))
    for (xa, ya), (xb, yb) in zip(src.batches(50, torch.Generator().manual_seed(7)), want,
                                  strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


@pytest.mark.parametrize("shape", ["BC", "TBC"])
def test_plain_logits_with_and_without_time(shape):
    out = torch.randn(5, 4, 10)
    logits, spikes = readout(out if shape == "TBC" else out[0], 4)
    assert spikes == 0.0
    torch.testing.assert_close(logits, out.mean(0) if shape == "TBC" else out[0])
    logits, spikes = readout((out, torch.tensor(12.5)), 4)
    assert spikes == 12.5 and torch.equal(logits, out.mean(0))


def test_a_tonic_dataset_with_to_frame_trains(tmp_path):
    """A tonic-style dataset (events, transformed by tonic's ToFrame) through fit."""
    tt = pytest.importorskip("tonic.transforms", reason="the tonic extra "
                             "(pip install spikewave[tonic])")
    from spikewave.data.nmnist import EVENT_DTYPE

    rng = np.random.default_rng(0)

    class Events(Dataset):
        def __init__(self, n, transform):
            self.labels = rng.integers(0, 2, n)
            self.transform = transform
            self.events = []
            for label in self.labels:  # class 0 ON events on the left, class 1 on the right
                ev = np.zeros(60, EVENT_DTYPE)
                ev["x"] = rng.integers(0, 10, 60) + 24 * label
                ev["y"], ev["p"] = rng.integers(0, 34, 60), rng.integers(0, 2, 60)
                ev["t"] = np.sort(rng.integers(0, 10_000, 60))
                self.events.append(ev)

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            return self.transform(self.events[i]), int(self.labels[i])

    to_frame = tt.ToFrame(sensor_size=(34, 34, 2), time_window=2500, start_time=0,
                          end_time=10_000)
    data = TrainTest(Events(64, to_frame), Events(32, to_frame))

    def encode(x, gen):  # int16 [B, T, 2, 34, 34] -> float [T, B, 2312]
        return x.float().transpose(0, 1).flatten(2)

    model = nn.Sequential(nn.Linear(2 * 34 * 34, 2))
    result = fit(model, data, encode, TrainConfig(epochs=3, batch_size=16, lr=1e-2),
                 tmp_path, progress=False)
    assert result.test_accuracy == 1.0


class Stream(IterableDataset):
    def __iter__(self):
        yield from ()


@pytest.mark.parametrize(("data", "match"), [
    (object(), "x_train"),
    ((Stream(), Pairs([], [])), "map-style"),
    ((Pairs([], []), Pairs([], [])), "at least one sample"),
    ((Pairs([np.zeros(3), np.zeros(4)], [0, 1]), Pairs([np.zeros(3)], [0])), "one shape"),
])
def test_bad_data_is_named(tmp_path, data, match):
    with pytest.raises(ParameterError, match=match):
        fit(nn.Linear(3, 2), data, _identity,
            TrainConfig(epochs=1, batch_size=2), tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_a_model_output_of_the_wrong_shape_is_named(digits, tmp_path):
    with pytest.raises(ParameterError, match=r"output of shape \(64, 10, 1\)"):
        fit(nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.Unflatten(1, (10, 1))),
            digits, _identity, CFG, tmp_path, progress=False)
