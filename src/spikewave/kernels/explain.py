"""``explain(module, x)``: which path each spiking layer of a module takes on an input, and
why -- the registry's own decision (:mod:`spikewave.kernels.registry`), not a guess."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from spikewave._validation import fail
from spikewave.kernels.registry import Choice


@dataclass(frozen=True)
class Explanation:
    """One row per spiking layer reached by the input: ``(name, layer class, choice)``;
    ``threads``: what the compiled kernels run on (their thread count and threads:
    torch's OpenMP team or spikewave's pool, :mod:`spikewave.kernels._threads`)."""

    rows: tuple[tuple[str, str, Choice], ...]
    threads: str = ""

    def __str__(self) -> str:
        if not self.rows:
            return "no spikewave layer in this module"
        width = max(len(name) for name, _, _ in self.rows)
        lines = [f"{name.ljust(width)}  {kind}: {choice.path} -- {choice.reason}"
                 for name, kind, choice in self.rows]
        return "\n".join(lines + ([f"compiled kernels: {self.threads}"] if self.threads
                                   else []))

    def paths(self) -> dict[str, str]:
        """``{layer name: path}``."""
        return {name: choice.path for name, _, choice in self.rows}


def explain(module: nn.Module, x: torch.Tensor) -> Explanation:
    """Run ``module`` on ``x`` without gradients and report, for each spikewave layer it
    reaches (the module itself or any submodule with a ``kernel_choice`` method), the path
    the registry chose for the input that layer received."""
    if not isinstance(module, nn.Module):
        raise fail("module", module, "a torch.nn.Module")
    rows: list[tuple[str, str, Choice]] = []
    hooks = []

    def record(name: str):
        def hook(layer: nn.Module, args: tuple) -> None:
            rows.append((name or type(layer).__name__, type(layer).__name__,
                         layer.kernel_choice(args[0])))
        return hook

    for name, layer in module.named_modules():
        if callable(getattr(layer, "kernel_choice", None)):
            hooks.append(layer.register_forward_pre_hook(record(name)))
    try:
        with torch.no_grad():
            module(x)
    finally:
        for hook in hooks:
            hook.remove()
    return Explanation(tuple(rows), _threads_in_force())


def _threads_in_force() -> str:
    from spikewave.kernels._threads import thread_count, threading_backend

    count = thread_count()
    if count == 1:
        return "1 thread (the caller's)"
    team = ("torch's OpenMP team" if threading_backend() == "openmp"
            else "the caller and spikewave's pool")
    return f"{count} threads, {team}"
