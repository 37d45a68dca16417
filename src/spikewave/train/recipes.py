"""Datasets, encoders and models that ``spikewave train`` puts together by name."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from spikewave._validation import ParameterError, check_choice, check_int
from spikewave.data.augment import random_shift
from spikewave.data.digits import Split
from spikewave.neurons.specs import RESET_MODES
from spikewave.train.datasets import TrainTest
from spikewave.train.encodings import ENCODINGS, encode_images
from spikewave.train.models import conv_snn, delay_snn, dense_snn, initialise, recurrent_snn

DATASETS = ("digits", "mnist", "fashion", "nmnist", "shd")
MODELS = ("dense", "conv", "recurrent", "delay")


@dataclass
class Recipe:
    data: Split | TrainTest
    model: nn.Module
    encode: Callable[[torch.Tensor, torch.Generator], torch.Tensor]
    description: str
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None


def load_dataset(dataset: str, time_steps: int, seed: int,
                 data_dir: str | os.PathLike[str] | None, verify: bool = True
                 ) -> Split | TrainTest:
    """Images ``[N, H, W]`` (digits, MNIST, Fashion) or event frames ``[N, T, 2, 34, 34]``;
    for N-MNIST the SLAYER subset's archive, or -- where ``data_dir`` (or its ``nmnist``
    folder) holds the full dataset in its original layout -- that, read as it is used
    (:func:`load_full_nmnist`).

    ``verify=False`` skips the published-checksum check of MNIST, Fashion-MNIST and
    N-MNIST files (for custom data in their formats)."""
    if dataset == "digits":
        from spikewave.data.digits import load_digits_split

        return load_digits_split(seed=seed)
    if dataset in ("mnist", "fashion"):
        from spikewave.data.mnist import load_mnist

        return load_mnist(dataset, data_dir, verify=verify)
    if dataset == "shd":
        return load_shd_frames(time_steps, data_dir)
    from spikewave.data.nmnist import load_slayer_archive

    base = Path(data_dir or os.environ.get("SPIKEWAVE_DATA") or ".")
    full = next((f for f in (base, base / "nmnist") if _full_nmnist(f)), None)
    if full is not None:
        return load_full_nmnist(full, time_steps)
    archive = slayer_archive(data_dir)
    if archive is None:
        raise ParameterError("N-MNIST archive nmnist_small_slayer.tar.gz not found in "
                             f"{base} or {base / 'nmnist'}: give --data-dir")
    x_tr, y_tr, x_te, y_te = load_slayer_archive(archive, time_steps, verify=verify)
    return Split(x_tr, y_tr, x_te, y_te, 10)


def slayer_archive(data_dir: str | os.PathLike[str] | None) -> Path | None:
    """SLAYER's N-MNIST archive in ``data_dir`` (or $SPIKEWAVE_DATA, else the current
    folder) or its ``nmnist`` folder, or None when neither holds it."""
    base = Path(data_dir or os.environ.get("SPIKEWAVE_DATA") or ".")
    cands = (base / "nmnist_small_slayer.tar.gz", base / "nmnist" / "nmnist_small_slayer.tar.gz")
    return next((c for c in cands if c.is_file()), None)


def _full_nmnist(folder: Path) -> bool:
    """Whether ``folder`` holds N-MNIST in its original layout: ``Train`` and ``Test``
    folders, or ``Train.zip`` and ``Test.zip`` (names matched without regard to case)."""
    try:
        names = {p.name.lower() for p in folder.iterdir()}
    except OSError:
        return False
    return all(split in names or f"{split}.zip" in names for split in ("train", "test"))


def _frames(events: np.ndarray, time_steps: int) -> torch.Tensor:
    from spikewave.data.nmnist import events_to_frames

    return torch.from_numpy(events_to_frames(events, time_steps))


def load_full_nmnist(folder: str | os.PathLike[str], time_steps: int) -> TrainTest:
    """The full N-MNIST in its original layout (:class:`~spikewave.data.NMNISTDataset`),
    each recording binned into ``[T, 2, 34, 34]`` frames when it is read: 60,000 training
    and 10,000 test recordings are read from disk at every pass, never held in memory."""
    from spikewave.data import NMNISTDataset

    to_frames = functools.partial(_frames, time_steps=time_steps)
    return TrainTest(NMNISTDataset(folder, "train", transform=to_frames),
                     NMNISTDataset(folder, "test", transform=to_frames))


def load_shd_frames(time_steps: int, data_dir: str | os.PathLike[str] | None) -> Split:
    """SHD's ``shd_train.h5`` and ``shd_test.h5`` binned into ``[N, T, 700]`` spike counts
    over 1.4 s (20 classes)."""
    from spikewave.data.shd import read_shd, spikes_to_frames

    base = Path(data_dir or os.environ.get("SPIKEWAVE_DATA") or ".")
    folder = next((f for f in (base / "shd", base) if (f / "shd_train.h5").exists()), None)
    if folder is None:
        raise ParameterError(f"SHD files shd_train.h5 / shd_test.h5 not found in {base / 'shd'}"
                             f" or {base}: give --data-dir")
    parts = []
    for name in ("shd_train.h5", "shd_test.h5"):
        times, units, labels = read_shd(folder / name)
        frames = np.stack([spikes_to_frames(t, u, time_steps) for t, u in
                           zip(times, units, strict=True)]) if len(times) else \
            np.zeros((0, time_steps, 700), np.float32)
        parts += [torch.from_numpy(frames), torch.from_numpy(labels)]
    n_classes = int(max(parts[1].max(), parts[3].max())) + 1 if len(parts[1]) else 20
    return Split(parts[0], parts[1], parts[2], parts[3], max(n_classes, 20))


def build(dataset: str, model: str, time_steps: int, seed: int,
          data_dir: str | os.PathLike[str] | None = None, verify: bool = True,
          reset: str = "subtract", encoding: str = "direct") -> Recipe:
    """The data, encoder and network for a dataset/model pair; the weights are drawn from
    a ``torch.Generator`` seeded with ``seed`` (:func:`~spikewave.train.models.initialise`).
    ``reset`` is the reset of every LIF layer: ``"subtract"`` (the default) or ``"zero"``,
    the reset NIR's neurons have (:func:`spikewave.nir.export` refuses the other).
    ``encoding`` turns images into input (:mod:`spikewave.train.encodings`: ``"direct"``
    current, ``"rate"`` or ``"latency"`` spikes); event datasets take ``"direct"`` only
    (their events are the input)."""
    check_choice("dataset", dataset, DATASETS)
    check_choice("model", model, MODELS)
    check_choice("reset", reset, RESET_MODES)
    check_choice("encoding", encoding, ENCODINGS)
    if encoding != "direct" and dataset in ("nmnist", "shd"):
        raise ParameterError(f"The 'encoding' parameter must be 'direct' for {dataset}: its "
                             f"events are spikes already (rate and latency codes are for "
                             f"images). Got {encoding!r}.")
    t = check_int("time_steps", time_steps, 1, 10_000)
    data = load_dataset(dataset, t, seed, data_dir, verify)
    if dataset == "shd" and model == "conv":
        raise ParameterError("The 'model' parameter must be 'dense', 'recurrent' or 'delay' "
                             "for shd (700 channels, no image). Got 'conv'.")
    if model == "delay" and t < 4:
        raise ParameterError("The 'time_steps' parameter must be at least 4 for the delay "
                             f"model (delays of up to a quarter of the sequence). Got {t}.")
    if isinstance(data, TrainTest):  # the full N-MNIST, read as it is used
        events, shape, n_classes = True, tuple(data.train[0][0].shape[1:]), 10
    else:
        events = data.x_train.ndim == 5 or dataset == "shd"  # [N, T, C, H, W] or [N, T, 700]
        shape = data.x_train.shape[2:] if events else (1, *data.x_train.shape[1:])
        n_classes = data.n_classes
    n_in = int(torch.tensor(shape).prod())
    flat = model in ("dense", "recurrent", "delay")

    def encode(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if events:  # [B, T, C, H, W] -> [T, B, ...]
            seq = x.transpose(0, 1)
            return seq.reshape(*seq.shape[:2], -1) if flat else seq
        x = x.reshape(len(x), -1) if flat else x.reshape(len(x), *shape)
        return encode_images(x, t, encoding, gen)

    if model == "recurrent":
        width = 128 if dataset == "digits" else 256
        net = recurrent_snn(n_in, width, n_classes, seed=seed, reset=reset)
        arch = f"{n_in}-{width} recurrent LIF-{n_classes}"
    elif model == "delay":
        width = 128 if dataset == "digits" else 256
        max_delay = min(t // 4, 25)
        net = delay_snn(n_in, width, n_classes, max_delay, seed=seed, reset=reset)
        arch = (f"{n_in}-{width}-{n_classes} LIF with learned synaptic delays of 0-"
                f"{max_delay} steps (DCLS, width {max_delay / 2:g} -> 0.1 steps)")
    elif flat:
        hidden = {"digits": (128,), "nmnist": (256,), "shd": (256,)}.get(dataset, (512, 512))
        net = dense_snn(n_in, hidden, n_classes, reset=reset)
        arch = f"{n_in}-{'-'.join(map(str, hidden))}-{n_classes} LIF"
    else:
        net = conv_snn(shape[0], shape[1], shape[2], n_classes, reset=reset)
        arch = f"conv 32-64 (3x3, BN, maxpool, LIF) - 256 LIF - {n_classes}"
    initialise(net, torch.Generator().manual_seed(seed))
    source = "event frames" if events else {"direct": "direct current", "rate": "Bernoulli "
                                            "rate spikes", "latency": "latency spikes"}[encoding]
    augment = None
    if model == "conv" and dataset in ("mnist", "fashion"):
        # the conv nets fit the training set within a few epochs: random shifts of up to
        # 2 pixels keep the test accuracy rising
        def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
            return random_shift(x, 2, gen)
        arch += ", training images shifted by up to 2 px"
    return Recipe(data, net, encode, f"{dataset}: {source} over {t} steps, {arch} "
                  f"(trainable tau, {reset} reset), leaky readout", augment)
