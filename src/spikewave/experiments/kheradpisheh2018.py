"""``kheradpisheh2018``: STDP-based deep convolutional features + linear SVM.

Kheradpisheh, Ganjtabesh, Thorpe & Masquelier 2018 (docs/references.md section 3). Grey images
-> ON/OFF DoG (7x7, sigmas 1 and 2) -> intensity-to-latency spike wave (15 steps, equal-count
bins) -> conv1 (30 maps 5x5, threshold 15, 5 learning winners, inhibition radius 2) ->
first-spike pooling 2x2 -> conv2 (100 maps 5x5, threshold 10, 8 winners, radius 1). Each
layer learns by ordinal STDP (a+ = 0.004 doubling every 500 images to 0.15, a- = -0.75 a+,
initial weights N(0.8, 0.05)) one image at a time until C = mean w(1-w) < 0.01. Features:
conv2's potentials after the whole wave, max-pooled over a ``grid x grid`` partition of
positions (``--grid 1`` is the paper's global max pooling, 100 features); a linear SVM reads
them. The accuracy of global pooling is always reported beside the chosen grid, and the same
architecture with its initial (untrained) weights gives the baseline under the same readout.

The label-efficiency curve refits the readout on K labelled examples per class (5 random
draws each; mean and standard deviation) -- the lecture's "a few tens of labelled examples".
Target: MNIST test accuracy >= 98.4 % (the paper). On the embedded digits (8x8 upsampled to
20x20 in a 28x28 frame, as MNIST digits sit) the check is that STDP features beat the
untrained ones.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from spikewave._validation import POSITIVE, check_int, check_number, fail
from spikewave.coding.retina import dog_filter
from spikewave.experiments._vision import (
    add_data_arguments,
    check_options,
    load,
    train_stdp_layers,
    with_convergence_stop,
)
from spikewave.experiments.registry import Metric, Reproduction, Result, RunContext
from spikewave.nn.stdp_net import STDPConvNet, mnist_architecture
from spikewave.plot import vision as plots
from spikewave.train.readout import LinearReadout, few_label_subset

PAPER_MNIST = 0.984
DRAWS = 5  # random draws per point of the label curve (2 when quick)


def parse_labels(text: str) -> list[int | None]:
    """``"10,20,all"`` -> ``[10, 20, None]`` (None = every training label)."""
    out: list[int | None] = []
    for item in str(text).split(","):
        item = item.strip()
        if item == "all":
            out.append(None)
            continue
        try:
            k = int(item)
        except ValueError:
            k = 0
        if k < 1:
            raise fail("labels_per_class", text, "a comma-separated list of integers >= 1 "
                       "or 'all', e.g. 10,20,50,100,all")
        out.append(k)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
    parser.add_argument("--labels-per-class", default="10,20,50,100,all",
                        help="label-efficiency curve points (comma list, 'all' = every label)")
    parser.add_argument("--grid", type=int, default=3,
                        help="max-pool the last layer over a grid x grid partition (1 = global)")
    parser.add_argument("--time-steps", type=int, default=15, help="latency bins (default 15)")
    parser.add_argument("--svm-c", type=float, default=0.1,
                        help="LinearSVC regularisation C, > 0 (default 0.1)")


def _label_curve(ftr, ytr, fte, yte, points, c, seed, all_accuracy: float,
                 draws: int = DRAWS) -> tuple[list[float], list[float]]:
    """Mean and std of the test accuracy with K labels per class (``all_accuracy`` is the
    already measured accuracy with every label)."""
    means, stds = [], []
    for k in points:
        if k is None:
            accs = [all_accuracy]
        else:
            rng = np.random.default_rng(seed)
            accs = []
            for _ in range(draws):
                idx = few_label_subset(ytr, k, rng)
                accs.append(LinearReadout(c, seed=seed).fit(ftr[idx], ytr[idx]).score(fte, yte))
        means.append(float(np.mean(accs)))
        stds.append(float(np.std(accs)))
    return means, stds


def run(ctx: RunContext, dataset: str = "digits", data_dir: str | None = None,
        train_images: int | None = None, stdp_images: int | list[int] | None = None,
        labels_per_class: str = "10,20,50,100,all", grid: int = 3, time_steps: int = 15,
        svm_c: float = 0.1, convergence_stop: float | None = None,
        verify: bool = True) -> Result:
    n_stdp = check_options(ctx, dataset, stdp_images)
    points = parse_labels(labels_per_class)
    grid = check_int("grid", grid, 1, 8)
    time_steps = check_int("time_steps", time_steps, 2, 255)
    svm_c = check_number("svm_c", svm_c, POSITIVE)
    x_tr, y_tr, x_te, y_te = load(dataset, data_dir, train_images, ctx.seed, verify)
    arch = with_convergence_stop(mnist_architecture(time_steps), convergence_stop)
    net = STDPConvNet(arch, seed=ctx.seed)
    untrained = STDPConvNet(arch, seed=ctx.seed)
    bar = ctx.progress_bar

    histories, stdp_train_s = train_stdp_layers(ctx, net, x_tr, n_stdp)

    start = time.perf_counter()
    f_tr = net.features(x_tr, grid, progress=lambda it, desc: bar(it, desc="train " + desc))
    f_te = net.features(x_te, grid, progress=lambda it, desc: bar(it, desc="test " + desc))
    extract_s = time.perf_counter() - start
    u_tr, u_te = untrained.features(x_tr, grid), untrained.features(x_te, grid)

    start = time.perf_counter()
    readout = LinearReadout(svm_c, seed=ctx.seed).fit(f_tr, y_tr)
    pred = readout.predict(f_te)
    svm_s = time.perf_counter() - start
    acc = float(np.mean(pred == y_te))
    n_maps = int(arch.layers[-1].out_maps)

    def global_pool(f: np.ndarray) -> np.ndarray:  # the grid's maxima hold the global max
        return f.reshape(len(f), n_maps, grid * grid).max(2)

    global_acc = LinearReadout(svm_c, seed=ctx.seed).fit(global_pool(f_tr), y_tr).score(
        global_pool(f_te), y_te) if grid > 1 else acc
    untrained_acc = LinearReadout(svm_c, seed=ctx.seed).fit(u_tr, y_tr).score(u_te, y_te)
    draws = 2 if ctx.quick else DRAWS
    curve, spread = _label_curve(f_tr, y_tr, f_te, y_te, points, svm_c, ctx.seed, acc, draws)
    u_curve, _ = _label_curve(u_tr, y_tr, u_te, y_te, points, svm_c, ctx.seed, untrained_acc,
                              draws)
    labels = ["all" if k is None else str(k) for k in points]

    sample = x_te[:1]
    input_times = net.encode(sample)
    r = arch.retina
    dog = dog_filter(sample.float(), r.kernels, threshold=r.dog_threshold)[0]
    figures = [
        plots.dog_maps_figure(sample[0], dog, ctx.figure_path("kheradpisheh_dog.png")),
        plots.spike_wave_figure(input_times[0], time_steps,
                                ctx.figure_path("kheradpisheh_wave.png")),
        plots.features_figure(plots.first_layer_features(net.layers[0].weight),
                              "conv1 features (ON - OFF weights)",
                              ctx.figure_path("kheradpisheh_conv1.png")),
        plots.features_figure(plots.reconstruct_second_layer(
            net.layers[0].weight, net.layers[1].weight, arch.pools[0].stride),
            "conv2 features reconstructed in pixel space",
            ctx.figure_path("kheradpisheh_conv2.png")),
        plots.convergence_figure(histories, arch.layers[0].convergence_stop,
                                 ctx.figure_path("kheradpisheh_convergence.png")),
        plots.confusion_figure(y_te, pred, 10, ctx.figure_path("kheradpisheh_confusion.png")),
        plots.label_efficiency_figure(labels, curve, spread, u_curve,
                                      ctx.figure_path("kheradpisheh_labels.png")),
    ]
    n_extract = len(x_tr) + len(x_te)
    if dataset == "mnist":
        target = Metric("test_accuracy", acc, PAPER_MNIST, ">= 0.984 (the paper)",
                        acc >= PAPER_MNIST)
    else:
        target = Metric("test_accuracy", acc, None, "> untrained_test_accuracy (STDP learns "
                        "useful features)", acc > untrained_acc)
    metrics = [
        target,
        Metric("untrained_test_accuracy", untrained_acc, None, "same readout, initial weights"),
        Metric("global_pool_accuracy", global_acc, None, "grid 1: the paper's 100 features"),
        Metric("stdp_train_s", stdp_train_s, None, "reported", None, "s"),
        Metric("extract_images_per_s", n_extract / extract_s, None, "reported", None,
               "images/s"),
    ]
    return Result(
        "kheradpisheh2018", REPRODUCTION.title, metrics, figures,
        extra={"n_train": len(x_tr), "n_test": len(x_te), "n_features": int(f_tr.shape[1]),
               "svm_s": svm_s,
               "labels_per_class": {k: a for k, a in zip(labels, curve, strict=True)},
               "labels_per_class_std": {k: s for k, s in zip(labels, spread, strict=True)},
               "labels_per_class_untrained": {k: a for k, a in zip(labels, u_curve,
                                                                   strict=True)},
               "learning_images": [h[-1][0] for h in histories],
               "final_convergence": [h[-1][1] for h in histories]},
        config={"dataset": dataset, "grid": grid, "time_steps": time_steps,
                "stdp_images": n_stdp, "svm_c": svm_c, "seed": ctx.seed})


REPRODUCTION = Reproduction(
    name="kheradpisheh2018",
    title="STDP deep convolutional features + linear SVM (Kheradpisheh et al. 2018)",
    run=run,
    add_arguments=add_arguments,
    description=__doc__ or "",
)
