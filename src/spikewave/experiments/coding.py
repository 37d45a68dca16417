"""``coding``: backprop through time is agnostic about the neural code. The same network
trained on the same images given as direct current, as rate (Bernoulli) spikes and as
latency (time-to-first-spike) spikes, and on events (N-MNIST).

Each run is ``spikewave train --model dense --encoding E`` (:mod:`spikewave.train.encodings`;
LIF layers with trainable time constants, subtract reset, leaky readout, Adam with cosine
decay, cross-entropy on the time-averaged readout):

- direct: the pixel intensities as a constant input current at every step;
- rate: each pixel fires at every step with probability equal to its intensity in [0, 1];
- latency: each pixel fires once, at step ``floor(T (1 - x / x_max))``, the brighter the
  earlier (dark pixels never);
- events (full run, when ``nmnist_small_slayer.tar.gz`` is in ``--data-dir``): N-MNIST's
  recordings of the saccading sensor binned into frames, the network's input as recorded.

Images: the embedded 8x8 digits (64-128-10 over 16 steps), or MNIST (784-512-512-10 over 16
steps) in the full run when ``--data-dir`` holds it (``--images`` chooses); N-MNIST:
2312-256-10 over 16 frames.
For each code: the test accuracy, the hidden spikes per test sample, and the mean decision
step (:mod:`spikewave.train.decision`: the first step from which the running prediction no
longer changes).

Checks: every code reaches a test accuracy of at least ``MIN_ACCURACY`` (five times chance
on ten classes), the lecture's claim that BPTT learns whatever the code; the spike counts and
decision steps are reported, not judged (the codes differ in them by construction: the
latency code sends at most one spike per pixel). ``--quick`` trains each image code for a
few epochs on the digits (no events) with the same check.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from spikewave._validation import check_choice, check_int
from spikewave.experiments._training import Trained, mnist_available, train_dense
from spikewave.experiments.registry import Metric, Reproduction, Result, RunContext
from spikewave.train.encodings import ENCODINGS
from spikewave.train.loop import TrainConfig

MIN_ACCURACY = 0.5  # five times chance (10 classes): "trains well above chance"


@dataclass(frozen=True)
class Config:
    time_steps: int
    epochs: int
    batch_size: int


CONFIGS = {"digits": Config(16, 20, 64), "mnist": Config(16, 5, 128),
           "nmnist": Config(16, 20, 64)}
QUICK = Config(8, 3, 64)


def nmnist_available(data_dir: str | None) -> bool:
    """Whether SLAYER's N-MNIST archive is in ``data_dir`` (or $SPIKEWAVE_DATA)."""
    from spikewave.train.recipes import slayer_archive

    return slayer_archive(data_dir) is not None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None,
                        help="folder with MNIST and N-MNIST (default: $SPIKEWAVE_DATA; "
                             "without MNIST the digits are used, without N-MNIST no events)")
    parser.add_argument("--images", choices=("digits", "mnist"), default=None,
                        help="the image dataset (default: mnist in the full run when it is "
                             "in --data-dir, else digits)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the number of epochs of every run")


def run(ctx: RunContext, data_dir: str | None = None, epochs: int | None = None,
        images: str | None = None) -> Result:
    if epochs is not None:
        epochs = check_int("epochs", epochs, 1)
    if images is not None:
        dataset = check_choice("images", images, ("digits", "mnist"))
    else:
        dataset = "mnist" if not ctx.quick and mnist_available(data_dir) else "digits"
    rec = QUICK if ctx.quick else CONFIGS[dataset]
    runs: dict[str, Trained] = {}
    for encoding in ENCODINGS:
        cfg = TrainConfig(epochs=epochs or rec.epochs, batch_size=rec.batch_size, lr=2e-3,
                          seed=ctx.seed, encoding=encoding)
        runs[encoding] = train_dense(ctx, dataset, data_dir, rec.time_steps, cfg,
                                     ctx.out_dir / f"coding_{encoding}")
    if not ctx.quick and nmnist_available(data_dir):
        ev = CONFIGS["nmnist"]
        cfg = TrainConfig(epochs=epochs or ev.epochs, batch_size=ev.batch_size, lr=2e-3,
                          seed=ctx.seed)
        runs["events"] = train_dense(ctx, "nmnist", data_dir, ev.time_steps, cfg,
                                     ctx.out_dir / "coding_events")
    metrics: list[Metric] = []
    for code, t in runs.items():
        metrics += [
            Metric(f"{code}_test_accuracy", t.accuracy, MIN_ACCURACY,
                   f">= {MIN_ACCURACY:g} (five times chance)", t.accuracy >= MIN_ACCURACY),
            Metric(f"{code}_spikes_per_sample", t.spikes_per_sample, None, "reported",
                   unit="spikes"),
            Metric(f"{code}_decision_step", t.decision_step, None,
                   f"reported (of 0..{t.time_steps - 1})", unit="steps"),
        ]
    figure = _figure(runs, dataset, ctx.figure_path("coding.png"))
    return Result("coding", REPRODUCTION.title, metrics, [figure],
                  extra={"runs": {code: t.as_json() for code, t in runs.items()}},
                  config={"dataset": dataset, "codes": list(runs),
                          "events": "nmnist" if "events" in runs else None,
                          "time_steps": rec.time_steps, "epochs": epochs or rec.epochs,
                          "batch_size": rec.batch_size, "lr": 2e-3})


def _figure(runs: dict[str, Trained], dataset: str, path: Path) -> Path:
    from spikewave.plot import new_figure, save_figure

    codes = list(runs)
    labels = [c if c != "events" else "events\n(N-MNIST)" for c in codes]
    x = list(range(len(codes)))
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:purple"][:len(codes)]
    fig, axes = new_figure(1, 3, width=11.0, height=3.6)
    panels = [(lambda t: 100 * t.accuracy, "test accuracy (%)"),
              (lambda t: t.spikes_per_sample, "hidden spikes per sample (spikes)"),
              (lambda t: t.decision_step, "mean decision step (steps)")]
    for ax, (value, label) in zip(axes, panels, strict=True):
        heights = [value(runs[c]) for c in codes]
        ax.bar(x, heights, color=colors)
        for i, h in enumerate(heights):
            ax.text(i, h, f"{h:.3g}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x, labels)
        ax.set_xlabel("input code")
        ax.set_ylabel(label)
        ax.set_ylim(0, 1.15 * max(max(heights), 1e-9))
    axes[0].axhline(100 * MIN_ACCURACY, color="0.4", ls="--", lw=1)
    axes[0].axhline(10, color="0.6", ls=":", lw=1)
    fig.suptitle(f"One network, {len(codes)} codes ({dataset} images"
                 + (", N-MNIST events)" if "events" in runs else ")"))
    return save_figure(fig, path, caption=(
        f"The same dense LIF network trained by BPTT on {dataset} given as direct current, "
        "Bernoulli rate spikes and latency spikes" + (" and on N-MNIST events" if "events" in
                                                     runs else "")
        + ": test accuracy (dashed: the 50 % check, dotted: chance), hidden spikes per test "
        "sample, and the mean step from which the running prediction no longer changes"))


REPRODUCTION = Reproduction(
    name="coding",
    title="Coding agnosticism of BPTT: direct, rate, latency and event input",
    run=run,
    add_arguments=add_arguments,
    description=__doc__ or "",
)
