"""What the deep-STDP vision reproductions share: dataset options, loading, layer-wise STDP."""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import torch

from spikewave._validation import Interval, check_int, check_number, fail
from spikewave.data.digits import load_digits_split
from spikewave.data.mnist import load_mnist
from spikewave.experiments.registry import RunContext
from spikewave.nn.stdp_net import Architecture, STDPConvNet, upsample_digits

DATASETS = ("digits", "mnist", "fashion")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=DATASETS, default="digits",
                        help="digits (embedded, default), mnist or fashion (IDX files)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the IDX files (default: $SPIKEWAVE_DATA)")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="skip the published-checksum check of the IDX files (for "
                             "custom data in the same format)")
    parser.add_argument("--train-images", type=int, default=None,
                        help="training images (default: all)")
    parser.add_argument("--stdp-images", type=int, nargs="+", default=None,
                        help="most learning images per STDP layer: one count for every "
                             "layer or one per layer (default 10000; quick 3000)")
    parser.add_argument("--convergence-stop", type=float, default=None,
                        help="a layer stops learning when C = mean w(1-w) falls below this "
                             "(default 0.01; 0: every --stdp-images image, as SpykeTorch's "
                             "fixed epochs)")


def check_options(ctx: RunContext, dataset: str, stdp_images: int | Sequence[int] | None,
                  n_layers: int = 2) -> tuple[int, ...]:
    """Validates the dataset name; returns the most STDP learning images of each layer
    (``stdp_images``: one count for all ``n_layers`` layers, or one per layer)."""
    if dataset not in DATASETS:
        raise fail("dataset", dataset, "one of " + ", ".join(DATASETS))
    if stdp_images is None:
        stdp_images = 3000 if ctx.quick else 10_000
    counts = [stdp_images] if isinstance(stdp_images, int) else list(stdp_images)
    if len(counts) not in (1, n_layers):
        raise fail("stdp_images", stdp_images, f"one count, or one per layer ({n_layers})")
    return tuple(check_int("stdp_images", n, 1) for n in counts * (n_layers // len(counts)))


def with_convergence_stop(arch: Architecture, stop: float | None) -> Architecture:
    """``arch`` with every STDP layer's convergence stop set to ``stop`` (None: unchanged)."""
    if stop is None:
        return arch
    value = check_number("convergence_stop", stop, Interval(0.0, 0.25, "both"))
    return dataclasses.replace(arch, layers=tuple(
        dataclasses.replace(layer, convergence_stop=value) for layer in arch.layers))


def load(dataset: str, data_dir: str | None, train_images: int | None, seed: int,
         verify: bool = True) -> tuple[Any, ...]:
    """``(x_train, y_train, x_test, y_test)``; images ``[N, 28, 28]`` in [0, 1] (the 8x8
    digits upsampled into MNIST's frame), the training set cut to ``train_images``
    (``verify``: check the IDX files' published checksums)."""
    torch.manual_seed(seed)
    if dataset == "digits":
        d = load_digits_split(seed=seed)
        x_tr, x_te = upsample_digits(d.x_train), upsample_digits(d.x_test)
    else:
        d = load_mnist(dataset, data_dir, verify=verify)
        x_tr, x_te = torch.from_numpy(d.x_train), torch.from_numpy(d.x_test)
    y_tr = d.y_train
    if train_images is not None:
        n = check_int("train_images", train_images, 10, len(x_tr))
        x_tr, y_tr = x_tr[:n], y_tr[:n]
    return x_tr, y_tr, x_te, d.y_test


def train_stdp_layers(ctx: RunContext, net: STDPConvNet, images: torch.Tensor,
                      max_images: Sequence[int]) -> tuple[list[list[tuple[int, float]]], float]:
    """Each STDP layer in turn, on at most ``max_images[i]`` images (until convergence);
    returns the histories and the seconds."""
    start = time.perf_counter()
    histories = [net.train_layer(i, images, max_images[i],
                                 progress=lambda it, desc: ctx.progress_bar(it, desc=desc))
                 for i in range(len(net.layers))]
    return histories, time.perf_counter() - start
