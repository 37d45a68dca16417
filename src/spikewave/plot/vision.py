"""Figures of the deep STDP vision network: retina, spike wave, features, learning, errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.ticker import MaxNLocator

from spikewave.plot import new_figure, save_figure


def dog_maps_figure(image, on_off, path: Path) -> Path:
    """The image and its ON and OFF DoG responses (``on_off``: ``[2, H, W]``)."""
    fig, axes = new_figure(1, 3, width=9, height=3.2)
    for ax, data, title, cmap in zip(axes, (image, on_off[0], on_off[1]),
                                     ("image", "ON-centre DoG", "OFF-centre DoG"),
                                     ("gray", "Reds", "Blues"), strict=True):
        im = ax.imshow(np.asarray(data), cmap=cmap)
        ax.set_title(title)
        ax.set_axis_off()
        fig.colorbar(im, ax=ax, shrink=0.8)
    return save_figure(fig, path, caption=(
        "Retina: an input image and its ON-centre and OFF-centre difference-of-Gaussians "
        "responses (after rectification), the contrast the spike wave encodes."))


def spike_wave_figure(times, time_steps: int, path: Path, snapshots: int = 5) -> Path:
    """First-spike time maps of the ON and OFF inputs (``times``: ``[2, H, W]``, inf =
    silent), and the cumulative wave at a few steps (ON in red, OFF in blue)."""
    t = np.asarray(times, dtype=float)
    fig, axes = new_figure(2, snapshots, width=2.0 * snapshots, height=4.4)
    masked = np.ma.masked_invalid(np.where(np.isfinite(t), t, np.nan))
    for i, name in enumerate(("ON", "OFF")):
        im = axes[0, i].imshow(masked[i], cmap="viridis_r", vmin=0, vmax=time_steps - 1)
        axes[0, i].set_title(f"{name}: first-spike step")
    fig.colorbar(im, ax=axes[0, :2], shrink=0.8, label="step (earlier = stronger)")
    counts = [np.isfinite(t[c]).sum() for c in range(2)]
    axes[0, 2].bar(["ON", "OFF"], counts, color=["C3", "C0"])
    axes[0, 2].set_title("spikes per image")
    for ax in axes[0, 3:]:
        ax.set_axis_off()
    for ax in axes[0, :2]:
        ax.set_axis_off()
    for j, step in enumerate(np.linspace(0, time_steps - 1, snapshots).round().astype(int)):
        rgb = np.ones((*t.shape[1:], 3))
        on, off = t[0] <= step, t[1] <= step
        rgb[on] = (0.85, 0.15, 0.1)
        rgb[off] = (0.1, 0.3, 0.85)
        axes[1, j].imshow(rgb)
        axes[1, j].set_title(f"wave at step {step}")
        axes[1, j].set_axis_off()
    return save_figure(fig, path, caption=(
        f"Latency coding: the time step (0-{time_steps - 1}) at which each ON and OFF input "
        "fires its single spike (stronger contrast fires earlier; blank: silent), the "
        "number of spikes per polarity, and the cumulative spike wave at a few steps (ON "
        "red, OFF blue)."))


def _tile(images: np.ndarray, ax, title: str, cols: int = 10) -> None:
    n = len(images)
    rows = -(-n // cols)
    h, w = images.shape[1:]
    canvas = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        lim = np.abs(img).max() or 1.0
        canvas[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + c * (w + 1):1 + c * (w + 1) + w] = \
            img / lim
    ax.imshow(np.ma.masked_invalid(canvas), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_title(title)
    ax.set_axis_off()


def first_layer_features(weight: torch.Tensor) -> np.ndarray:
    """Pixel-space view of first-layer features: ON weights minus OFF weights per kernel."""
    w = weight.detach().cpu().double()
    return (w[:, 0::2] - w[:, 1::2]).sum(1).numpy()


def reconstruct_second_layer(weight1: torch.Tensor, weight2: torch.Tensor, pool_stride: int
                             ) -> np.ndarray:
    """Second-layer features in pixel space: each second-layer weight places its first-layer
    feature's pixel view at its position (pool stride apart) -- the paper's reconstruction."""
    pix = torch.from_numpy(first_layer_features(weight1)).unsqueeze(1)  # [C1, 1, k1, k1]
    w2 = weight2.detach().cpu().double()  # [F2, C1, k2, k2]
    return F.conv_transpose2d(w2, pix, stride=pool_stride).squeeze(1).numpy()


def features_figure(features: np.ndarray, title: str, path: Path, cols: int = 10) -> Path:
    n = len(features)
    rows = -(-n // cols)
    fig, ax = new_figure(width=1.0 * cols, height=1.0 * rows + 0.5)
    _tile(features, ax, title, cols)
    return save_figure(fig, path, caption=(
        f"{title}: each learnt feature shown in pixel space (ON weights minus OFF weights; "
        "red positive, blue negative), one tile per feature map."))


def convergence_figure(histories: Sequence[Sequence[tuple[int, float]]], stop: float,
                       path: Path) -> Path:
    """Convergence ``C = mean w(1 - w)`` of each layer against learning images."""
    fig, ax = new_figure(width=6, height=3.6)
    for i, hist in enumerate(histories):
        n, c = np.array(hist).T
        ax.plot(n, c, label=f"layer {i + 1}")
    ax.axhline(stop, color="k", ls=":", lw=1, label=f"stop (C < {stop:g})")
    ax.set(xlabel="learning images", ylabel="C = mean w(1-w)", yscale="log")
    ax.legend()
    return save_figure(fig, path, caption=(
        "Convergence of STDP in each layer: C = mean w(1 - w) (log scale) against the "
        f"number of learning images; a layer stops learning when C falls below {stop:g}, "
        "its weights then near 0 or 1."))


def confusion_figure(y_true, y_pred, n_classes: int, path: Path) -> Path:
    cm = np.zeros((n_classes, n_classes), int)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    fig, ax = new_figure(width=5.2, height=4.6)
    im = ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=6,
                    color="white" if v > cm.max() / 2 else "black")
    ax.set(xlabel="predicted", ylabel="true", xticks=range(n_classes), yticks=range(n_classes),
           title=f"accuracy {np.trace(cm) / max(cm.sum(), 1):.2%}")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return save_figure(fig, path, caption=(
        "Confusion matrix of the test set: number of images of each true class (rows) "
        "given each predicted class (columns)."))


def label_efficiency_figure(labels: Sequence[str], accuracies: Sequence[float],
                            spread: Sequence[float], untrained: Sequence[float] | None,
                            path: Path) -> Path:
    """Test accuracy against labelled examples per class given to the readout."""
    fig, ax = new_figure(width=5.5, height=3.6)
    x = np.arange(len(labels))
    ax.errorbar(x, np.asarray(accuracies) * 100, yerr=np.asarray(spread) * 100, marker="o",
                capsize=3, label="STDP features")
    if untrained is not None:
        ax.plot(x, np.asarray(untrained) * 100, marker="s", ls="--", color="0.5",
                label="initial (untrained) weights")
    ax.set(xticks=x, xticklabels=labels, xlabel="labelled examples per class",
           ylabel="test accuracy (%)")
    ax.legend()
    return save_figure(fig, path, caption=(
        "Test accuracy (%) of the linear readout against the number of labelled examples "
        "per class it is trained on, for the STDP features and for the initial (untrained) "
        "weights under the same readout."))


def rstdp_curve_figure(curve: Sequence[dict[str, float]], paper: float | None,
                       path: Path) -> Path:
    """Hit rate while learning and test accuracy after each R-STDP epoch."""
    fig, ax = new_figure(width=6, height=3.6)
    ep = [c["epoch"] for c in curve]
    ax.plot(ep, [100 * c["train_hit"] for c in curve], label="training hits (while learning)")
    ax.plot(ep, [100 * c["test_accuracy"] for c in curve], label="test accuracy")
    if paper is not None:
        ax.axhline(100 * paper, color="k", ls=":", lw=1, label=f"paper {paper:.1%}")
    ax.set(xlabel="R-STDP epoch", ylabel="%")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    return save_figure(fig, path, caption=(
        "Reward-modulated STDP: hit rate (%) on the training images while the decision "
        "layer learns, and test accuracy (%) after each epoch"
        + (f", beside the paper's {paper:.1%}." if paper is not None else ".")))
