"""Which implementation runs a layer call: decided here, in one place, and explained.

Every multi-step function of :mod:`spikewave.kernels` asks this module which path to take,
from the model's spec, the tensors' dtype and device, the input's density and the weight's
size, and the configuration in force:

- ``"reference"``: the PyTorch loop over the pure steps (:mod:`spikewave.kernels.reference`)
  -- any device, dtype, surrogate or transform;
- ``"fused"``: the compiled CPU time loops (:mod:`~spikewave.kernels.lif_fused`,
  :mod:`~spikewave.kernels.alif_fused`, :mod:`~spikewave.kernels.recurrent_fused`);
- ``"event"``: binary input summed over its active entries (:mod:`~spikewave.kernels.
  spike_linear`; with the neurons in the same pass, :mod:`~spikewave.kernels.event_lif`);
- ``"chunked"``: time in chunks whose states alone are kept for the backward pass
  (:mod:`~spikewave.kernels.chunked_lif`);
- ``"sparse-grad"``: the backward pass over the near-threshold entries only
  (:mod:`~spikewave.kernels.sparse_grad`);
- ``"dense"``: ``torch.nn.functional.linear``.

Users steer it with one context manager, or set the process default once::

    with spikewave.kernels.use("reference"):           # every layer on the reference
        ...
    with spikewave.kernels.use(max_density=0.1):       # event-driven up to 10 % active
        ...
    spikewave.kernels.configure(check_finite=False)     # skip the NaN/inf input checks

and :func:`explain` says what a layer (or a whole network) runs on an input, and why. The
choice is reproducible: the density up to which the event-driven products are used is
``EVENT_DENSITY`` (measured with ``benchmarks/run.py``), or a calibration stored on disk for
this machine by :func:`spikewave.kernels.calibrate` -- never a timing taken at a first call;
the weight gradient of an event-driven layer is summed over the active inputs up to
``WEIGHT_GRAD_DENSITY`` (or the density the calibration measured for it), above it by the
dense product.
Under ``torch.compile`` one fixed path is taken (the fused custom operators; the event paths
read data to decide, so they are left out), and under ``torch.func`` transforms the
reference.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from spikewave._validation import (
    NON_NEGATIVE,
    ParameterError,
    check_choice,
    check_int,
    check_number,
    fail,
)
from spikewave.surrogate import NOT_A_STEP

PATHS = ("auto", "reference")
EVENT_DTYPES = (torch.float32, torch.float64)
# Input density up to which a dense layer on binary spikes sums the active inputs' weight
# rows instead of the dense product: the crossover measured with benchmarks/run.py lies
# between 0.15 (a CPU with AVX-512 and a fast sgemm) and 0.5 (AVX2); below it the event path
# is faster, above it at most ~1.5x slower. kernels.calibrate() measures it for a machine.
EVENT_DENSITY = 0.2
# Input density up to which the weight gradient of an event-driven layer, g.T @ s, is summed
# over the active inputs; above it, the dense product (on a CPU with AVX-512, timing both
# in turns, the crossover is about 0.12 at 512 x 512 and 0.15 at 1024 x 1024; at 0.1 the
# sums take 0.7-0.9x the product's time). kernels.calibrate() measures it for a machine.
WEIGHT_GRAD_DENSITY = 0.12
# Layers with fewer outputs take the dense product: finding the active inputs would cost
# more than the product itself.
MIN_EVENT_OUTPUTS = 64
# which threads run the compiled kernels (spikewave.kernels._threads)
THREADINGS = ("auto", "openmp", "pool")


class NonFiniteInput(ParameterError):
    """A layer's input holds NaN or infinite values."""


@dataclass(frozen=True)
class KernelConfig:
    """The settings :func:`use` and :func:`configure` change.

    - ``path``: ``"auto"`` (the fastest path that applies) or ``"reference"`` (the PyTorch
      loops everywhere: slow, for checking).
    - ``max_density``: binary input up to this density takes the event-driven products;
      None: ``EVENT_DENSITY``, or this machine's calibration when one is stored; 0 turns
      the event paths off.
    - ``min_event_outputs``: dense layers with fewer outputs take the dense product.
    - ``check_finite``: refuse NaN or infinite inputs with a clear error (one reduction
      over the input per layer call; turn it off to save it).
    - ``threads``: threads of the compiled kernels (None: ``torch.get_num_threads()``).
    - ``threading``: which threads run them: ``"openmp"`` (torch's OpenMP team),
      ``"pool"`` (threads of spikewave's own) or ``"auto"`` (the OpenMP team where torch
      runs on OpenMP and its runtime is found, else the pool;
      :mod:`spikewave.kernels._threads`).
    - ``buffer_pool_mb``: the most the kernels' pool of reused output arrays keeps.
    """

    path: str = "auto"
    max_density: float | None = None
    min_event_outputs: int = MIN_EVENT_OUTPUTS
    check_finite: bool = True
    threads: int | None = None
    threading: str = "auto"
    buffer_pool_mb: float = 256.0

    def __post_init__(self) -> None:
        owner = "spikewave.kernels.use"
        if self.path not in PATHS:
            raise fail("path", self.path, "one of " + ", ".join(map(repr, PATHS)), owner)
        if self.max_density is not None:
            check_number("max_density", self.max_density, NON_NEGATIVE, owner)
        check_int("min_event_outputs", self.min_event_outputs, 1, owner=owner)
        if not isinstance(self.check_finite, bool):
            raise fail("check_finite", self.check_finite, "True or False", owner)
        if self.threads is not None:
            check_int("threads", self.threads, 1, 1024, owner=owner)
        check_choice("threading", self.threading, THREADINGS, owner)
        check_number("buffer_pool_mb", self.buffer_pool_mb, NON_NEGATIVE, owner)


_DEFAULT = [KernelConfig()]
_OVERRIDE: contextvars.ContextVar[KernelConfig | None] = contextvars.ContextVar(
    "spikewave_kernel_config", default=None)


def config() -> KernelConfig:
    """The configuration in force (the innermost :func:`use`, else the process default)."""
    return _OVERRIDE.get() or _DEFAULT[0]


@contextlib.contextmanager
def use(path: str | None = None, **settings: Any) -> Iterator[KernelConfig]:
    """Run the ``with`` block with a path (``"auto"`` or ``"reference"``) and/or other
    settings of :class:`KernelConfig`; the configuration before is restored after it."""
    changes = dict(settings)
    if path is not None:
        changes["path"] = path
    try:
        new = dataclasses.replace(config(), **changes)
    except TypeError:
        known = ", ".join(f.name for f in dataclasses.fields(KernelConfig))
        raise ParameterError(f"spikewave.kernels.use takes the settings {known}; got "
                             f"{sorted(settings)}.") from None
    token = _OVERRIDE.set(new)
    try:
        _trim_buffers(settings)
        yield new
    finally:
        _OVERRIDE.reset(token)


def configure(**settings: Any) -> KernelConfig:
    """Change the process default (outside any :func:`use` block); returns it."""
    try:
        _DEFAULT[0] = dataclasses.replace(_DEFAULT[0], **settings)
    except TypeError:
        known = ", ".join(f.name for f in dataclasses.fields(KernelConfig))
        raise ParameterError(f"spikewave.kernels.configure takes the settings {known}; got "
                             f"{sorted(settings)}.") from None
    _trim_buffers(settings)
    return _DEFAULT[0]


def _trim_buffers(settings: dict) -> None:
    """A changed ``buffer_pool_mb`` applies at once to the arrays the pool holds."""
    if "buffer_pool_mb" in settings:
        from spikewave.kernels import _buffers

        _buffers.trim()


@dataclass(frozen=True)
class Choice:
    """A path and the reason it was chosen."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path} ({self.reason})"


def transformed() -> bool:
    """Whether a ``torch.func`` transform (vmap, grad, jacrev, ...) is running: its batched
    or wrapped tensors can only go through PyTorch operations."""
    return torch._C._functorch.peek_interpreter_stack() is not None


def compiling() -> bool:
    return torch.compiler.is_compiling()


def loop_choice(x: torch.Tensor, surrogate_kind: int, what: str = "the fused time loop"
                ) -> Choice:
    """Reference or fused for a neuron time loop over ``x`` with a surrogate the kernels
    know by ``surrogate_kind`` (:func:`spikewave.surrogate.kernel_kind`)."""
    surrogate_known = surrogate_kind >= 0
    if surrogate_kind == NOT_A_STEP:
        return Choice("reference", "the surrogate replaces the Heaviside forward step")
    if compiling():  # one fixed path, decided on static properties only
        if x.device.type == "cpu" and x.dtype in EVENT_DTYPES and surrogate_known:
            return Choice("fused", f"under torch.compile: {what}'s custom operators")
        return Choice("reference", "under torch.compile, for this device, dtype or "
                      "surrogate")
    cfg = config()
    if cfg.path == "reference":
        return Choice("reference", "spikewave.kernels.use('reference') is in force")
    if transformed():
        return Choice("reference", "inside a torch.func transform")
    if x.device.type != "cpu":
        return Choice("reference", f"on {x.device.type}: {what} is compiled for the CPU")
    if x.dtype not in EVENT_DTYPES:
        return Choice("reference", f"{x.dtype}: {what} takes float32 or float64")
    return Choice("fused", f"{what} for CPU {str(x.dtype).replace('torch.', '')}")


def density_limit(weight: torch.Tensor, max_density: float | None) -> float:
    """The input density up to which a layer of ``weight[out, in]`` takes an event path:
    the layer's own ``max_density``, else the configuration's, else this machine's
    calibration, else ``EVENT_DENSITY``; 0 below ``min_event_outputs`` outputs."""
    cfg = config()
    if weight.shape[0] < cfg.min_event_outputs:
        return 0.0
    if max_density is not None:
        return float(max_density)
    if cfg.max_density is not None:
        return cfg.max_density
    from spikewave.kernels.calibration import stored_density

    stored = stored_density()
    return EVENT_DENSITY if stored is None else stored


def event_choice(x: torch.Tensor, weight: torch.Tensor, max_density: float | None
                 ) -> tuple[Choice, float]:
    """Whether binary input may take an event path (before the scan that finds its active
    entries): ``(Choice("event" or "dense", why), density limit)``."""
    if compiling():
        return Choice("dense", "under torch.compile (the event path reads the input to "
                      "decide)"), 0.0
    cfg = config()
    if cfg.path == "reference":
        return Choice("dense", "spikewave.kernels.use('reference') is in force"), 0.0
    if transformed():
        return Choice("dense", "inside a torch.func transform"), 0.0
    if x.device.type != "cpu" or weight.device.type != "cpu":
        return Choice("dense", f"on {x.device.type}: the event path is for the CPU"), 0.0
    if x.dtype not in EVENT_DTYPES or x.dtype != weight.dtype:
        return Choice("dense", f"{x.dtype} input for a {weight.dtype} weight: the event "
                      "path takes float32 or float64, the same for both"), 0.0
    if not x.numel():
        return Choice("dense", "empty input"), 0.0
    limit = density_limit(weight, max_density)
    if limit <= 0.0:
        why = (f"{weight.shape[0]} outputs, fewer than min_event_outputs = "
               f"{cfg.min_event_outputs}" if weight.shape[0] < cfg.min_event_outputs
               else "max_density is 0")
        return Choice("dense", why), 0.0
    return Choice("event", f"binary input at most {limit:g} active"), limit


def weight_grad_limit() -> float:
    """The input density above which an event-driven layer's weight gradient is the dense
    product: this machine's calibration (:func:`~spikewave.kernels.calibrate`), else
    ``WEIGHT_GRAD_DENSITY``."""
    from spikewave.kernels.calibration import stored_weight_grad_density

    stored = stored_weight_grad_density()
    return WEIGHT_GRAD_DENSITY if stored is None else stored


def dense_weight_grad(n_active: int, n_entries: int, n_out: int | None = None,
                      limit: float | None = None) -> bool:
    """Whether the weight gradient of an event-driven layer of ``n_out`` outputs is the
    dense product: more than ``limit`` (default :func:`weight_grad_limit`) of the input's
    ``n_entries`` entries are active and the layer has more than 16 outputs (a narrower
    layer's is always summed over the active inputs, a row's outputs in one vector)."""
    from spikewave.kernels._simd import NARROW

    if n_out is not None and n_out <= NARROW:
        return False
    return n_active > (weight_grad_limit() if limit is None else limit) * n_entries


def scan_choice(active, limit: float, n_in: int, n_out: int | None = None) -> Choice:
    """The choice after the scan (:func:`~spikewave.kernels.spike_scan.active_inputs`
    gives None when the input is not binary or denser than ``limit``) of an input of
    ``n_in`` features to a layer of ``n_out`` outputs; the reason says how the weight
    gradient will be taken (:func:`dense_weight_grad`)."""
    if active is None:
        return Choice("dense", f"input not binary, or more than {limit:g} of it active")
    ptr, _ = active
    rows = max(len(ptr) - 1, 1)
    wlimit = weight_grad_limit()  # read once: the calibration's lookup is not free
    if dense_weight_grad(int(ptr[-1]), (len(ptr) - 1) * n_in, n_out, wlimit):
        wgrad = f"the dense product (over {wlimit:g} active)"
    elif n_out is not None and dense_weight_grad(int(ptr[-1]), (len(ptr) - 1) * n_in,
                                                 limit=wlimit):
        wgrad = "summed over them (at most 16 outputs: at any density)"
    else:
        wgrad = "summed over them"
    return Choice("event", f"binary input, {int(ptr[-1]) / rows:.1f} active per row "
                  f"(limit {limit:g} of the inputs); weight gradient {wgrad}")


def check_sequence(x: torch.Tensor, owner: str, *, dims: int | None = None,
                   features: int | None = None) -> None:
    """One clear error for an input ``x[T, B, ...]`` a layer cannot run: not a tensor, too
    few dimensions (``dims``: exactly so many), the wrong number of features (last axis),
    no time step, or (``check_finite``) NaN or infinite values. Under ``torch.compile`` the
    finiteness check is an asynchronous assertion in the graph; inside ``torch.func``
    transforms it is skipped."""
    if not isinstance(x, torch.Tensor):
        raise fail("x", x, "a tensor [T, B, ...]", owner)
    shape = tuple(x.shape)
    if dims is not None and features is not None:
        want = "a tensor [T, B, " + ("..., " if dims > 3 else "") + f"{features}]"
    elif dims is not None:
        want = "a tensor [T, B" + ", ..." * (dims > 2) + "]"
    elif features is not None:
        want = f"a tensor [T, B, ..., {features}]"
    else:
        want = "a tensor [T, B, ...]"
    if x.dim() < 2 or (dims is not None and x.dim() != dims):
        raise fail("x", f"a tensor of shape {shape}", want, owner)
    if features is not None and shape[-1] != features:
        raise fail("x", f"a tensor of shape {shape}", want, owner)
    if shape[0] == 0:
        raise fail("x", f"a tensor of shape {shape} (T = 0 time steps)",
                   want + " with at least one time step", owner)
    if not x.is_floating_point():
        return
    if compiling():
        torch._assert_async(torch.isfinite(x).all(),
                            f"The 'x' parameter of {owner} must be finite (no NaN or inf).")
        return
    if not config().check_finite or transformed():
        return
    values = x.detach()
    if shape[0] > 1 and x.stride(0) == 0:  # the same input at every step: check one
        values = values[:1]
    if not math.isfinite(float(values.sum())) and not bool(torch.isfinite(values).all()):
        bad = values[~torch.isfinite(values)].reshape(-1)[0].item()
        raise NonFiniteInput(str(fail("x", f"a tensor containing {bad}", "finite (no NaN or "
                             "inf; spikewave.kernels.use(check_finite=False) skips this "
                             "check)", owner)))
