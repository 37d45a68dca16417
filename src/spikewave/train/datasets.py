"""What :func:`~spikewave.train.fit` trains on, and what it reads from a model's output.

Data comes in three forms, each turned into one :class:`Batches` source:

- in-memory arrays: an object with ``x_train, y_train, x_test, y_test``
  (:class:`~spikewave.data.digits.Split`, what the readers return);
- a map-style dataset (a :class:`torch.utils.data.Dataset`, a tonic dataset, or anything
  with ``__len__`` and ``__getitem__`` returning ``(sample, label)``);
- a :class:`torch.utils.data.DataLoader`.

Train and test sets are given as ``TrainTest(train, test)`` (or a plain pair), each a
dataset or a loader. Shuffling is drawn from the epoch's ``torch.Generator`` in every form:
arrays and datasets are ordered by ``torch.randperm(N, generator=g)`` and cut into batches
of ``batch_size``, so a dataset holding the same samples as arrays gives the very same
batches; a loader that shuffles with a :class:`~torch.utils.data.RandomSampler` (the
``shuffle=True`` default) has that generator lent to its sampler for the epoch, so its order
is as reproducible and as resumable as the arrays' (a loader keeps its own batch size,
collation and workers). Randomness drawn inside a dataset or its transforms (for example
from NumPy's global generator) is outside this guarantee.

A model returns either ``(potentials [T, B, C], spike count per sample)``, the spiking
models of :mod:`spikewave.train.models`, or plain logits ``[B, C]`` or ``[T, B, C]`` (an
``nn.Sequential``, an ANN). The logits are the potentials averaged over time; a model of
plain logits reports no spikes (0 per sample).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple, Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, RandomSampler

from spikewave._validation import ParameterError, fail


class TrainTest(NamedTuple):
    """A training and a test set, each a dataset or a :class:`~torch.utils.data.DataLoader`."""

    train: Any
    test: Any


class SampleView:
    """The inputs of a dataset's samples as one sequence that slices like an array:
    ``view[i:j]`` stacks the inputs of samples ``i .. j-1`` into a tensor (read when asked
    for), for the evaluations that take a test set as an array
    (:func:`spikewave.metrics.measure_dataset`, :func:`spikewave.train.decision.decision_step`)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int | slice) -> torch.Tensor:
        if isinstance(index, slice):
            rows = range(*index.indices(len(self)))
            return collate([self.dataset[i] for i in rows], "data.test")[0]
        return collate([self.dataset[index]], "data.test")[0][0]


def inputs_of_test_set(data: Any) -> Any:
    """The inputs of the test set of ``data`` (arrays ``x_test`` or a :class:`TrainTest`):
    the array, or a :class:`SampleView` of the test dataset."""
    if isinstance(data, TrainTest):
        if isinstance(data.test, DataLoader):
            raise fail("data", "a DataLoader test set", "a dataset or arrays (the test "
                       "inputs are read by index)")
        return SampleView(data.test)
    return data.x_test


class Batches(Protocol):
    """Batches ``(x, y)`` of one set of ``n`` samples."""

    n: int

    def batches(self, batch_size: int, gen: torch.Generator | None = None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of one pass, shuffled by ``gen`` (in order when it is None)."""

    def n_batches(self, batch_size: int) -> int:
        """How many batches one pass gives."""


class ArrayBatches:
    """Arrays ``x [N, ...]`` and labels ``y [N]`` held in memory."""

    def __init__(self, x, y) -> None:
        self.x, self.y = torch.as_tensor(x), torch.as_tensor(y)
        if len(self.x) != len(self.y):
            raise fail("data", f"{len(self.x)} samples and {len(self.y)} labels",
                       "as many labels as samples")
        self.n = len(self.x)

    def n_batches(self, batch_size: int) -> int:
        return -(-self.n // batch_size)

    def batches(self, batch_size, gen=None):
        if gen is None:
            for i in range(0, self.n, batch_size):
                yield self.x[i:i + batch_size], self.y[i:i + batch_size]
            return
        order = torch.randperm(self.n, generator=gen)
        for i in range(0, self.n, batch_size):
            idx = order[i:i + batch_size]
            yield self.x[idx], self.y[idx]


class DatasetBatches:
    """A map-style dataset of ``(sample, label)`` items, stacked into batches."""

    def __init__(self, dataset, name: str) -> None:
        self.dataset, self.name = dataset, name
        self.n = len(dataset)

    def n_batches(self, batch_size: int) -> int:
        return -(-self.n // batch_size)

    def batches(self, batch_size, gen=None):
        order = (torch.randperm(self.n, generator=gen) if gen is not None
                 else torch.arange(self.n))
        for i in range(0, self.n, batch_size):
            yield collate([self.dataset[int(j)] for j in order[i:i + batch_size]], self.name)


class LoaderBatches:
    """A :class:`~torch.utils.data.DataLoader`, iterated as it is; a shuffling sampler draws
    from the epoch's generator."""

    def __init__(self, loader: DataLoader, name: str) -> None:
        self.loader, self.name = loader, name
        try:
            self.n = len(loader.dataset)
            self._len = len(loader)
        except TypeError:
            raise fail(name, loader, "a DataLoader over a dataset with a length (an "
                       "IterableDataset has none)") from None

    def n_batches(self, batch_size: int) -> int:
        return self._len

    def batches(self, batch_size, gen=None):
        sampler = self.loader.sampler
        lend = gen is not None and isinstance(sampler, RandomSampler)
        own = sampler.generator if lend else None
        try:
            if lend:
                sampler.generator = gen
            for batch in self.loader:
                if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                    raise fail(self.name, type(batch).__name__, "batches (samples, labels)")
                yield torch.as_tensor(batch[0]), torch.as_tensor(batch[1])
        finally:
            if lend:
                sampler.generator = own


def collate(items: list, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(sample, label)`` items into ``(x [B, ...], y [B] int64)``."""
    if not all(isinstance(it, (tuple, list)) and len(it) == 2 for it in items):
        raise fail(name, type(items[0]).__name__, "items (sample, label), as a dataset's "
                   "__getitem__ returns them")
    try:
        x = torch.stack([torch.as_tensor(np.asarray(s) if not isinstance(s, torch.Tensor)
                                         else s) for s, _ in items])
        y = torch.as_tensor([int(label) for _, label in items], dtype=torch.int64)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ParameterError(f"The '{name}' parameter must give samples of one shape and "
                             f"integer labels; stacking a batch failed: {exc}") from None
    return x, y


def as_batches(obj: Any, name: str) -> Batches:
    """``obj`` (a DataLoader or a map-style dataset) as a :class:`Batches` source."""
    if isinstance(obj, DataLoader):
        return LoaderBatches(obj, name)
    if isinstance(obj, IterableDataset) or not (hasattr(obj, "__len__")
                                                and hasattr(obj, "__getitem__")):
        raise fail(name, type(obj).__name__, "a map-style dataset (with __len__ and "
                   "__getitem__) or a DataLoader (wrap an iterable dataset in a DataLoader "
                   "over a sized dataset)")
    return DatasetBatches(obj, name)


def train_test(data: Any) -> tuple[Batches, Batches]:
    """The training and test sources of ``data``: arrays (``x_train, y_train, x_test,
    y_test``), or :class:`TrainTest` / a pair of datasets or loaders."""
    if all(hasattr(data, k) for k in ("x_train", "y_train", "x_test", "y_test")):
        return ArrayBatches(data.x_train, data.y_train), ArrayBatches(data.x_test, data.y_test)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        train, test = as_batches(data[0], "data.train"), as_batches(data[1], "data.test")
        if train.n == 0 or test.n == 0:
            raise fail("data", f"{train.n} training and {test.n} test samples",
                       "at least one sample in each set")
        return train, test
    raise fail("data", type(data).__name__, "arrays (an object with x_train, y_train, x_test, "
               "y_test) or TrainTest(train, test) of Datasets or DataLoaders")


def readout(output: Any, batch: int) -> tuple[torch.Tensor, float]:
    """``(logits [B, C], spikes per sample)`` from a model's output on a batch of ``batch``.

    ``(potentials [T, B, C], spike count)`` gives the potentials' mean over time; plain
    logits ``[B, C]`` are taken as they are, ``[T, B, C]`` averaged over ``T``.
    """
    if isinstance(output, (tuple, list)) and len(output) == 2:
        s = output[1]
        return (_logits(potentials(output), batch),
                float(s.item() if isinstance(s, torch.Tensor) else s))
    return _logits(output, batch), 0.0


def potentials(output: Any) -> Any:
    """The readout of a model's output: the potentials of ``(potentials, spike count)``, or
    the output itself (plain logits)."""
    return output[0] if isinstance(output, (tuple, list)) and len(output) == 2 else output


def _logits(out: Any, batch: int) -> torch.Tensor:
    if isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[0] == batch:
        return out
    if isinstance(out, torch.Tensor) and out.dim() == 3 and out.shape[1] == batch:
        return out.mean(0)
    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    raise fail("model", f"an output of shape {got}", f"logits [B, classes] or [T, B, classes] "
               f"(B = {batch}), or (potentials [T, B, classes], spike count)")

