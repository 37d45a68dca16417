"""The training loop: Adam, a progress bar per epoch, metrics, atomic checkpoints, resume.

Randomness is explicit and per epoch: the shuffling and the input encoding of epoch ``e``
use a ``torch.Generator`` seeded with ``(seed, e)``, so resuming from the checkpoint of
epoch ``e`` continues exactly as an uninterrupted run would (same model, same optimiser
state, same batches). Checkpoints hold only tensors and plain numbers and are loaded with
``torch.load(weights_only=True)``: loading never unpickles arbitrary objects.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from spikewave._io import atomic_write_bytes, atomic_write_text
from spikewave._validation import POSITIVE, check_int, check_number, fail
from spikewave.kernels.registry import NonFiniteInput

Encoder = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


class TrainingDiverged(FloatingPointError):
    """NaN or infinite values in a training batch or in the loss; the checkpoint on disk is
    the last good one (of the epoch before)."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_number("lr", self.lr, POSITIVE)
        check_int("seed", self.seed, 0)
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise fail("device", self.device, "'cpu' (no CUDA device is available here)")


@dataclass
class TrainResult:
    test_accuracy: float
    epochs: int
    epoch_s: float
    spikes_per_sample: float
    params: int
    history: list[dict] = field(default_factory=list)


def _generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, encode: Encoder,
             batch_size: int, seed: int, device: str) -> tuple[float, float, float]:
    """``(loss, accuracy, spikes per sample)`` on a dataset, without gradients."""
    model.eval()
    gen = _generator(seed, -1)
    loss_sum, correct, spikes = 0.0, 0, 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size], y[i:i + batch_size]
            v, s = model(encode(xb, gen).to(device))
            logits = v.mean(0)
            loss_sum += nn.functional.cross_entropy(logits, yb.to(device),
                                                    reduction="sum").item()
            correct += (logits.argmax(1).cpu() == yb).sum().item()
            spikes += s.item() * len(xb)
    n = len(x)
    return loss_sum / n, correct / n, spikes / n


def fit(model: nn.Module, data, encode: Encoder, cfg: TrainConfig, out_dir: Path,
        resume: bool = False, progress: bool = True,
        on_epoch_end: Callable[[dict], None] | None = None,
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None
        ) -> TrainResult:
    """Train with cross-entropy on the time-averaged readout potential; returns the result.

    Adam with a cosine learning-rate decay over ``cfg.epochs``.

    ``data`` has ``x_train, y_train, x_test, y_test`` arrays. Writes ``metrics.jsonl``,
    ``checkpoint.pt`` (every epoch, atomically) and ``training_curve.png`` in ``out_dir``.
    ``on_epoch_end`` is called with each epoch's metrics after its checkpoint is written
    (raise from it to stop early; ``resume=True`` then continues exactly). ``augment``, when
    given, transforms each training batch (drawing from the epoch's generator) before it is
    encoded; the test set is never augmented. A model with a ``start_epoch(epoch, epochs)``
    method (e.g. :class:`~spikewave.train.models.DelaySNN`'s delay width) has it called
    before each epoch, so its schedule also holds after ``resume``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = cfg.device
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    # cosine decay of the learning rate over the run, stepped once per epoch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    x_tr, y_tr = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
    x_te, y_te = torch.as_tensor(data.x_test), torch.as_tensor(data.y_test)
    history: list[dict] = []
    start_epoch = 0
    ckpt_path = out / CHECKPOINT
    if resume:
        if not ckpt_path.exists():
            raise fail("resume", str(ckpt_path), "an existing checkpoint (train once without "
                       "--resume first)")
        state = torch.load(ckpt_path, map_location=device, weights_only=True)
        if state.get("model_signature") != _signature(model):
            raise fail("resume", f"a checkpoint of another model ({ckpt_path})",
                       "a checkpoint written by the same --dataset, --model and --time-steps")
        if state.get("config") != asdict(cfg) | {"epochs": state["config"]["epochs"]}:
            raise fail("resume", "a checkpoint made with other settings",
                       f"a checkpoint with the same configuration ({ckpt_path})")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start_epoch = int(state["epoch"]) + 1
        history = list(state["history"])
    n_params = sum(p.numel() for p in model.parameters())
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        if hasattr(model, "start_epoch"):  # schedules that depend on the epoch only
            model.start_epoch(epoch, cfg.epochs)
        gen = _generator(cfg.seed, epoch)
        order = torch.randperm(len(x_tr), generator=gen)
        t0 = time.perf_counter()
        bar = tqdm(range(0, len(order), cfg.batch_size), desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   leave=False, disable=None if progress else True)
        loss_sum, correct, spikes, seen = 0.0, 0, 0.0, 0
        kept = (f"the last good checkpoint ({ckpt_path}, epoch {epoch}) is kept"
                if epoch > 0 else "no checkpoint was written")
        for batch, i in enumerate(bar, start=1):
            idx = order[i:i + cfg.batch_size]
            xb = x_tr[idx]
            if xb.is_floating_point() and not bool(torch.isfinite(xb).all()):
                raise TrainingDiverged(f"batch {batch} of epoch {epoch + 1} holds NaN or "
                                       f"infinite input values; {kept}")
            xb = xb if augment is None else augment(xb, gen)
            xb, yb = encode(xb, gen).to(device), y_tr[idx].to(device)
            try:
                v, s = model(xb)
            except NonFiniteInput as exc:
                raise TrainingDiverged(f"values became nan or infinite inside the network at "
                                       f"batch {batch} of epoch {epoch + 1} ({exc}); {kept}: "
                                       "lower --lr, then --resume") from None
            logits = v.mean(0)
            loss = nn.functional.cross_entropy(logits, yb)
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"the loss became {loss.item()} at batch {batch} of "
                                       f"epoch {epoch + 1}; {kept}: lower --lr, then --resume")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n = len(idx)
            loss_sum += loss.item() * n
            correct += (logits.argmax(1) == yb).sum().item()
            spikes += s.item() * n
            seen += n
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}",
                            spikes=f"{spikes / seen:.0f}")
        bar.close()
        sched.step()
        epoch_s = time.perf_counter() - t0
        te_loss, te_acc, te_spikes = evaluate(model, x_te, y_te, encode, cfg.batch_size,
                                              cfg.seed, device)
        record = {"epoch": epoch + 1, "train_loss": loss_sum / seen,
                  "train_accuracy": correct / seen, "test_loss": te_loss,
                  "test_accuracy": te_acc, "spikes_per_sample": te_spikes,
                  "epoch_s": epoch_s}
        history.append(record)
        _save_checkpoint(ckpt_path, model, opt, sched, epoch, history, cfg)
        atomic_write_text(out / METRICS, "".join(json.dumps(h) + "\n" for h in history))
        if on_epoch_end is not None:
            on_epoch_end(record)
    _training_curve(history, out / "training_curve.png")
    last = history[-1]
    return TrainResult(last["test_accuracy"], len(history),
                       sum(h["epoch_s"] for h in history) / len(history),
                       last["spikes_per_sample"], n_params, history)


def _save_checkpoint(path: Path, model, opt, sched, epoch: int, history,
                     cfg: TrainConfig) -> None:
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "epoch": epoch,
                "history": history, "config": asdict(cfg),
                "model_signature": _signature(model)}, buf)
    atomic_write_bytes(path, buf.getvalue())


def _signature(model: nn.Module) -> list[list]:
    """The model's parameter and buffer names and shapes (plain lists: weights-only safe)."""
    return [[name, list(t.shape)] for name, t in model.state_dict().items()]


def _training_curve(history: list[dict], path: Path) -> None:
    from spikewave.plot.training import training_curve_figure

    training_curve_figure(history, path)
