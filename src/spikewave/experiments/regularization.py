"""``regularization``: activity penalties trade accuracy for sparse and fast activity.

The network of ``spikewave train --model dense`` on the embedded digits (64-128-10 LIF,
direct current; :mod:`spikewave.experiments.coding` has the details) trained with the loss

    L = CE(mean_t v_t, y) + w P(S),

``P`` the L1 spike-count penalty of the hidden layer (``spike_count_l1``: spikes per
sample; ``spikewave train --spike-reg l1 --spike-reg-weight w``), for ``w = 0`` and the
:data:`WEIGHTS` growing by factors of about three (:data:`QUICK_WEIGHTS` with ``--quick``).
Each run reports its test accuracy and hidden spikes per test sample: the trade-off
curve. A second pair of runs compares the mean
decision step (:mod:`spikewave.train.decision`) without and with the early-decision term
(:func:`~spikewave.nn.regularization.early_decision_loss`: the cross-entropy of the running
mean of the readout at every step; ``--decision-reg-weight``), a latency penalty that rewards
readouts which are right early and stay right.

Checks:

- the spikes per sample fall as ``w`` grows: each point (``w = 0`` first) at most
  ``1 + MONOTONE_TOL`` times the one before it, and the largest weight at most half the
  unregularised count. Each point is one seed, so its count carries the spread of the
  initialisation and the batches (reported on the results page's notes); the tolerance
  lets a pair of neighbouring points tie within that spread, the second condition asks
  the overall fall to be large;
- the accuracy at the smallest weight is within ``ACCURACY_DROP`` of the unregularised run.

The decision steps are reported. ``--quick`` runs the same sweep with fewer steps and
epochs.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace

from spikewave._validation import POSITIVE, check_int, check_number, fail
from spikewave.experiments._training import Trained, train_dense
from spikewave.experiments.coding import Config
from spikewave.experiments.registry import Metric, Reproduction, Result, RunContext
from spikewave.train.loop import TrainConfig

# of the L1 penalty, in loss per spike; the full run goes on until the accuracy falls,
# the quick one has six points on its curve with the unregularised run
WEIGHTS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)
QUICK_WEIGHTS = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
DECISION_WEIGHT = 1.0  # of the early-decision term, against the task loss's 1
MONOTONE_TOL = 0.1
ACCURACY_DROP = 0.03
FULL = Config(16, 20, 64)
QUICK = Config(8, 2, 64)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the number of epochs of every run")
    parser.add_argument("--weights", type=float, nargs="+", default=None,
                        help="the penalty weights of the sweep, increasing, each > 0 (the "
                             "unregularised run is always made; default: "
                             f"{' '.join(f'{w:g}' for w in WEIGHTS)}, with --quick "
                             f"{' '.join(f'{w:g}' for w in QUICK_WEIGHTS)})")


def run(ctx: RunContext, epochs: int | None = None,
        weights: list[float] | None = None) -> Result:
    if epochs is not None:
        epochs = check_int("epochs", epochs, 1)
    weights = tuple((QUICK_WEIGHTS if ctx.quick else WEIGHTS) if weights is None else
                    (check_number("weights", w, POSITIVE) for w in weights))
    if not weights or any(b <= a for a, b in zip(weights, weights[1:], strict=False)):
        raise fail("weights", list(weights), "one or more positive weights in increasing "
                   "order")
    rec = QUICK if ctx.quick else FULL
    base = TrainConfig(epochs=epochs or rec.epochs, batch_size=rec.batch_size, lr=2e-3,
                       seed=ctx.seed)

    def train(name: str, cfg: TrainConfig) -> Trained:
        return train_dense(ctx, "digits", None, rec.time_steps, cfg,
                           ctx.out_dir / f"regularization_{name}")

    plain = train("none", base)
    sweep = [train(f"l1_{w:g}", replace(base, spike_reg="l1", spike_reg_weight=w))
             for w in weights]
    early = train("decision", replace(base, decision_reg_weight=DECISION_WEIGHT))

    spikes = [plain.spikes_per_sample] + [t.spikes_per_sample for t in sweep]
    worst_rise = max(_rise(a, b) for a, b in zip(spikes, spikes[1:], strict=False))
    fall = sweep[-1].spikes_per_sample / plain.spikes_per_sample
    drop = plain.accuracy - sweep[0].accuracy
    metrics = [
        Metric("unregularized_test_accuracy", plain.accuracy, None, "reported"),
        Metric("unregularized_spikes_per_sample", plain.spikes_per_sample, None, "reported",
               unit="spikes"),
        Metric("spikes_worst_rise", worst_rise, 1 + MONOTONE_TOL,
               f"<= {1 + MONOTONE_TOL:g} (spikes at each weight / at the weight before)",
               worst_rise <= 1 + MONOTONE_TOL),
        Metric("spikes_largest_weight_ratio", fall, 0.5,
               f"<= 0.5 (spikes at w = {weights[-1]:g} / unregularized)", fall <= 0.5),
        Metric("smallest_weight_accuracy_drop", drop, ACCURACY_DROP,
               f"<= {ACCURACY_DROP:g} (unregularized - w = {weights[0]:g})",
               drop <= ACCURACY_DROP),
        Metric("largest_weight_test_accuracy", sweep[-1].accuracy, None, "reported"),
        Metric("decision_step", plain.decision_step, None,
               f"reported (of 0..{rec.time_steps - 1})", unit="steps"),
        Metric("decision_step_with_term", early.decision_step, None,
               f"reported (early-decision weight {DECISION_WEIGHT:g})", unit="steps"),
        Metric("decision_term_test_accuracy", early.accuracy, None, "reported"),
    ]
    curve = [{"spike_reg_weight": 0.0, **plain.as_json()}] + [
        {"spike_reg_weight": w, **t.as_json()} for w, t in zip(weights, sweep, strict=True)]
    figure = _figure(curve, plain, early, ctx.figure_path("regularization.png"))
    return Result("regularization", REPRODUCTION.title, metrics, [figure],
                  extra={"curve": curve, "decision": {
                      "without": plain.as_json(),
                      "with_term": {"decision_reg_weight": DECISION_WEIGHT,
                                    **early.as_json()}}},
                  config={"dataset": "digits", "spike_reg": "l1", "weights": list(weights),
                          "decision_reg_weight": DECISION_WEIGHT,
                          "time_steps": rec.time_steps, "epochs": base.epochs,
                          "batch_size": base.batch_size, "lr": base.lr,
                          "recipe": plain.description})


def _rise(before: float, after: float) -> float:
    """``after / before``, 1 for two silent networks."""
    if before > 0:
        return after / before
    return 1.0 if after == 0 else math.inf


def _figure(curve: list[dict], plain: Trained, early: Trained, path):
    from spikewave.plot import new_figure, save_figure

    fig, (ax, bx) = new_figure(1, 2, width=10.0, height=3.8,
                               gridspec_kw={"width_ratios": [2, 1]})
    xs = [c["spikes_per_sample"] for c in curve]
    ys = [100 * c["test_accuracy"] for c in curve]
    ax.plot(xs, ys, "o-", color="tab:blue")
    for i, (c, x, y) in enumerate(zip(curve, xs, ys, strict=True)):  # labels above, below
        ax.annotate("w = 0" if c["spike_reg_weight"] == 0 else f"w = {c['spike_reg_weight']:g}",
                    (x, y), textcoords="offset points", xytext=(-12, 7 if i % 2 else -13),
                    fontsize=8)
    ax.set_ylim(min(ys) - 8, max(ys) + 8)
    ax.set_xscale("log")
    ax.set_xlabel("hidden spikes per test sample (spikes, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("L1 spike-count penalty: accuracy against activity")
    bx.bar([0, 1], [plain.decision_step, early.decision_step],
           color=["tab:gray", "tab:green"])
    for i, t in enumerate((plain, early)):
        bx.text(i, t.decision_step, f"{t.decision_step:.2f}\n({100 * t.accuracy:.1f} %)",
                ha="center", va="bottom", fontsize=8)
    bx.set_xticks([0, 1], ["task loss only", "+ early-decision\nterm"])
    bx.set_ylabel("mean decision step (steps)")
    bx.set_ylim(0, 1.3 * max(plain.decision_step, early.decision_step, 1e-9))
    bx.set_title("when the prediction settles")
    return save_figure(fig, path, caption=(
        "Left: test accuracy against hidden spikes per test sample as the weight w of the "
        "L1 spike-count penalty grows (digits, dense LIF network). Right: mean step from "
        "which the running prediction no longer changes, without and with the "
        "early-decision term (test accuracy in brackets)"))


REPRODUCTION = Reproduction(
    name="regularization",
    title="Activity regularization: accuracy against spikes, and earlier decisions",
    run=run,
    add_arguments=add_arguments,
    description=__doc__ or "",
)
