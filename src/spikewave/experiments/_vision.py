"""What the deep-STDP vision reproductions share: dataset options, loading, layer-wise STDP."""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from spikewave._validation import check_int, fail
from spikewave.data.digits import load_digits_split
from spikewave.data.mnist import load_mnist
from spikewave.experiments.registry import RunContext
from spikewave.nn.stdp_net import STDPConvNet, upsample_digits

DATASETS = ("digits", "mnist", "fashion")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=DATASETS, default="digits",
                        help="digits (embedded, default), mnist or fashion (IDX files)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the IDX files (default: $SPIKEWAVE_DATA)")
    parser.add_argument("--train-images", type=int, default=None,
                        help="training images (default: all)")
    parser.add_argument("--stdp-images", type=int, default=None,
                        help="most learning images per STDP layer (default 10000; quick 3000)")


def check_options(ctx: RunContext, dataset: str, stdp_images: int | None) -> int:
    """Validates the dataset name; returns the number of STDP learning images per layer."""
    if dataset not in DATASETS:
        raise fail("dataset", dataset, "one of " + ", ".join(DATASETS))
    return check_int("stdp_images", stdp_images if stdp_images is not None else
                     (3000 if ctx.quick else 10_000), 1)


def load(dataset: str, data_dir: str | None, train_images: int | None, seed: int
         ) -> tuple[Any, ...]:
    """``(x_train, y_train, x_test, y_test)``; images ``[N, 28, 28]`` in [0, 1] (the 8x8
    digits upsampled into MNIST's frame), the training set cut to ``train_images``."""
    torch.manual_seed(seed)
    if dataset == "digits":
        d = load_digits_split(seed=seed)
        x_tr, x_te = upsample_digits(d.x_train), upsample_digits(d.x_test)
    else:
        d = load_mnist(dataset, data_dir)
        x_tr, x_te = torch.from_numpy(d.x_train), torch.from_numpy(d.x_test)
    y_tr = d.y_train
    if train_images is not None:
        n = check_int("train_images", train_images, 10, len(x_tr))
        x_tr, y_tr = x_tr[:n], y_tr[:n]
    return x_tr, y_tr, x_te, d.y_test


def train_stdp_layers(ctx: RunContext, net: STDPConvNet, images: torch.Tensor, max_images: int
                      ) -> tuple[list[list[tuple[int, float]]], float]:
    """Each STDP layer in turn (until convergence); returns the histories and the seconds."""
    start = time.perf_counter()
    histories = [net.train_layer(i, images, max_images,
                                 progress=lambda it, desc: ctx.progress_bar(it, desc=desc))
                 for i in range(len(net.layers))]
    return histories, time.perf_counter() - start
