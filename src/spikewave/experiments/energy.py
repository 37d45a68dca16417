"""``energy``: are spiking networks energy efficient? Synaptic operations and estimated
energy per inference of the MNIST dense and conv SNNs against the same architectures as
ANNs.

Each SNN is ``spikewave train``'s network for the dataset (:mod:`spikewave.train.recipes`:
direct-current input, LIF layers with trainable time constants, a leaky readout); its ANN
twin has the same layers and sizes with ReLU in place of the LIF neurons and one pass
instead of ``T`` steps:

- dense: 784-512-512-10 (the embedded digits: 64-128-10), SNN over 10 steps (digits: 16);
- conv: (Conv3x3-BN-MaxPool-LIF|ReLU) 32, 64, then 256 LIF|ReLU, then 10, SNN over 4 steps,
  training images shifted by up to 2 pixels on MNIST.

All four are trained by the same loop (Adam 2e-3 with cosine decay, cross-entropy on the
time-averaged output). On the test set :mod:`spikewave.metrics` counts, per inference,
NeuroBench's synaptic operations -- accumulates (ACs) where a layer receives spikes,
multiply-accumulates (MACs) where it receives real values (the SNNs' first layer, which
multiplies each constant image once, and every ANN layer; products with a zero input are
skipped in both) -- and estimates their energy with Horowitz's 45 nm figures for 32-bit
floats (0.9 pJ per add, 4.6 pJ per multiply-add; ISSCC 2014). That is the lecture's
argument ("energy efficient: sparse coding") in NeuroBench's terms; it counts arithmetic
only. ``energy_with_neurons_nj`` adds one multiply-add per membrane update (the decay and
the input of each LIF step) -- still no memory traffic, which often dominates on real
hardware (Dampfhoffer et al. 2023, IEEE TETCI 7:731).

Checks (full run): each SNN's estimated synaptic energy per inference is below its ANN
twin's (``*_energy_ratio < 1``); the accuracies are reported. ``--quick`` trains on the
embedded 8x8 digits (two epochs for the dense pair, one for the conv pair) and reports
without judging.
"""

from __future__ import annotations

import argparse
import copy
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from spikewave._validation import check_int
from spikewave.experiments.registry import Metric, Reproduction, Result, RunContext, below
from spikewave.metrics import HOROWITZ_45NM, Counts, measure_dataset
from spikewave.train.datasets import inputs_of_test_set
from spikewave.train.loop import TrainConfig, fit
from spikewave.train.recipes import Recipe, build

ARCHITECTURES = ("dense", "conv")


@dataclass(frozen=True)
class Config:
    time_steps: int
    epochs: int
    batch_size: int


# (dataset, architecture) -> the SNN's recipe; the ANN twin trains as long
CONFIGS = {
    ("digits", "dense"): Config(16, 30, 64),
    ("digits", "conv"): Config(4, 15, 64),
    ("mnist", "dense"): Config(10, 20, 128),
    ("mnist", "conv"): Config(4, 15, 64),
}
QUICK = {"dense": Config(8, 2, 64), "conv": Config(4, 1, 64)}


class StaticNet(nn.Module):
    """An ANN in the training loop's interface: ``x[1, B, ...]`` -> (logits ``[1, B,
    n_out]``, 0 spikes)."""

    def __init__(self, layers: list[nn.Module]) -> None:
        super().__init__()
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.layers(x[0]).unsqueeze(0), x.new_zeros(())


def ann_twin(snn: nn.Module, seed: int) -> StaticNet:
    """The ANN with the SNN's layers and sizes: each LIF layer becomes a ReLU, a
    :class:`~spikewave.nn.LinearLIF` a Linear then a ReLU, a
    :class:`~spikewave.nn.SpikeLinear` a Linear; the initialisation is PyTorch's default,
    drawn from a generator seeded with ``seed``."""
    from spikewave.nn import LIF, LinearLIF, SpikeLinear, TimeDistributed

    layers: list[nn.Module] = []
    for layer in snn.layers:
        if isinstance(layer, TimeDistributed):
            layers += [_fresh(m) for m in layer.module.modules()
                       if not isinstance(m, nn.Sequential)]
        elif isinstance(layer, LIF):
            layers.append(nn.ReLU())
        elif isinstance(layer, LinearLIF):
            layers += [nn.Linear(layer.in_features, layer.out_features), nn.ReLU()]
        elif isinstance(layer, SpikeLinear):
            layers.append(nn.Linear(layer.in_features, layer.out_features))
        else:  # pragma: no cover - the recipes' dense and conv networks only
            raise TypeError(f"no ANN twin for {type(layer).__name__}")
    net = StaticNet(layers)
    gen = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.Linear | nn.Conv2d):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
            if m.bias is not None:
                bound = 1 / math.sqrt(m.weight[0].numel())
                nn.init.uniform_(m.bias, -bound, bound, generator=gen)
    return net


def _fresh(module: nn.Module) -> nn.Module:
    """An untrained copy of a stateless or convolution / batch-norm module."""
    if isinstance(module, nn.Conv2d):
        return nn.Conv2d(module.in_channels, module.out_channels, module.kernel_size,
                         module.stride, module.padding, bias=module.bias is not None)
    if isinstance(module, nn.BatchNorm2d):
        return nn.BatchNorm2d(module.num_features)
    return copy.deepcopy(module)


def _ann_recipe(recipe: Recipe, seed: int) -> Recipe:
    def encode(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return recipe.encode(x, gen)[:1].contiguous()  # the image once: [1, B, ...]

    return Recipe(recipe.data, ann_twin(recipe.model, seed), encode,
                  "the same layers and sizes with ReLU in place of the LIF neurons, one "
                  "pass of the image", recipe.augment)


@dataclass(frozen=True)
class Trained:
    accuracy: float
    counts: Counts
    epochs: int
    time_steps: int


def _train(recipe: Recipe, cfg: TrainConfig, out: Path, time_steps: int,
           ctx: RunContext) -> Trained:
    res = fit(recipe.model, recipe.data, recipe.encode, cfg, out, progress=ctx.progress,
              augment=recipe.augment)
    counts = measure_dataset(recipe.model, inputs_of_test_set(recipe.data), recipe.encode,
                             batch_size=256, seed=ctx.seed)
    return Trained(res.test_accuracy, counts, res.epochs, time_steps)


def energy_nj(counts: Counts, with_neurons: bool = False) -> float:
    """Estimated energy per inference in nJ (synaptic operations; with ``with_neurons`` one
    multiply-add per membrane update added)."""
    pj = counts.energy_pj(HOROWITZ_45NM)
    if with_neurons:
        pj += counts.membrane_updates * HOROWITZ_45NM.mac_pj
    return pj / 1e3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=("digits", "mnist"), default=None,
                        help="default: mnist, or digits with --quick")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the dataset files (default: $SPIKEWAVE_DATA)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the number of epochs of every network")
    parser.add_argument("--architectures", nargs="+", choices=ARCHITECTURES,
                        default=list(ARCHITECTURES), help="which SNN / ANN pairs to train "
                        "(default: both)")


def run(ctx: RunContext, dataset: str | None = None, data_dir: str | None = None,
        epochs: int | None = None, architectures: list[str] | None = None) -> Result:
    dataset = dataset or ("digits" if ctx.quick else "mnist")
    archs = tuple(a for a in ARCHITECTURES if a in (architectures or ARCHITECTURES))
    if epochs is not None:
        epochs = check_int("epochs", epochs, 1)
    trained: dict[str, Trained] = {}
    recipes: dict[str, str] = {}
    for arch in archs:
        rec = QUICK[arch] if ctx.quick and dataset == "digits" else CONFIGS[dataset, arch]
        n_epochs = epochs or (max(2, rec.epochs // 3) if ctx.quick and dataset != "digits"
                              else rec.epochs)
        cfg = TrainConfig(epochs=n_epochs, batch_size=rec.batch_size, lr=2e-3, seed=ctx.seed)
        snn = build(dataset, arch, rec.time_steps, ctx.seed, data_dir)
        ann = _ann_recipe(snn, ctx.seed)
        recipes[f"snn_{arch}"], recipes[f"ann_{arch}"] = snn.description, ann.description
        trained[f"snn_{arch}"] = _train(snn, cfg, ctx.out_dir / f"snn_{arch}",
                                        rec.time_steps, ctx)
        trained[f"ann_{arch}"] = _train(ann, cfg, ctx.out_dir / f"ann_{arch}", 1, ctx)

    judged = not ctx.quick
    metrics: list[Metric] = []
    for arch in archs:
        for kind in ("snn", "ann"):
            t = trained[f"{kind}_{arch}"]
            metrics += [
                Metric(f"{kind}_{arch}_test_accuracy", t.accuracy, None, "reported"),
                Metric(f"{kind}_{arch}_synops_ac", t.counts.synops_ac, None, "reported"),
                Metric(f"{kind}_{arch}_synops_mac", t.counts.synops_mac, None, "reported"),
                Metric(f"{kind}_{arch}_energy", energy_nj(t.counts), None, "reported",
                       unit="nJ"),
            ]
        ratio = energy_nj(trained[f"snn_{arch}"].counts) / energy_nj(
            trained[f"ann_{arch}"].counts)
        metrics.append(below(f"{arch}_energy_ratio", ratio, 1.0, what="(SNN / ANN)")
                       if judged else Metric(f"{arch}_energy_ratio", ratio, None,
                                             "reported (SNN / ANN)"))
    figure = _figure(trained, archs, dataset, ctx.figure_path("energy.png"))
    models = {name: {"test_accuracy": t.accuracy, "time_steps": t.time_steps,
                     "epochs": t.epochs, "energy_nj": energy_nj(t.counts),
                     "energy_with_neurons_nj": energy_nj(t.counts, True),
                     **t.counts.as_json()}
              for name, t in trained.items()}
    return Result("energy", REPRODUCTION.title, metrics, [figure],
                  extra={"models": models, "energy_model": HOROWITZ_45NM.source},
                  config={"dataset": dataset, "architectures": list(archs),
                          "recipes": recipes,
                          "epochs": {n: t.epochs for n, t in trained.items()},
                          "ac_pj": HOROWITZ_45NM.ac_pj, "mac_pj": HOROWITZ_45NM.mac_pj})


def _figure(trained: dict[str, Trained], archs: tuple[str, ...], dataset: str, path: Path
            ) -> Path:
    from spikewave.plot import new_figure, save_figure

    fig, axes = new_figure(1, len(archs), width=max(5.5, 4.0 * len(archs)), height=3.8,
                           squeeze=False)
    for ax, arch in zip(axes[0], archs, strict=True):
        runs = [trained[f"snn_{arch}"], trained[f"ann_{arch}"]]
        e_mac = [HOROWITZ_45NM.mac_pj * t.counts.synops_mac / 1e3 for t in runs]
        e_ac = [HOROWITZ_45NM.ac_pj * t.counts.synops_ac / 1e3 for t in runs]
        ax.bar([0, 1], e_mac, color="tab:red", label="MACs (4.6 pJ each)")
        ax.bar([0, 1], e_ac, bottom=e_mac, color="tab:blue", label="ACs (0.9 pJ each)")
        for i, t in enumerate(runs):
            ax.text(i, e_mac[i] + e_ac[i], f"{100 * t.accuracy:.1f} %\n"
                    f"{t.counts.synops_ac / 1e3:,.0f}k ACs\n"
                    f"{t.counts.synops_mac / 1e3:,.0f}k MACs",
                    ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, 1.35 * max(m + a for m, a in zip(e_mac, e_ac, strict=True)))
        ax.set_xticks([0, 1], [f"SNN ({runs[0].time_steps} steps)", "ANN"])
        ax.set_ylabel("estimated nJ per inference")
        ax.set_title(f"{arch} network")
        ax.legend(frameon=False, loc="upper left", fontsize=8)
    fig.suptitle(f"Synaptic energy per inference, {dataset}\n(45 nm, 32-bit float)")
    return save_figure(fig, path, caption=(
        f"SNNs against ANNs of the same layers on {dataset}: estimated energy of the "
        "synaptic operations per inference, accumulates for spike inputs (0.9 pJ) and "
        "multiply-accumulates for real-valued ones (4.6 pJ; Horowitz 2014, 45 nm), with "
        "each network's test accuracy and operation counts above its bar"))


REPRODUCTION = Reproduction(
    name="energy",
    title="Energy efficiency of spiking networks: synaptic operations against ANNs",
    run=run,
    add_arguments=add_arguments,
    description=__doc__ or "",
)
