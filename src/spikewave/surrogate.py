"""Surrogate spike functions: Heaviside forward, the derivative of a stated primitive backward.

Each surrogate is a small, immutable, picklable value with a ``scale`` (steepness) and two
methods: ``primitive(x)``, a smooth step, and ``derivative(x)``, its exact derivative.
``surrogate(x)`` returns ``H(x)`` (1 where ``x >= 0``: reaching threshold fires, the tie at
exactly 0 gives a spike, as in SpikingJelly; snnTorch and Norse use ``x > 0``) in the dtype
of ``x``, and backpropagates ``grad * derivative(x)``. ``x`` is ``V - threshold``.

What the compiled kernels need is carried by the class, once: ``kernel_row``, a Numba
function ``kernel_row(u_row, scale, out)`` writing ``P'(u)`` of a 1-D row into ``out`` in
the row's precision (the five below register theirs). A surrogate defined elsewhere runs
on the fused paths too: with its own ``kernel_row`` when it registers one (compiled on first
use), else with its ``derivative`` evaluated by PyTorch over the saved potentials -- the
reference's gradient either way. :func:`spikewave.testing.check_surrogate` checks that a
``kernel_row`` agrees with ``derivative``.

=================  ==========================================  ===========================
name               primitive P(x)                              derivative P'(x)
=================  ==========================================  ===========================
``FastSigmoid``    x / (1 + s abs(x))   (SuperSpike)           1 / (1 + s abs(x))^2
``ATan``           arctan(pi s x / 2) / pi + 1/2               (s / 2) / (1 + (pi s x / 2)^2)
``Sigmoid``        sigmoid(s x)                                s sigmoid(s x)(1 - sigmoid(s x))
``Triangle``       piecewise quadratic, 0 .. 1                 s max(0, 1 - s abs(x))
``Boxcar``         clamp(s x / 2 + 1/2, 0, 1)                  s / 2 where abs(x) < 1 / s
=================  ==========================================  ===========================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from spikewave._numba import njit
from spikewave._validation import POSITIVE, check_number, fail


# The compiled derivatives, one branch-free loop each, in the row's precision (every
# constant cast to its dtype: float32 stays float32, so LLVM vectorises the loop). Division
# by values that cannot be zero: Numpy's error model, no zero test in the loop.
@njit(error_model="numpy")
def fast_sigmoid_row(u, s, out):  # pragma: no cover - compiled
    """``1 / (1 + s|u|)^2``."""
    real = u.dtype.type
    one, s = real(1.0), real(s)
    for m in range(u.shape[0]):
        d = one + s * abs(u[m])
        out[m] = one / (d * d)


@njit(error_model="numpy")
def atan_row(u, s, out):  # pragma: no cover - compiled
    """``(s/2) / (1 + (pi s u / 2)^2)``."""
    real = u.dtype.type
    one, half, s = real(1.0), real(0.5), real(s)
    c = real(0.5 * math.pi) * s
    for m in range(u.shape[0]):
        a = c * u[m]
        out[m] = half * s / (one + a * a)


@njit(error_model="numpy")
def sigmoid_row(u, s, out):  # pragma: no cover - compiled
    """``s sigmoid(s u) (1 - sigmoid(s u))``."""
    real = u.dtype.type
    one, s = real(1.0), real(s)
    for m in range(u.shape[0]):
        e = one / (one + math.exp(-s * u[m]))
        out[m] = s * e * (one - e)


@njit(error_model="numpy")
def triangle_row(u, s, out):  # pragma: no cover - compiled
    """``s max(0, 1 - s|u|)``."""
    real = u.dtype.type
    one, zero, s = real(1.0), real(0.0), real(s)
    for m in range(u.shape[0]):
        out[m] = s * max(zero, one - s * abs(u[m]))


@njit(error_model="numpy")
def boxcar_row(u, s, out):  # pragma: no cover - compiled
    """``s / 2`` where ``s|u| < 1``, else 0."""
    real = u.dtype.type
    one, half, zero, s = real(1.0), real(0.5), real(0.0), real(s)
    for m in range(u.shape[0]):
        out[m] = half * s if s * abs(u[m]) < one else zero


BUILT_IN_ROWS = (fast_sigmoid_row, atan_row, sigmoid_row, triangle_row, boxcar_row)
OWN_KIND = -1
NOT_A_STEP = -2


def kernel_kind(surrogate: Surrogate) -> int:
    """The number the compiled kernels know ``surrogate``'s derivative by (its position in
    ``BUILT_IN_ROWS``), ``OWN_KIND`` for any other (the kernels then take its derivative
    precomputed, :mod:`spikewave.kernels._surrogate`), or ``NOT_A_STEP`` when its class
    replaces the forward Heaviside step (``__call__``): only the reference runs that."""
    if type(surrogate).__call__ is not Surrogate.__call__:
        return NOT_A_STEP
    row = type(surrogate).kernel_row
    for kind, known in enumerate(BUILT_IN_ROWS):
        if row is known:
            return kind
    return OWN_KIND


class _Spike(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:  # type: ignore[override]
        return (x >= 0).to(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, surrogate = inputs
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * ctx.surrogate.derivative(x), None


@dataclass(frozen=True)
class Surrogate:
    """Base of the surrogates: ``scale`` is the steepness (larger: closer to a step).

    A subclass defines ``primitive`` and its exact ``derivative`` (PyTorch), and may set
    the class attribute ``kernel_row`` to a compiled ``(u_row, scale, out)`` function
    giving the same derivative (see the module docstring)."""

    scale: float = 1.0
    kernel_row: ClassVar[Callable[..., Any] | None] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", check_number("scale", self.scale, POSITIVE,
                                                       type(self).__name__))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _Spike.apply(x, self)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def derivative(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    """SuperSpike (Zenke & Ganguli 2018): ``1 / (1 + s|x|)^2``; the tutorials use s = 100."""

    scale: float = 10.0
    kernel_row = staticmethod(fast_sigmoid_row)

    def primitive(self, x):
        return x / (1 + self.scale * x.abs())

    def derivative(self, x):
        return 1.0 / (1 + self.scale * x.abs()) ** 2


@dataclass(frozen=True)
class ATan(Surrogate):
    """Arctangent (SpikingJelly's default family): ``(s/2) / (1 + (pi s x / 2)^2)``."""

    scale: float = 2.0
    kernel_row = staticmethod(atan_row)

    def primitive(self, x):
        return torch.atan(math.pi / 2 * self.scale * x) / math.pi + 0.5

    def derivative(self, x):
        return self.scale / 2 / (1 + (math.pi / 2 * self.scale * x) ** 2)


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    """Derivative of the logistic sigmoid: ``s sigmoid(s x) (1 - sigmoid(s x))``."""

    scale: float = 4.0
    kernel_row = staticmethod(sigmoid_row)

    def primitive(self, x):
        return torch.sigmoid(self.scale * x)

    def derivative(self, x):
        sg = torch.sigmoid(self.scale * x)
        return self.scale * sg * (1 - sg)


@dataclass(frozen=True)
class Triangle(Surrogate):
    """Piecewise linear (Esser et al. 2016): ``s max(0, 1 - s|x|)``, support ``|x| < 1/s``."""

    scale: float = 1.0
    kernel_row = staticmethod(triangle_row)

    def primitive(self, x):
        u = (self.scale * x).clamp(-1.0, 1.0)
        return torch.where(u < 0, 0.5 * (1 + u) ** 2, 1 - 0.5 * (1 - u) ** 2)

    def derivative(self, x):
        return self.scale * (1 - self.scale * x.abs()).clamp(min=0.0)


@dataclass(frozen=True)
class Boxcar(Surrogate):
    """Rectangular window: ``s / 2`` on ``|x| < 1/s``, 0 elsewhere."""

    scale: float = 1.0
    kernel_row = staticmethod(boxcar_row)

    def primitive(self, x):
        return (self.scale * x / 2 + 0.5).clamp(0.0, 1.0)

    def derivative(self, x):
        return (self.scale * x.abs() < 1).to(x.dtype) * (self.scale / 2)


SURROGATES = {"fast-sigmoid": FastSigmoid, "atan": ATan, "sigmoid": Sigmoid,
              "triangle": Triangle, "boxcar": Boxcar}


@dataclass(frozen=True, init=False)
class BandLimited(Surrogate):
    """A surrogate whose derivative is cut to zero outside ``abs(x) < band`` (Perez-Nieves &
    Goodman 2021: only neurons whose potential is near threshold are "active" and carry a
    gradient). Primitive ``P(clamp(x, -band, band))`` of the ``base`` surrogate's ``P``.

    With ``detach_reset=True`` and a subtract reset the gradient of a :class:`LinearLIF`
    then depends only on the active entries, and on the CPU its backward pass visits only
    those (:mod:`spikewave.kernels.sparse_grad`). The paper uses ``FastSigmoid(100)`` and a
    band of 0.2 for a threshold of 1.
    """

    base: Surrogate
    band: float

    def __init__(self, base: Surrogate = FastSigmoid(100.0), band: float = 0.2) -> None:
        if not isinstance(base, Surrogate) or isinstance(base, BandLimited):
            raise fail("base", base, "one of the five surrogates", "BandLimited")
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "scale", base.scale)
        object.__setattr__(self, "band", check_number("band", band, POSITIVE, "BandLimited"))

    def primitive(self, x):
        return self.base.primitive(x.clamp(-self.band, self.band))

    def derivative(self, x):
        return self.base.derivative(x) * (x.abs() < self.band).to(x.dtype)
