"""Conformance checks for spiking layers: what every layer of :mod:`spikewave.nn` must do,
public so that a layer written elsewhere can be held to the same rules.

::

    from spikewave.testing import check_layer
    check_layer(MyLayer(...), torch.rand(12, 3, 8))    # raises AssertionError on a failure

:func:`check_layer` runs, on copies of the layer (the layer passed in is not changed):

- ``step``: stepping through the input with ``layer.step`` gives what ``layer(x)`` gives,
  and the state after the last step equals ``layer(x, return_state=True)``'s;
- ``state``: running the sequence in two pieces, the second from the first's state, gives
  the outputs of one run;
- ``functional``: ``torch.func.functional_call`` with the layer's parameters equals the
  module;
- ``dtypes``: float32 and float64 run and keep their dtype;
- ``copies``: ``state_dict``, pickle and deepcopy round trips give the same outputs;
- ``paths``: the fast path the registry chooses equals the reference path (same outputs,
  gradients to tolerance);
- ``gradcheck``: in float64, with every surrogate's forward replaced by its smooth
  primitive (on the reference path), the gradients to the input and parameters equal
  finite differences;
- ``compile``: ``torch.compile(fullgraph=True)`` with each of ``compile_backends`` traces
  without a graph break and gives the eager outputs;
- ``fx``: ``torch.fx.symbolic_trace`` gives a graph module with the layer's outputs;
- ``vmap``: ``torch.func.vmap`` over an extra leading axis equals a loop;
- ``bad-input``: an input with no time step, or with a NaN, gives one clear
  :class:`~spikewave.ParameterError`;
- ``cuda``: on a GPU, the same outputs as on the CPU (skipped without one).

A check that does not apply to a layer (a stateless layer has no state to carry) passes
trivially; ``skip`` leaves checks out by name. Returns the names of the checks that ran.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import pickle
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from spikewave._validation import ParameterError, fail

CHECKS = ("step", "state", "functional", "dtypes", "copies", "paths", "gradcheck", "compile",
          "fx", "vmap", "bad-input", "cuda")
_TOL = {torch.float64: 1e-9, torch.float32: 2e-4}


def _outputs(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


def _close(got: Any, want: Any, dtype: torch.dtype, what: str) -> None:
    """Tensors, or tuples of them (states), equal to the dtype's tolerance."""
    if want is None or got is None:
        assert got is None and want is None, f"{what}: one state is None, the other not"
        return
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), f"{what}: state structure"
        for g, w in zip(got, want, strict=True):
            _close(g, w, dtype, what)
        return
    tol = _TOL.get(dtype, 1e-5)
    torch.testing.assert_close(got, want, rtol=tol, atol=tol, msg=lambda m: f"{what}: {m}")


def _step_through(layer: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, Any]:
    state, outs = None, []
    for x_t in x:
        y, state = layer.step(x_t, state)
        outs.append(y)
    return torch.stack(outs), state


def _smooth(surrogate: Any) -> Any:
    """A copy of ``surrogate`` whose forward is its primitive (a smooth step): its true
    gradient is the derivative the surrogate's backward gives, so gradcheck applies."""
    cls = type(surrogate)
    smooth_cls = type(f"Smooth{cls.__name__}", (cls,),
                      {"__call__": lambda self, u: self.primitive(u)})
    out = object.__new__(smooth_cls)
    for f in dataclasses.fields(surrogate):
        object.__setattr__(out, f.name, getattr(surrogate, f.name))
    return out


def _smoothed(layer: nn.Module) -> nn.Module:
    """A copy whose specs' surrogates have their primitive as forward, and whose reset is
    not detached (a detached reset is a deliberate departure from the true gradient)."""
    out = copy.deepcopy(layer)
    for module in out.modules():
        spec = getattr(module, "spec", None)
        if spec is not None and hasattr(spec, "surrogate"):
            module.spec = spec.replace(surrogate=_smooth(spec.surrogate), detach_reset=False)
    return out


def check_layer(layer: nn.Module, x: torch.Tensor, *, skip: Iterable[str] = (),
                compile_backends: tuple[str, ...] = ("eager", "aot_eager"),
                gradcheck_input: torch.Tensor | None = None) -> list[str]:
    """Run the conformance checks (module docstring) on ``layer`` with the input ``x[T, B,
    ...]``; raises ``AssertionError`` naming the check that failed. ``gradcheck_input``:
    a smaller input for ``gradcheck`` (default: the first 6 steps and 2 samples of ``x``).
    """
    skip = set(skip)
    unknown = skip - set(CHECKS)
    if unknown:
        raise fail("skip", sorted(unknown), "names among " + ", ".join(CHECKS), "check_layer")
    if not isinstance(layer, nn.Module) or not callable(getattr(layer, "step", None)):
        raise fail("layer", layer, "an nn.Module with forward(x, state=None, *, "
                   "return_state=False) and step(x_t, state=None)", "check_layer")
    if not isinstance(x, torch.Tensor) or x.dim() < 2 or len(x) < 2:
        raise fail("x", x, "a tensor [T >= 2, B, ...]", "check_layer")
    from spikewave import kernels

    ran = []
    layer = copy.deepcopy(layer).to(x.dtype)
    dtype = x.dtype

    def run(name: str, check: Callable[[], None]) -> None:
        if name in skip:
            return
        check()
        ran.append(name)

    def step() -> None:
        with torch.no_grad():
            y, state = layer(x, return_state=True)
            y_steps, state_steps = _step_through(layer, x)
        with kernels.use("reference"):
            with torch.no_grad():
                y_ref = _outputs(layer(x))
        _close(y_steps, y_ref, dtype, "step: stepping against the reference forward")
        _close(y, y_steps, dtype, "step: the forward pass against stepping")
        _close(state, state_steps, dtype, "step: the last state")

    def state() -> None:
        k = len(x) // 2
        with torch.no_grad():
            y = _outputs(layer(x))
            y1, s1 = layer(x[:k], return_state=True)
            y2 = _outputs(layer(x[k:], s1))
        _close(torch.cat([y1, y2]), y, dtype, "state: two pieces against one run")

    def functional() -> None:
        params = dict(layer.named_parameters()) | dict(layer.named_buffers())
        with torch.no_grad():
            got = torch.func.functional_call(layer, params, (x,))
            _close(_outputs(got), _outputs(layer(x)), dtype, "functional: functional_call")

    def dtypes() -> None:
        for other in (torch.float32, torch.float64):
            y = _outputs(copy.deepcopy(layer).to(other)(x.to(other)))
            assert y.dtype == other, f"dtypes: {other} input gave {y.dtype} output"

    def copies() -> None:
        with torch.no_grad():
            want = _outputs(layer(x))
            fresh = copy.deepcopy(layer)
            for p in fresh.parameters():
                p.add_(1.0)
            fresh.load_state_dict(layer.state_dict())
            buf = io.BytesIO()
            torch.save(layer.state_dict(), buf)
            buf.seek(0)
            for name, other in (("state_dict", fresh), ("pickle",
                                pickle.loads(pickle.dumps(layer))),
                                ("deepcopy", copy.deepcopy(layer))):
                _close(_outputs(other(x)), want, dtype, f"copies: {name}")
            assert set(torch.load(buf, weights_only=True)) == set(layer.state_dict())

    def paths() -> None:
        params = [p for p in layer.parameters() if p.requires_grad]
        results = []
        for path in ("auto", "reference"):
            xg = x.detach().clone().requires_grad_(x.is_floating_point())
            with kernels.use(path):
                y = _outputs(layer(xg))
                g = torch.randn(y.shape, generator=torch.Generator().manual_seed(0),
                                dtype=y.dtype)
                grads = torch.autograd.grad((y * g).sum(), [xg, *params], allow_unused=True)
            results.append((y.detach(), grads))
        (y_auto, g_auto), (y_ref, g_ref) = results
        _close(y_auto, y_ref, dtype, "paths: outputs of the chosen path and the reference")
        for a, r in zip(g_auto, g_ref, strict=True):
            if a is None or r is None:
                assert a is None and r is None or (a is not None and not a.any()) or \
                    (r is not None and not r.any()), "paths: a gradient missing on one path"
                continue
            tol = 1e-7 if dtype == torch.float64 else 1e-3
            torch.testing.assert_close(a, r, rtol=tol, atol=tol,
                                       msg=lambda m: f"paths: gradients: {m}")

    def gradcheck() -> None:
        small = (gradcheck_input if gradcheck_input is not None
                 else x[:6, :2]).detach().double().requires_grad_(True)
        smooth = _smoothed(layer).double()
        params = {n: p.detach().clone().requires_grad_(p.requires_grad)
                  for n, p in smooth.named_parameters()}
        names = [n for n, p in params.items() if p.requires_grad]
        buffers = dict(smooth.named_buffers())

        def fn(inp, *values):
            call = dict(params) | dict(zip(names, values, strict=True)) | buffers
            return _outputs(torch.func.functional_call(smooth, call, (inp,)))

        with kernels.use("reference"):
            ok = torch.autograd.gradcheck(fn, (small, *[params[n] for n in names]),
                                          eps=1e-6, atol=1e-5, rtol=1e-4)
        assert ok, "gradcheck: surrogate gradients differ from finite differences"

    def compiled() -> None:
        import torch._dynamo as dynamo

        with torch.no_grad():
            want = _outputs(layer(x))
        for backend in compile_backends:
            dynamo.reset()
            explained = dynamo.explain(layer)(x)
            assert explained.graph_break_count == 0, (
                f"compile: {explained.graph_break_count} graph break(s) with {backend}: "
                f"{[str(b.reason) for b in explained.break_reasons][:3]}")
            fn = torch.compile(layer, fullgraph=True, backend=backend)
            with torch.no_grad():
                got = _outputs(fn(x))
            _close(got, want, dtype, f"compile: {backend} outputs")
        dynamo.reset()

    def fx() -> None:
        traced = torch.fx.symbolic_trace(layer)
        with torch.no_grad():
            _close(_outputs(traced(x)), _outputs(layer(x)), dtype, "fx: the traced module")

    def vmapped() -> None:
        xs = torch.stack([x, x.flip(0)])
        with torch.no_grad():
            got = torch.func.vmap(lambda xi: _outputs(layer(xi)))(xs)
            want = torch.stack([_outputs(layer(xi)) for xi in xs])
        _close(got, want, dtype, "vmap: against a loop")

    def bad_input() -> None:
        empty = x[:0]
        for bad, what in ((empty, "T = 0"), (x.clone().index_fill_(0, torch.tensor([1]),
                                                                 float("nan")), "NaN")):
            try:
                layer(bad)
            except ParameterError:
                continue
            raise AssertionError(f"bad-input: an input with {what} gave no ParameterError")

    def cuda() -> None:
        if not torch.cuda.is_available():
            return
        with torch.no_grad():
            want = _outputs(layer(x))
            got = _outputs(copy.deepcopy(layer).cuda()(x.cuda())).cpu()
        _close(got, want, dtype, "cuda: against the CPU")

    for name, check in (("step", step), ("state", state), ("functional", functional),
                        ("dtypes", dtypes), ("copies", copies), ("paths", paths),
                        ("gradcheck", gradcheck), ("compile", compiled), ("fx", fx),
                        ("vmap", vmapped),
                        ("bad-input", bad_input), ("cuda", cuda)):
        if name == "step" or name == "state":
            if getattr(layer, "step", None) is None:
                continue
        run(name, check)
    return ran


def check_surrogate(surrogate: Any, dtype: torch.dtype = torch.float64) -> None:
    """That a surrogate's ``derivative`` is its ``primitive``'s (by central differences in
    float64, wherever the primitive is smooth), that its compiled ``kernel_row`` (when it
    has one) gives the same values, and that its backward gives them."""
    grid = torch.linspace(-3.0, 3.0, 601, dtype=torch.float64)
    h = 1e-5

    def central(step: float) -> torch.Tensor:
        return (surrogate.primitive(grid + step) - surrogate.primitive(grid - step)) / (2 * step)

    fd, fd_half = central(h), central(h / 2)
    p0 = surrogate.primitive(grid)
    one_sided = ((surrogate.primitive(grid + h) - p0) - (p0 - surrogate.primitive(grid - h))) / h
    # no kink within h of the point: central differences of two steps agree, and so do the
    # forward and backward ones (a kink exactly on a grid point fools the first test alone)
    smooth = ((fd - fd_half).abs() <= 1e-6 * (1 + fd.abs())) & \
        (one_sided.abs() <= 1e-2 * (1 + fd.abs()))
    assert int(smooth.sum()) > len(grid) // 2, "primitive: too few smooth points to check"
    torch.testing.assert_close(surrogate.derivative(grid)[smooth], fd[smooth], rtol=1e-4,
                               atol=1e-5,
                               msg=lambda m: f"derivative against the primitive: {m}")
    x = grid.to(dtype)
    want = surrogate.derivative(x)
    row = type(surrogate).kernel_row
    if row is not None:
        out = torch.empty_like(x)
        row(x.numpy(), float(surrogate.scale), out.numpy())
        torch.testing.assert_close(out, want, rtol=1e-6, atol=1e-7,
                                   msg=lambda m: f"kernel_row against derivative: {m}")
    xg = x.clone().requires_grad_(True)
    surrogate(xg).backward(torch.ones_like(x))
    torch.testing.assert_close(xg.grad, want, msg=lambda m: f"backward against derivative: {m}")
