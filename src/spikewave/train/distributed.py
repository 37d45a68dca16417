"""Data-parallel training: one process per CPU core group or GPU, started by ``torchrun``.

``torchrun --nproc-per-node N -m spikewave train ...`` starts N copies of the command;
each reads its rank and the world size from the environment torchrun sets (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and joins one process
group: gloo on CPUs, NCCL on CUDA GPUs (rank ``r`` uses ``cuda:LOCAL_RANK``). The model
is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`, which averages the
gradients over the ranks after every backward pass.

What is sharded, and why the run equals a one-process run with the same global batch:

- every rank draws the same epoch permutation from the same seeded generator (the
  ``(seed, epoch)`` generator of :mod:`spikewave.train.loop`), cuts it into the same global
  batches of ``--batch-size`` samples, augments and encodes the whole global batch (so the
  random draws stay in step), and keeps its own contiguous share of it
  (:func:`share`);
- rank ``r`` minimises ``world / n * sum_{i in share r} CE_i`` over its share of a batch
  of ``n`` samples; DDP averages the gradients over the ``world`` ranks, which gives the
  gradient of the global mean ``1/n sum_i CE_i`` -- the one-process gradient, also for a
  last batch that does not divide evenly;
- the training metrics (loss, correct answers, spikes, samples) are summed over the
  ranks (:func:`all_sum`), the test set is evaluated in shards and summed the same way;
- rank 0 alone takes the folder lock and writes the checkpoint, the metrics and the
  figure; it alone prints. On ``--resume`` rank 0 reads and checks the checkpoint and
  sends the model and optimiser state to the others (:func:`broadcast_object`), so the
  other machines need no copy of the output folder and a run may resume with another
  number of processes (the sample order depends on the seed and the global batch only).

Pitfalls of data-parallel SNN training, and how they are met here: the neuron state
lives inside one multi-step forward call over ``[T, B, ...]`` and starts from rest at
every call (no state carried between samples or ranks); BatchNorm buffers are sent from
rank 0 at the start of each forward call, once per batch -- never between the time steps
of one backward pass, the in-place overwrite that breaks single-step training; each rank
normalises by its own share's statistics unless ``sync_batchnorm`` (CUDA only) computes
them over the global batch; the optimiser is created after the wrapping; the global batch
counts samples, never samples times time steps.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from spikewave._validation import Interval, ParameterError, check_number, fail

DEFAULT_TIMEOUT_S = 600.0


class PeerFailure(RuntimeError):
    """Another process of a data-parallel run stopped, or did not answer in time."""


@dataclass(frozen=True)
class Distributed:
    """Where this process stands in a data-parallel run (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes and prints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """More than one process: the collectives run."""
        return self.world_size > 1


SINGLE = Distributed()


def _env_int(name: str, low: int, high: int | None = None) -> int:
    raw = os.environ[name]
    try:
        value = int(raw)
    except ValueError:
        raise ParameterError(f"The environment variable {name} must be an integer (torchrun "
                             f"sets it). Got {raw!r}.") from None
    if value < low or (high is not None and value > high):
        raise ParameterError(f"The environment variable {name} must be in {low}.."
                             f"{high if high is not None else ''} (torchrun sets it). Got "
                             f"{value}.")
    return value


def from_environment(device: str, timeout_s: float = DEFAULT_TIMEOUT_S
                     ) -> tuple[Distributed, str]:
    """Join the process group that ``torchrun`` describes in the environment; returns the
    context and the device this rank uses (``cuda:LOCAL_RANK`` for a CUDA run).

    Without ``WORLD_SIZE`` (or with ``WORLD_SIZE=1``) nothing is joined: one process.
    ``timeout_s`` bounds every collective: a rank that stopped ends the others' wait with
    :class:`PeerFailure` after at most that long."""
    timeout_s = check_number("dist_timeout_s", timeout_s, Interval(1.0, 86_400.0, "both"))
    if "WORLD_SIZE" not in os.environ or os.environ["WORLD_SIZE"] == "1":
        return SINGLE, device
    world = _env_int("WORLD_SIZE", 1, 1 << 16)
    rank = _env_int("RANK", 0, world - 1)
    local_rank = _env_int("LOCAL_RANK", 0, world - 1) if "LOCAL_RANK" in os.environ else 0
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise ParameterError(f"The environment variable {name} is not set: start a "
                                 "data-parallel run with torchrun (or set MASTER_ADDR, "
                                 "MASTER_PORT, RANK and WORLD_SIZE)")
    import torch.distributed as dist

    cuda = device.startswith("cuda")
    if cuda:
        if local_rank >= torch.cuda.device_count():
            raise fail("device", device, f"one CUDA device per process on each machine "
                       f"(LOCAL_RANK {local_rank}, {torch.cuda.device_count()} devices)")
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(local_rank)
    try:
        dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=timeout_s))
    except (RuntimeError, ValueError) as exc:
        raise PeerFailure(f"rank {rank} of {world} could not join the process group at "
                          f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']} "
                          f"({_first_line(exc)})") from None
    return Distributed(rank, world, local_rank, timeout_s), device


def shutdown(ctx: Distributed, finished: bool = False) -> None:
    """Leave the process group: after the run (``finished``: every rank waits for the
    others first, so that none tears its connections down while rank 0 still measures
    the test set), or after a failure (at once)."""
    if ctx.active:
        import torch.distributed as dist

        if dist.is_initialized():
            if finished:
                dist.barrier()
            dist.destroy_process_group()


def check_batch_size(batch_size: int, ctx: Distributed) -> None:
    """The global batch must split into equal shares (``batch_size % world_size == 0``)."""
    if batch_size % ctx.world_size:
        raise fail("batch_size", batch_size, f"a multiple of the number of processes "
                   f"({ctx.world_size}): --batch-size is the global batch, each process "
                   f"takes batch_size / {ctx.world_size} of it")


def share(n: int, ctx: Distributed) -> slice:
    """This rank's contiguous part of ``n`` samples: the parts of the ranks in order
    cover ``0..n`` and differ in size by at most one (as :func:`torch.tensor_split`)."""
    base, extra = divmod(n, ctx.world_size)
    start = ctx.rank * base + min(ctx.rank, extra)
    return slice(start, start + base + (1 if ctx.rank < extra else 0))


def wrap(model: nn.Module, ctx: Distributed, device: str) -> nn.Module:
    """``model`` in :class:`DistributedDataParallel` (itself for one process); DDP sends
    rank 0's parameters and buffers to the others as it wraps."""
    if not ctx.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.device(device).index] if device.startswith("cuda") else None
    return DistributedDataParallel(model, device_ids=ids)


def unwrap(net: nn.Module) -> nn.Module:
    """The model inside a :func:`wrap`."""
    return getattr(net, "module", net)


def all_sum(values: list[float], ctx: Distributed) -> list[float]:
    """``values`` summed over the ranks (float64)."""
    if not ctx.active:
        return values
    import torch.distributed as dist

    # NCCL reduces CUDA tensors only
    device = f"cuda:{torch.cuda.current_device()}" if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor(values, dtype=torch.float64, device=device)
    with collective_errors(ctx):
        dist.all_reduce(t)
    return t.cpu().tolist()


def broadcast_object(obj: object, ctx: Distributed) -> object:
    """Rank 0's ``obj`` on every rank (the others pass ``None``)."""
    if not ctx.active:
        return obj
    import torch.distributed as dist

    box = [obj if ctx.is_main else None]
    with collective_errors(ctx):
        dist.broadcast_object_list(box, src=0)
    return box[0]


def sync_buffers(model: nn.Module, ctx: Distributed) -> None:
    """Rank 0's buffers (BatchNorm running statistics) on every rank."""
    if not ctx.active:
        return
    import torch.distributed as dist

    with collective_errors(ctx):
        for buf in model.buffers():
            dist.broadcast(buf.data, src=0)


@contextlib.contextmanager
def collective_errors(ctx: Distributed) -> Iterator[None]:
    """Turn a failed or timed-out collective into one :class:`PeerFailure` that says
    what happened, instead of the backend's traceback."""
    if not ctx.active:
        yield
        return
    import torch.distributed as dist

    try:
        yield
    except PeerFailure:
        raise
    except (dist.DistError, RuntimeError) as exc:
        if not _is_collective_error(exc):
            raise
        raise PeerFailure(f"rank {ctx.rank} of {ctx.world_size}: another process of the "
                          f"data-parallel run stopped or did not answer within "
                          f"{ctx.timeout_s:g} s ({_first_line(exc)}); see the other "
                          "processes' messages, then rerun (with --resume to continue from "
                          "the last checkpoint)") from None


def _is_collective_error(exc: BaseException) -> bool:
    import torch.distributed as dist

    if isinstance(exc, dist.DistError):
        return True
    text = str(exc).lower()
    return any(k in text for k in ("gloo", "nccl", "connection", "timed out", "timeout",
                                   "peer", "socket", "broken pipe"))


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]


def run_on_main(fn, ctx: Distributed):
    """``fn()`` on rank 0 alone, its result (tensors moved to the CPU) on every rank; a
    :class:`ParameterError` or :class:`DataError` it raises is raised on every rank."""
    if not ctx.active:
        return fn()
    from spikewave._validation import DataError

    payload = None
    if ctx.is_main:
        try:
            payload = ("ok", _to_cpu(fn()))
        except (ParameterError, DataError) as exc:
            broadcast_object(("error", type(exc).__name__, str(exc)), ctx)
            raise
    payload = broadcast_object(payload, ctx)
    if payload[0] == "error":
        raise (DataError if payload[1] == "DataError" else ParameterError)(payload[2])
    return payload[1]


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def local_batch(x_seq: torch.Tensor, y: torch.Tensor, ctx: Distributed
                ) -> tuple[torch.Tensor, torch.Tensor, int, float]:
    """This rank's share of a global batch ``x_seq [T, B, ...]``, ``y [B]``: ``(x, y,
    samples, loss weight)``, the weight ``world / B`` that makes DDP's gradient average the
    gradient of the global mean loss. A rank whose share is empty (a last batch smaller
    than the world) runs one sample with weight 0, so that its collectives still happen."""
    n = len(y)
    part = share(n, ctx)
    count = part.stop - part.start
    if count == 0:
        return x_seq[:, :1], y[:1], 0, 0.0
    return x_seq[:, part], y[part], count, ctx.world_size / n


def prepare_model(model: nn.Module, ctx: Distributed, device: str, sync_batchnorm: bool
                  ) -> nn.Module:
    """``model`` with its BatchNorm layers made :class:`~torch.nn.SyncBatchNorm` when
    ``sync_batchnorm`` (a data-parallel CUDA run; refused on CPUs, where PyTorch's
    SyncBatchNorm does not run, and for a model without BatchNorm)."""
    if not sync_batchnorm:
        return model
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise fail("sync_batchnorm", True, "off for a model without BatchNorm layers (only "
                   "--model conv has them)")
    if not device.startswith("cuda"):
        raise fail("sync_batchnorm", True, "used with --device cuda (PyTorch's "
                   "SyncBatchNorm runs on GPUs only; on CPUs each process normalises by "
                   "its own share of the batch)")
    if not ctx.active:
        return model
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)
