"""The training loop: Adam, a progress bar and one line per epoch, metrics, verified
checkpoints, resume.

Randomness is explicit and per epoch: the shuffling and the input encoding of epoch ``e``
use a ``torch.Generator`` seeded with ``(seed, e)``, so resuming from the checkpoint of
epoch ``e`` continues exactly as an uninterrupted run would (same model, same optimiser
state, same batches). The learning rate follows a cosine over the run,
``lr_e = lr (1 + cos(pi e / E)) / 2`` for epoch ``e`` of ``E``, computed from the epoch, so
that a run resumed with a larger ``epochs`` continues the schedule of a run of the new
length instead of the old one's.

Checkpoints (:mod:`spikewave.train.checkpoint`) hold only tensors and plain numbers, are
loaded with ``torch.load(weights_only=True)`` (loading never unpickles arbitrary objects)
and carry a content hash; on ``resume`` their structure, types, shapes and finiteness are
checked before anything is loaded into the model. The output folder is locked while a run
writes to it (:class:`spikewave._io.FolderLock`): a second run on the same folder fails at
once.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from spikewave._io import (
    FolderLock,
    atomic_write_text,
    check_output_dir,
    removed_if_left_empty,
)
from spikewave._validation import (
    NON_NEGATIVE,
    POSITIVE,
    DataError,
    check_choice,
    check_int,
    check_number,
    fail,
)
from spikewave.kernels.registry import NonFiniteInput
from spikewave.train import distributed as ddp
from spikewave.train.checkpoint import check_finite, expect, load_checkpoint, save_checkpoint
from spikewave.train.datasets import ArrayBatches, Batches, potentials, readout, train_test
from spikewave.train.encodings import ENCODINGS
from spikewave.train.penalties import SPIKE_REGS, Penalty, recording

Encoder = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


class TrainingDiverged(FloatingPointError):
    """NaN or infinite values in a training batch or in the loss; the checkpoint on disk is
    the last good one (of the epoch before)."""


MAX_SEED = 2**32 - 1
DEVICE_ALIASES = {"gpu": "cuda", "cuda0": "cuda:0", "cpu0": "cpu"}


def check_device(device: object) -> str:
    """``device`` after checking it names a device that exists here: ``cpu``, ``cuda`` or
    ``cuda:N`` with N below the number of CUDA devices."""
    allowed = "'cpu', 'cuda' or 'cuda:N'"
    if not isinstance(device, str) or not device.strip():
        raise fail("device", device, allowed)
    name = device.strip().lower()
    if name in DEVICE_ALIASES:
        raise fail("device", device, f"{allowed} (did you mean '{DEVICE_ALIASES[name]}'?)")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise fail("device", device, allowed) from None
    if dev.type == "cpu":
        if dev.index not in (None, 0):
            raise fail("device", device, allowed)
        return "cpu"
    if dev.type != "cuda":
        raise fail("device", device, f"{allowed} (spikewave trains on CPUs and CUDA GPUs)")
    if not torch.cuda.is_available():
        raise fail("device", device, "'cpu' (no CUDA device is available here)")
    count = torch.cuda.device_count()
    if dev.index is not None and dev.index >= count:
        raise fail("device", device, f"'cuda' or 'cuda:N' with N < {count} (the number of "
                   "CUDA devices here)")
    return str(dev)


@dataclass(frozen=True)
class TrainConfig:
    """What a run is: epochs, batch size, peak learning rate (cosine decay), seed, device;
    the input encoding it was made with (a label: the encoder passed to :func:`fit` does
    the encoding, :mod:`spikewave.train.encodings`) and the activity penalties added to its
    loss (:mod:`spikewave.train.penalties`): ``spike_reg`` (``"none"``, ``"l1"``, ``"l2"``)
    on the hidden spike counts with weight ``spike_reg_weight``, and the early-decision
    term with weight ``decision_reg_weight``; ``time_steps``, the steps the encoder makes
    (a label too; None: not recorded, as for an encoder whose steps vary)."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0
    device: str = "cpu"
    encoding: str = "direct"
    spike_reg: str = "none"
    spike_reg_weight: float = 0.0
    decision_reg_weight: float = 0.0
    time_steps: int | None = None

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, 1, 1_000_000, "TrainConfig")
        check_int("batch_size", self.batch_size, 1, 1 << 24, "TrainConfig")
        check_number("lr", self.lr, POSITIVE, "TrainConfig")
        check_int("seed", self.seed, 0, MAX_SEED, "TrainConfig")
        object.__setattr__(self, "device", check_device(self.device))
        check_choice("encoding", self.encoding, ENCODINGS, "TrainConfig")
        check_choice("spike_reg", self.spike_reg, SPIKE_REGS, "TrainConfig")
        check_number("spike_reg_weight", self.spike_reg_weight, NON_NEGATIVE, "TrainConfig")
        check_number("decision_reg_weight", self.decision_reg_weight, NON_NEGATIVE,
                     "TrainConfig")
        if self.time_steps is not None:
            check_int("time_steps", self.time_steps, 1, owner="TrainConfig")
        if self.spike_reg == "none" and self.spike_reg_weight > 0:
            raise fail("spike_reg", self.spike_reg, "'l1' or 'l2' with spike_reg_weight = "
                       f"{self.spike_reg_weight:g} (which penalty to weight)", "TrainConfig")

    def penalty(self) -> Penalty | None:
        """The penalty terms of this run, or None when it has none."""
        if self.spike_reg_weight == 0 and self.decision_reg_weight == 0:
            return None
        return Penalty(self.spike_reg, self.spike_reg_weight, self.decision_reg_weight)

    def lr_at(self, epoch: int) -> float:
        """The learning rate of epoch ``epoch`` (from 0): ``lr (1 + cos(pi e / E)) / 2``."""
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / self.epochs))


@dataclass
class TrainResult:
    test_accuracy: float
    epochs: int
    epoch_s: float
    spikes_per_sample: float
    params: int
    history: list[dict] = field(default_factory=list)
    world_size: int = 1
    samples_per_s: float = 0.0


def _generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def evaluate(model: nn.Module, x, y, encode: Encoder,
             batch_size: int, seed: int, device: str) -> tuple[float, float, float]:
    """``(loss, accuracy, spikes per sample)`` on a dataset, without gradients: arrays ``x``
    and ``y``, or ``x`` a source of :mod:`spikewave.train.datasets` and ``y`` None."""
    model.eval()
    gen = _generator(seed, -1)
    src: Batches = ArrayBatches(x, y) if y is not None else x
    loss_sum, correct, spikes, n = 0.0, 0, 0.0, 0
    with torch.no_grad():
        for xb, yb in src.batches(batch_size):
            logits, s = readout(model(encode(xb, gen).to(device)), len(yb))
            loss_sum += nn.functional.cross_entropy(logits, yb.to(device),
                                                    reduction="sum").item()
            correct += (logits.argmax(1).cpu() == yb).sum().item()
            spikes += s * len(yb)
            n += len(yb)
    return loss_sum / n, correct / n, spikes / n


def fit(model: nn.Module, data, encode: Encoder, cfg: TrainConfig, out_dir: Path,
        resume: bool = False, progress: bool = True,
        on_epoch_end: Callable[[dict], None] | None = None,
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
        lock: bool = True, dist: ddp.Distributed | None = None) -> TrainResult:
    """Train with cross-entropy on the time-averaged readout potential, plus ``cfg``'s
    activity penalties when it has any (:meth:`TrainConfig.penalty`,
    :mod:`spikewave.train.penalties`); returns the result.

    Adam with a cosine learning-rate decay over ``cfg.epochs`` (:meth:`TrainConfig.lr_at`).

    ``data`` has ``x_train, y_train, x_test, y_test`` arrays, or is
    :class:`~spikewave.train.datasets.TrainTest` (or a pair) of any two map-style datasets
    (a :class:`torch.utils.data.Dataset`, a tonic dataset) or
    :class:`~torch.utils.data.DataLoader` s; their shuffles are drawn from the epoch's
    generator as the arrays' are (:mod:`spikewave.train.datasets`). The model returns
    ``(potentials [T, B, C], spike count)`` or plain logits ``[B, C]`` / ``[T, B, C]``
    (spikes per sample are then 0). Writes ``metrics.jsonl``, ``checkpoint.pt`` (every
    epoch, atomically) and ``training_curve.png`` in ``out_dir``.
    ``on_epoch_end`` is called with each epoch's metrics after its checkpoint is written
    (raise from it to stop early; ``resume=True`` then continues exactly). ``augment``, when
    given, transforms each training batch (drawing from the epoch's generator) before it is
    encoded; the test set is never augmented. A model with a ``start_epoch(epoch, epochs)``
    method (e.g. :class:`~spikewave.train.models.DelaySNN`'s delay width) has it called
    before each epoch, so its schedule also holds after ``resume``.

    ``out_dir`` is checked before any work (a folder, writable), and locked while the run
    writes to it: a second run on it raises :class:`ParameterError` at once. ``lock=False``
    when the caller holds the lock already (the command line takes it with
    :func:`prepared_output` before it reads the data), and for the processes of a
    data-parallel run other than rank 0, which write nothing.
    ``dist``: this process's place in a data-parallel run (:mod:`spikewave.train.distributed`;
    default one process): ``cfg.batch_size`` is the global batch, rank 0 alone writes.
    A run that fails before its first checkpoint leaves no output folder behind. With
    ``progress``, a bar runs during each epoch and one line per epoch stays on standard
    error (:func:`epoch_line`).
    """
    ctx = dist or ddp.SINGLE
    ddp.check_batch_size(cfg.batch_size, ctx)
    if not ctx.is_main:
        with ddp.collective_errors(ctx), recording(model, cfg.penalty()) as penalty:
            return _fit(model, data, encode, cfg, Path(out_dir), resume, False, on_epoch_end,
                        augment, False, ctx, penalty)
    with prepared_output(out_dir, resume, lock) as out, ddp.collective_errors(ctx), \
            recording(model, cfg.penalty()) as penalty:
        return _fit(model, data, encode, cfg, out, resume, progress, on_epoch_end, augment,
                    lock, ctx, penalty)


@contextlib.contextmanager
def prepared_output(out_dir: str | os.PathLike[str], resume: bool = False,
                    lock: bool = True) -> Iterator[Path]:
    """The output folder of a run, checked, created and (``lock``) locked for the ``with``
    block; yields it as a :class:`~pathlib.Path`.

    Before anything is created: ``out_dir`` must be a folder that can be written, and with
    ``resume`` hold a checkpoint. If the block fails before anything was written into a
    folder it created, the folder (and the parents it created) are removed again.
    """
    out = check_output_dir(out_dir, "out_dir")
    ckpt_path = out / CHECKPOINT
    if resume and not ckpt_path.is_file():
        raise fail("resume", str(ckpt_path), "an existing checkpoint (train once without "
                   "--resume first)")
    with removed_if_left_empty(out):
        out.mkdir(parents=True, exist_ok=True)
        folder_lock = FolderLock(out, "out") if lock else None
        if folder_lock is not None:
            folder_lock.acquire()
        try:
            yield out
        finally:
            if folder_lock is not None:
                folder_lock.release()


def _adam(params, lr: float) -> torch.optim.Adam:
    """Adam over ``params``: PyTorch's fused implementation (one kernel for every
    parameter's update instead of a few per parameter) where every parameter is a float
    tensor on the CPU or a GPU, else the default."""
    params = list(params)
    fused = bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda")
                                 for p in params)
    return torch.optim.Adam(params, lr=lr, fused=fused or None)


def _fit(model: nn.Module, data, encode: Encoder, cfg: TrainConfig, out: Path, resume: bool,
         progress: bool, on_epoch_end, augment, locked: bool,
         ctx: ddp.Distributed = ddp.SINGLE, penalty: Penalty | None = None) -> TrainResult:
    device = cfg.device
    ckpt_path = out / CHECKPOINT
    model.to(device)
    net = ddp.wrap(model, ctx, device)
    opt = _adam(net.parameters(), cfg.lr)
    train, test = train_test(data)
    history: list[dict] = []
    start_epoch = 0
    if resume:
        start_epoch, history = _resume_everywhere(ckpt_path, model, opt, cfg, ctx)
        if progress and start_epoch < cfg.epochs:
            _say(f"resuming {ckpt_path} after epoch {start_epoch} of {cfg.epochs}")
    n_params = sum(p.numel() for p in model.parameters())
    for epoch in range(start_epoch, cfg.epochs):
        for group in opt.param_groups:
            group["lr"] = cfg.lr_at(epoch)
        model.train()
        if hasattr(model, "start_epoch"):  # schedules that depend on the epoch only
            model.start_epoch(epoch, cfg.epochs)
        gen = _generator(cfg.seed, epoch)
        t0 = time.perf_counter()
        bar = tqdm(train.batches(cfg.batch_size, gen), total=train.n_batches(cfg.batch_size),
                   desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False,
                   disable=None if progress else True)
        loss_sum, correct, spikes, seen = 0.0, 0, 0.0, 0
        kept = (f"the last good checkpoint ({ckpt_path}, epoch {epoch}) is kept"
                if epoch > 0 else "no checkpoint was written")
        for batch, (xb, yb) in enumerate(bar, start=1):
            if xb.is_floating_point() and not bool(torch.isfinite(xb).all()):
                raise TrainingDiverged(f"batch {batch} of epoch {epoch + 1} holds NaN or "
                                       f"infinite input values; {kept}")
            xb = xb if augment is None else augment(xb, gen)
            xb, yb, n_global = encode(xb, gen), yb, len(yb)
            xb, yb, n, weight = (xb, yb, n_global, 1.0) if not ctx.active else \
                ddp.local_batch(xb, yb, ctx)
            xb, yb = xb.to(device), yb.to(device)
            try:
                output = net(xb)
                logits, s = readout(output, len(yb))
            except NonFiniteInput as exc:
                raise TrainingDiverged(f"values became nan or infinite inside the network at "
                                       f"batch {batch} of epoch {epoch + 1} ({exc}); {kept}: "
                                       "lower --lr, then --resume") from None
            loss = (nn.functional.cross_entropy(logits, yb) if not ctx.active else
                    nn.functional.cross_entropy(logits, yb, reduction="sum") * weight)
            if penalty is not None:  # a mean per sample, weighted as the loss is
                extra = penalty.loss(potentials(output), yb)
                loss = loss + (extra if not ctx.active else extra * n * weight)
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"the loss became {loss.item()} at batch {batch} of "
                                       f"epoch {epoch + 1}; {kept}: lower --lr, then --resume")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * (n if not ctx.active else n_global / ctx.world_size)
            correct += (logits.argmax(1) == yb).sum().item() if n else 0
            spikes += s * n
            seen += n
            bar.set_postfix(loss=f"{loss_sum / max(seen, 1):.3f}",
                            acc=f"{correct / max(seen, 1):.3f}",
                            spikes=f"{spikes / max(seen, 1):.0f}")
        bar.close()
        epoch_s = time.perf_counter() - t0
        if ctx.active:
            loss_sum, correct, spikes, seen = ddp.all_sum([loss_sum, correct, spikes, seen],
                                                          ctx)
            ddp.sync_buffers(model, ctx)
        te_loss, te_acc, te_spikes = _evaluate_shared(model, test, encode, cfg, ctx)
        record = {"epoch": epoch + 1, "train_loss": loss_sum / seen,
                  "train_accuracy": correct / seen, "test_loss": te_loss,
                  "test_accuracy": te_acc, "spikes_per_sample": te_spikes,
                  "epoch_s": epoch_s, "lr": cfg.lr_at(epoch), "encoding": cfg.encoding,
                  "spike_reg": cfg.spike_reg, "spike_reg_weight": cfg.spike_reg_weight,
                  "decision_reg_weight": cfg.decision_reg_weight}
        history.append(record)
        if ctx.is_main:
            _save_checkpoint(ckpt_path, model, opt, epoch, history, cfg, locked)
            atomic_write_text(out / METRICS, "".join(json.dumps(h) + "\n" for h in history),
                              locked)
        if progress:
            _say(epoch_line(record, cfg.epochs))
        if on_epoch_end is not None:
            on_epoch_end(record)
    if not history:
        raise fail("epochs", cfg.epochs, "more than the 0 epochs already made")
    if ctx.is_main:
        _training_curve(history, out / "training_curve.png")
    last = history[-1]
    total_s = sum(h["epoch_s"] for h in history)
    return TrainResult(last["test_accuracy"], len(history), total_s / len(history),
                       last["spikes_per_sample"], n_params, history, ctx.world_size,
                       train.n * len(history) / total_s if total_s > 0 else 0.0)


def epoch_line(record: dict, epochs: int) -> str:
    """One line per epoch: epoch, loss, train and test accuracy, spikes per sample, time."""
    return (f"epoch {record['epoch']}/{epochs}  loss {record['train_loss']:.4f}  "
            f"train {100 * record['train_accuracy']:.2f} %  "
            f"test {100 * record['test_accuracy']:.2f} %  "
            f"spikes/sample {record['spikes_per_sample']:.0f}  {record['epoch_s']:.1f} s")


def _say(line: str) -> None:
    tqdm.write(line, file=sys.stderr)


def _save_checkpoint(path: Path, model, opt, epoch: int, history, cfg: TrainConfig,
                     locked: bool) -> None:
    save_checkpoint(path, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                           "epoch": epoch, "history": history, "config": asdict(cfg),
                           "model_signature": _signature(model),
                           "model_specs": _specs(model)}, locked=locked)


def _evaluate_shared(model: nn.Module, test: Batches, encode: Encoder, cfg: TrainConfig,
                     ctx: ddp.Distributed) -> tuple[float, float, float]:
    """:func:`evaluate` on the whole test set; in a data-parallel run with the test set in
    arrays each rank takes its share and the sums are added up (a dataset or loader is
    evaluated whole by every rank)."""
    if not ctx.active or not isinstance(test, ArrayBatches):
        return evaluate(model, test, None, encode, cfg.batch_size, cfg.seed, cfg.device)
    part = ddp.share(test.n, ctx)
    n = part.stop - part.start
    means = evaluate(model, test.x[part], test.y[part], encode, cfg.batch_size, cfg.seed,
                     cfg.device) if n else (0.0, 0.0, 0.0)
    sums = ddp.all_sum([m * n for m in means], ctx)
    return tuple(v / test.n for v in sums)


def _resume_everywhere(path: Path, model: nn.Module, opt, cfg: TrainConfig,
                       ctx: ddp.Distributed) -> tuple[int, list[dict]]:
    """:func:`_resume` on rank 0; the model and optimiser state it loaded sent to every
    rank (the others need no copy of the checkpoint)."""
    if not ctx.active:
        return _resume(path, model, opt, cfg)

    def load():
        epoch, history = _resume(path, model, opt, cfg)
        return epoch, history, model.state_dict(), opt.state_dict()

    epoch, history, weights, opt_state = ddp.run_on_main(load, ctx)
    if not ctx.is_main:
        model.load_state_dict(weights)
        opt.load_state_dict(opt_state)
    return epoch, history


# settings that may change between a run and its resumption
RESUMABLE = ("epochs", "device")
# optional settings: a checkpoint without them was made with these values
CONFIG_DEFAULTS = {"encoding": "direct", "spike_reg": "none", "spike_reg_weight": 0.0,
                  "decision_reg_weight": 0.0, "time_steps": None}
# labels a run may leave unrecorded (None): a checkpoint or a run without one matches any
UNRECORDED = ("time_steps",)


def _resume(path: Path, model: nn.Module, opt, cfg: TrainConfig) -> tuple[int, list[dict]]:
    """Load and check ``path``; returns ``(first epoch to run, history so far)``."""
    state = load_checkpoint(path)
    config = CONFIG_DEFAULTS | expect(state, "config", dict, path)
    fields = asdict(cfg)
    if set(config) != set(fields):
        raise DataError(f"{path}: field 'config' has the keys {sorted(config)}, a training "
                        f"checkpoint has {sorted(fields)}")
    saved_epochs = expect(config, "epochs", int, path, "an integer")
    if saved_epochs < 1:
        raise DataError(f"{path}: config['epochs'] = {saved_epochs}, expected at least 1")
    differ = sorted(k for k in fields if k not in RESUMABLE and config[k] != fields[k]
                    and not (k in UNRECORDED and None in (config[k], fields[k])))
    if differ:
        raise fail("resume", f"a checkpoint made with other settings "
                   f"({', '.join(f'{k}={config[k]!r}' for k in differ)})",
                   f"a checkpoint with the same configuration ({path})")
    epoch = expect(state, "epoch", int, path, "an integer")
    if not 0 <= epoch < saved_epochs:
        raise DataError(f"{path}: field 'epoch' is {epoch}, expected 0..{saved_epochs - 1} "
                        f"for a run of {saved_epochs} epochs")
    history = expect(state, "history", list, path)
    if len(history) != epoch + 1 or not all(isinstance(h, dict) for h in history):
        raise DataError(f"{path}: field 'history' should hold {epoch + 1} epoch records")
    if cfg.epochs < epoch + 1:
        raise fail("epochs", cfg.epochs, f"at least the {epoch + 1} epochs already made in "
                   f"{path}")
    weights = expect(state, "model", dict, path)
    expect(state, "optimizer", dict, path)
    signature = expect(state, "model_signature", list, path)
    if signature != _signature(model):
        raise fail("resume", f"a checkpoint of another model ({path})",
                   "a checkpoint written by the same --dataset, --model and --time-steps")
    if "model_specs" in state:  # absent from checkpoints of versions that did not record it
        _check_specs(expect(state, "model_specs", list, path), _specs(model), path)
    own = model.state_dict()
    bad = [k for k, t in own.items() if not isinstance(weights.get(k), torch.Tensor)
           or weights[k].shape != t.shape or weights[k].dtype != t.dtype]
    if bad or set(weights) != set(own):
        key = bad[0] if bad else sorted(set(weights) ^ set(own))[0]
        got = weights.get(key)
        raise DataError(f"{path}: model tensor '{key}' is "
                        f"{tuple(got.shape) if isinstance(got, torch.Tensor) else got!r:.60}, "
                        f"the model's is {tuple(own[key].shape) if key in own else 'absent'}")
    check_finite(weights, path, "model")
    check_finite(state["optimizer"], path, "optimizer")
    try:
        model.load_state_dict(weights)
        opt.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise DataError(f"{path}: the optimiser state does not fit the model "
                        f"({type(exc).__name__}: {str(exc)[:200]})") from None
    return epoch + 1, [dict(h) for h in history]


def _signature(model: nn.Module) -> list[list]:
    """The model's parameter and buffer names and shapes (plain lists: weights-only safe)."""
    return [[name, list(t.shape)] for name, t in model.state_dict().items()]


def _check_specs(saved: list, own: list[list[str]], path: Path) -> None:
    """Refuse a checkpoint whose layers' neuron specs (:func:`_specs`) differ from
    ``own``, naming the first layer that differs."""
    if not all(isinstance(e, list) and len(e) == 2 and all(isinstance(v, str) for v in e)
               for e in saved):
        raise DataError(f"{path}: field 'model_specs' should hold [layer, spec] pairs of "
                        "strings")
    if saved == own:
        return
    then, now = dict(map(tuple, saved)), dict(map(tuple, own))
    name = next((n for n in [*now, *then] if then.get(n) != now.get(n)), None)
    if name is None:  # the same pairs in another order
        return
    raise fail("resume", f"a checkpoint whose neurons differ ({path}: layer {name!r} has "
               f"{then.get(name, 'no neuron spec')}, this run's "
               f"{now.get(name, 'no neuron spec')})",
               "a checkpoint made with the same neuron settings (--reset)")


def _specs(model: nn.Module) -> list[list[str]]:
    """The neuron spec of each layer that has one (threshold, reset, surrogate), by module
    name: what the weights do not show but a resumed run must share."""
    return [[name, repr(module.spec)] for name, module in model.named_modules()
            if getattr(module, "spec", None) is not None]


def _training_curve(history: list[dict], path: Path) -> None:
    from spikewave.plot.training import training_curve_figure

    training_curve_figure(history, path)
