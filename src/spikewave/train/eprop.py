"""e-prop (Bellec et al. 2020): training a spiking network forward in time only, with
eligibility traces and a learning signal -- memory independent of the sequence length.

BPTT keeps every step's state for the backward pass, so its memory grows with the number
of steps ``T``. e-prop computes, as the network runs, one eligibility trace per synapse
(:mod:`spikewave.train.eprop_traces`) and combines it with a learning signal: the readout
error sent back to each hidden neuron through feedback weights (the readout weights
themselves -- *symmetric* e-prop -- or a fixed random matrix -- *random* e-prop). The
memory is the traces' (synapses x batch), whatever ``T``. The gradient it computes is the
exact gradient of the same network with the recurrent spikes and the reset's spike
detached (what e-prop leaves out); for a network with one dense hidden layer that is BPTT's
gradient with a detached reset.

:class:`EProp` wraps a :class:`~spikewave.train.models.SpikingSequential` of one of these
shapes (any LIF layer with a subtract reset; the readout a fixed leaky integrator):

- one or more dense hidden layers: :class:`~spikewave.nn.LinearLIF`, or a
  :class:`~spikewave.nn.SpikeLinear` (``nn.Linear``) followed by a
  :class:`~spikewave.nn.LIF` or :class:`~spikewave.nn.ALIF` (more than one hidden layer:
  random feedback, sent to each hidden layer directly);
- one recurrent hidden layer: ``SpikeLinear`` followed by a
  :class:`~spikewave.nn.RecurrentLIF`, as in the paper;

then a ``SpikeLinear`` read-out. It learns every parameter of these layers: weights,
biases, recurrent weights and trained time constants (their traces are those of a synapse
whose input is 1, or the neuron's own potential).

Two ways to train:

- ``EProp(model)(x)`` returns what the model returns (readout potentials ``[T, B, out]``
  and spikes per sample); a loss of the time-averaged potentials (what
  :func:`~spikewave.train.loop.fit` uses) then back-propagates e-prop's gradient. The
  learning signal is known only at the end of the sequence, so the weights change once per
  batch; nothing of the hidden layers is kept per step.
- :meth:`EProp.online_step` uses a loss at every step (cross-entropy of the readout at
  each step, averaged): the learning signal is known as the network runs, and the weights
  can be updated every ``update_every`` steps, inside the sequence.

Example: train the digits network with e-prop through the usual loop (the trained model
is the plain network's: its state dict loads into it)::

    >>> import torch
    >>> from spikewave.train import build, fit, TrainConfig
    >>> from spikewave.train.eprop import EProp
    >>> recipe = build("digits", "dense", time_steps=8, seed=0)
    >>> net = EProp(recipe.model)                            # symmetric feedback
    >>> x = recipe.encode(torch.as_tensor(recipe.data.x_train[:32]), torch.Generator())
    >>> v, spikes = net(x)                                   # [T, B, 10], a number
    >>> loss = torch.nn.functional.cross_entropy(v.mean(0), torch.as_tensor(
    ...     recipe.data.y_train[:32]))
    >>> loss.backward()                                      # e-prop's gradient
    >>> recipe.model.layers[0].weight.grad.shape
    torch.Size([128, 64])

and online, updating inside the sequence every 4 steps::

    >>> opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    >>> step = net.online_step(x, torch.as_tensor(recipe.data.y_train[:32]), opt,
    ...                        update_every=4)
    >>> step.potentials.shape, step.updates
    (torch.Size([8, 32, 10]), 2)

``fit(EProp(recipe.model), recipe.data, recipe.encode, TrainConfig(), out_dir)`` trains
it (``spikewave train --method eprop``).

The traces advance a window of ``window_steps`` steps at a time
(:mod:`spikewave.train.eprop_window`): event by event where the input is sparse,
otherwise in batched products; under ``spikewave.kernels.use("reference")`` they follow
the per-step rules instead (the same numbers).

Reference: Bellec et al. (2020), Nature Communications 11:3625 (docs/references.md
section 9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from spikewave._validation import check_choice, check_int, fail
from spikewave.kernels import multistep
from spikewave.kernels.registry import config
from spikewave.neurons.specs import (
    ALIFSpec,
    ALIFState,
    LIFSpec,
    LIFState,
    RecurrentLIFState,
)
from spikewave.train import eprop_traces as rules
from spikewave.train import eprop_window as win

FEEDBACK = ("symmetric", "random")
LOSSES = ("mean", "per_step")


@dataclass(frozen=True)
class Hidden:
    """e-prop's view of one hidden layer: its synapses (``weight [n, n_in]``, ``bias``,
    recurrent ``w_rec [n, n]`` or None), its time constant (``decay``, the layer's
    :class:`~spikewave.nn._parts.Decay`) and its neurons' spec."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    w_rec: torch.Tensor | None
    decay: nn.Module
    spec: LIFSpec

    @property
    def n(self) -> int:
        return self.weight.shape[0]


@dataclass(frozen=True)
class OnlineStep:
    """What :meth:`EProp.online_step` returns: the readout potentials ``[T, B, out]``, the
    loss (the mean over steps of the cross-entropy at each step), the hidden spikes per
    sample and the number of weight updates made."""

    potentials: torch.Tensor
    loss: float
    spikes_per_sample: float
    updates: int


def network_view(model: nn.Module) -> tuple[list[Hidden], nn.Linear, float]:
    """The hidden layers, read-out layer and readout decay of a
    :class:`~spikewave.train.models.SpikingSequential` that e-prop can train; one clear
    error naming the layer otherwise."""
    from spikewave.nn import ALIF, LIF, LeakyReadout, LinearLIF, RecurrentLIF

    layers = list(getattr(model, "layers", []))
    readout = getattr(model, "readout", None)
    if not layers or not isinstance(readout, LeakyReadout):
        raise fail("model", type(model).__name__, "a SpikingSequential (hidden layers, a "
                   "read-out layer and a leaky readout)", "EProp")
    if readout.decay.learn_beta or readout.decay.beta().numel() != 1:
        raise fail("model", "a readout with a trained or per-neuron time constant",
                   "a leaky readout with one fixed time constant", "EProp")
    hidden: list[Hidden] = []
    k = 0
    while k < len(layers) - 1:
        layer, after = layers[k], layers[k + 1]
        if isinstance(layer, LinearLIF):
            hidden.append(Hidden(layer.weight, layer.bias, None, layer.decay, layer.spec))
            k += 1
        elif (isinstance(layer, nn.Linear) and isinstance(after, LIF | ALIF | RecurrentLIF)
              and k + 1 < len(layers) - 1):
            w_rec = after.w_rec if isinstance(after, RecurrentLIF) else None
            hidden.append(Hidden(layer.weight, layer.bias, w_rec, after.decay, after.spec))
            k += 2
        else:
            raise fail("model", f"a {type(layer).__name__} as layer {k}", "LinearLIF, or "
                       "SpikeLinear followed by LIF, ALIF or RecurrentLIF, for each hidden "
                       "layer (e-prop trains dense and recurrent networks)", "EProp")
    out = layers[-1]
    if not hidden or not isinstance(out, nn.Linear):
        raise fail("model", f"a network ending in {type(out).__name__}", "hidden layers "
                   "then a SpikeLinear (nn.Linear) read-out", "EProp")
    for i, h in enumerate(hidden):
        if h.spec.reset != "subtract":
            raise fail("model", f"hidden layer {i} with reset {h.spec.reset!r}",
                       "LIF neurons with the subtract reset", "EProp")
        if h.w_rec is not None and len(hidden) > 1:
            raise fail("model", "a recurrent layer among several hidden layers",
                       "one recurrent hidden layer", "EProp")
    covered = {id(p) for h in hidden for p in _params(h)} | {id(out.weight)}
    if out.bias is not None:
        covered.add(id(out.bias))
    other = [name for name, p in model.named_parameters()
             if p.requires_grad and id(p) not in covered]
    if other:
        raise fail("model", "a network with trainable parameters e-prop does not train ("
                   + ", ".join(other) + ")", "a network of the layers above", "EProp")
    return hidden, out, float(readout.decay.beta())


def _params(h: Hidden) -> list[torch.Tensor]:
    ps = [h.weight] + [p for p in (h.bias, h.w_rec) if p is not None]
    if h.decay.learn_beta:
        ps.append(h.decay.beta_logit)
    return ps


class EProp(nn.Module):
    """Train ``model`` (a :class:`~spikewave.train.models.SpikingSequential`, see the
    module docstring) with e-prop.

    ``feedback``: ``"symmetric"`` (the readout weights carry the error back: the exact
    gradient of the network with the recurrent and reset spikes detached) or ``"random"``
    (fixed random matrices, entries N(0, 1) as in the authors' code, drawn from ``seed``;
    required for more than one hidden layer). ``window_steps``: how many steps the traces
    advance at a time (memory per window: the neurons' quantities of those steps).

    The module holds the model's layers (its state dict is the model's); in evaluation mode
    or without gradients it runs the model's own forward."""

    def __init__(self, model: nn.Module, feedback: str = "symmetric", seed: int = 0,
                 window_steps: int = 64) -> None:
        super().__init__()
        hidden, _, _ = network_view(model)
        self.feedback = check_choice("feedback", feedback, FEEDBACK, "EProp")
        if feedback == "symmetric" and len(hidden) > 1:
            raise fail("feedback", feedback, "'random' for a network of several hidden "
                       "layers (each gets the error through its own random matrix)", "EProp")
        self.window_steps = check_int("window_steps", window_steps, 1, owner="EProp")
        self.layers = model.layers
        self.readout = model.readout
        self._model_forward = model.forward
        n_out = model.layers[-1].weight.shape[0]
        gen = torch.Generator().manual_seed(check_int("seed", seed, 0, owner="EProp"))
        for i, h in enumerate(hidden):
            fb = torch.randn(n_out, h.n, generator=gen, dtype=h.weight.dtype)
            self.register_buffer(f"feedback_{i}", fb, persistent=False)

    def _feedback(self, hidden: list[Hidden], out: nn.Linear) -> list[torch.Tensor]:
        if self.feedback == "symmetric":
            return [out.weight.detach()]
        return [getattr(self, f"feedback_{i}") for i in range(len(hidden))]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(readout potentials [T, B, out], hidden spikes per sample)``; with gradients
        on in training mode the potentials back-propagate e-prop's gradient for a loss of
        their time average."""
        if not (self.training and torch.is_grad_enabled()):
            return self._model_forward(x)
        return self._eprop_forward(x)

    def _eprop_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden, out, kappa = network_view(self)
        run = _Run(hidden, out, kappa, self._feedback(hidden, out), x, "mean", None,
                   self.window_steps)
        with torch.no_grad():
            potentials, spikes = run.forward()
        params = run.params()
        return _EPropGradient.apply(potentials, run, *params), spikes

    def gradients(self, x: torch.Tensor, labels: torch.Tensor, loss: str = "per_step"
                  ) -> OnlineStep:
        """Add e-prop's gradient of ``loss`` to the parameters' ``.grad`` without
        changing the weights: ``"per_step"`` (the mean over steps of the cross-entropy of
        the readout at each step) or ``"mean"`` (the cross-entropy of the time-averaged
        readout, as ``forward`` then ``backward``)."""
        check_choice("loss", loss, LOSSES, "EProp.gradients")
        if loss == "mean":
            with torch.enable_grad():
                v, spikes = self._eprop_forward(x)
                value = nn.functional.cross_entropy(v.mean(0), _labels(labels, v.shape[1], v))
                value.backward()
            return OnlineStep(v.detach(), value.item(), spikes.item(), 0)
        return self._online(x, labels, None, None)

    def online_step(self, x: torch.Tensor, labels: torch.Tensor,
                    optimizer: torch.optim.Optimizer, update_every: int | None = None
                    ) -> OnlineStep:
        """One sequence of online learning with the loss at every step: the gradient is
        accumulated as the network runs and ``optimizer`` steps every ``update_every``
        steps (None: once, at the end), the gradients cleared before and after each
        update."""
        every = None if update_every is None else check_int("update_every", update_every, 1,
                                                            owner="EProp.online_step")
        optimizer.zero_grad(set_to_none=True)
        return self._online(x, labels, optimizer, every)

    def _online(self, x, labels, optimizer, every) -> OnlineStep:
        hidden, out, kappa = network_view(self)
        _check_input(x)
        run = _Run(hidden, out, kappa, self._feedback(hidden, out), x, "per_step",
                   _labels(labels, x.shape[1], x),
                   self.window_steps if every is None else min(every, self.window_steps))
        updates = 0

        def update() -> None:
            nonlocal updates
            run.write_online_gradients()
            if optimizer is not None:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                updates += 1

        with torch.no_grad():
            potentials, spikes = run.forward(every, update)
        return OnlineStep(potentials, run.loss_sum / x.shape[0], spikes.item(), updates)


def _check_input(x: Any) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[0] == 0:
        raise fail("x", x if not isinstance(x, torch.Tensor) else
                   f"a tensor of shape {tuple(x.shape)}", "a tensor [T, B, features] with "
                   "T >= 1", "EProp")


def _labels(labels: Any, batch: int, like: torch.Tensor) -> torch.Tensor:
    y = torch.as_tensor(labels, device=like.device)
    if y.dim() != 1 or y.shape[0] != batch or y.is_floating_point():
        raise fail("labels", f"a tensor of shape {tuple(y.shape)} ({y.dtype})",
                   f"one class index per sample, [B] = [{batch}]", "EProp")
    return y.long()


class _EPropGradient(torch.autograd.Function):
    """The potentials, computed without a graph, whose backward gives e-prop's gradient
    to the parameters (for a gradient that is the same at every step: a loss of the
    time-averaged potentials)."""

    @staticmethod
    def forward(ctx, potentials, run, *params):  # type: ignore[override]
        ctx.run = run
        return potentials.clone()

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        run = ctx.run
        if run is None:
            raise RuntimeError("e-prop's traces were used by an earlier backward pass and "
                               "freed: run the forward pass again")
        ctx.run = None
        first = grad[0]
        if not torch.allclose(grad, first.expand_as(grad), rtol=1e-5,
                              atol=1e-7 * float(first.abs().max())):
            raise fail("loss", "a loss whose gradient changes from step to step",
                       "a loss of the time-averaged potentials (e.g. cross-entropy of "
                       "v.mean(0)); use EProp.online_step for a loss at every step",
                       "EProp.forward")
        return (None, None, *run.mean_gradients(first))


class _Layer:
    """One hidden layer during one sequence: the neurons' state and the traces."""

    def __init__(self, h: Hidden, batch: int, mode: str, reference: bool) -> None:
        self.h, self.mode, self.reference = h, mode, reference
        like = h.weight
        self.v = like.new_zeros(batch, h.n)
        self.a = like.new_zeros(batch, h.n)
        self.s = like.new_zeros(batch, h.n)
        blocks = {"weight": h.weight.shape[1]}
        if h.w_rec is not None:
            blocks["w_rec"] = h.n
        neuron_blocks = (["bias"] if h.bias is not None else []) + (
            ["beta"] if h.decay.learn_beta else [])
        d = 2 if isinstance(h.spec, ALIFSpec) else 1
        self.traces: dict[str, Any] = {}
        for name, n_pre in blocks.items():
            self.traces[name] = _Trace(batch, h.n, n_pre, False, d, mode, like, reference)
        for name in neuron_blocks:
            self.traces[name] = _Trace(batch, h.n, 1, True, d, mode, like, reference)

    def run(self, inp: torch.Tensor) -> dict[str, torch.Tensor]:
        """The layer over a window of input ``[W, B, n_in]``: spikes, and what the traces
        need (pseudo-derivatives and presynaptic inputs per step)."""
        h = self.h
        beta = h.decay.beta()
        cur = multistep.linear(inp, h.weight, h.bias)
        spec = h.spec
        if h.w_rec is not None:
            state = None if not bool(self.v.any() or self.s.any()) else \
                RecurrentLIFState(self.v, self.s)
            spikes, _ = multistep.recurrent_lif(cur, h.w_rec, beta, spec, state)
            rec_pre = torch.cat([self.s[None], spikes[:-1]])
            cur = cur + rec_pre @ h.w_rec.T
        elif isinstance(spec, ALIFSpec):
            spikes, _ = multistep.alif(cur, beta, spec, ALIFState(self.v, self.a))
        else:
            spikes, _ = multistep.lif(cur, beta, spec, LIFState(self.v))
        if isinstance(spec, ALIFSpec):
            a = win.leaky_window(spikes, spec.rho, self.a)
            theta = spec.threshold + spec.adaptation * torch.cat([self.a[None], a[:-1]])
            self.a = a[-1]
        else:
            theta = torch.full_like(cur[:1], spec.threshold)
        v_post = win.leaky_window(cur - spikes * theta, beta, self.v)
        out = {"spikes": spikes, "psi": rules.pseudo_derivative(v_post + spikes * theta,
                                                                theta, spec),
               "weight": inp, "beta": torch.cat([self.v[None], v_post[:-1]])}
        if h.w_rec is not None:
            out["w_rec"] = rec_pre
        self.v, self.s = v_post[-1], spikes[-1]
        return out

    def advance(self, data: dict[str, torch.Tensor], weight_t: torch.Tensor | None,
                kappa: float, signal: torch.Tensor | None, last: bool) -> None:
        """Advance every trace of the layer over the window (``weight_t``: the steps'
        weights in the time average, "mean"; ``signal``: the learning signal, "per_step")."""
        beta = self.h.decay.beta()
        pres = {**data, "bias": data["psi"].new_ones(()).expand_as(data["psi"])}
        if self.reference:
            for name, trace in self.traces.items():
                trace.advance_reference(pres[name], data, beta, self.h.spec, weight_t, kappa,
                                        signal)
            return
        psi = data["psi"]
        if win.compiles(psi):
            phi, k = win.compiled_window_products(psi, data["spikes"], beta, self.h.spec,
                                                  weight_t, kappa, signal)
        else:
            parts = win.neuron_transitions(psi, data["spikes"], beta, self.h.spec)
            if self.mode == "mean":
                a, c = win.mean_transitions(parts, weight_t)
            else:
                a, c = win.per_step_transitions(parts, kappa, signal)
            phi, k = win.window_products(a, c)
        for name, trace in self.traces.items():
            trace.advance_window(pres[name], phi, k, last)


class _Trace:
    """The traces of one parameter of a hidden layer: a weight matrix ``[n, n_pre]`` or a
    per-neuron parameter (``neuron``: bias, decay) over a batch."""

    def __init__(self, batch: int, n: int, n_pre: int, neuron: bool, d: int, mode: str,
                 like: torch.Tensor, reference: bool) -> None:
        self.neuron, self.mode = neuron, mode
        extra = 1 if mode == "mean" else 2
        if reference:
            shape = (batch, n, n_pre)
            self.eps = tuple(like.new_zeros(shape) for _ in range(d))
            self.acc = like.new_zeros(shape)      # G ("mean") or ebar ("per_step")
            self.grad = like.new_zeros(n, n_pre)  # "per_step": sum over the batch so far
        else:
            self.shape = (batch, n, d + extra) if neuron else (batch, n_pre, d + extra, n)
            self.like = like
            self.x: torch.Tensor | None = None  # made by the first window
        self.reference = reference

    def advance_reference(self, pre, data, beta, spec, weight_t, kappa, signal) -> None:
        psi, spikes = data["psi"][..., None], data["spikes"][..., None]
        beta = beta[:, None] if torch.is_tensor(beta) and beta.dim() else beta
        pre = pre[..., None] if self.neuron else pre[:, :, None, :]
        for t in range(psi.shape[0]):
            if isinstance(spec, ALIFSpec):
                e, eps = rules.alif_eligibility_step(pre[t], psi[t], spikes[t],
                                                     rules.ALIFTrace(*self.eps), beta, spec)
            else:
                e, eps = rules.lif_eligibility_step(pre[t], psi[t], rules.LIFTrace(*self.eps),
                                                    beta)
            self.eps = tuple(eps)
            if self.mode == "mean":
                self.acc += weight_t[t] * e
            else:
                self.acc = rules.filtered_trace_step(e, self.acc, kappa)
                self.grad += (signal[t][..., None] * self.acc).sum(0)

    def advance_window(self, pre, phi, k, last: bool) -> None:
        zero = self.x is None
        if zero:
            # a sequence of one window needs only the accumulator at its end
            shape = self.shape if not last else (*self.shape[:-1], 1) if self.neuron else \
                (*self.shape[:2], 1, self.shape[3])
            self.x = self.like.new_zeros(shape)
        if self.neuron:
            self.x = win.advance_neurons(self.x, phi, k, pre, zero)
        else:
            win.advance_synapses(self.x, phi, k, pre, _max_density(), zero)

    def mean_gradient(self, signal: torch.Tensor) -> torch.Tensor:
        """``sum_b L_bj G_bji``: ``[n, n_pre]``, or ``[n]`` for a per-neuron parameter."""
        if self.reference:
            g = torch.einsum("bj,bji->ji", signal, self.acc)
        elif self.neuron:
            g = (signal * self.x[..., -1]).sum(0)[:, None]
        else:
            g = win.contract(self.x, signal)
        return g[:, 0] if self.neuron else g

    def take_per_step(self) -> torch.Tensor:
        """The gradient accumulated since the last call (summed over the batch); resets."""
        if self.reference:
            g, self.grad = self.grad, torch.zeros_like(self.grad)
        else:
            if self.neuron:
                g = self.x[..., -1].sum(0)[:, None]
                self.x[..., -1] = 0.0
            else:
                g = win.contract(self.x, None)
                self.x[:, :, -1] = 0.0
        return g[:, 0] if self.neuron else g


def _max_density() -> float:
    configured = config().max_density
    return win.EVENT_DENSITY if configured is None else configured


class _Run:
    """One sequence through the network with e-prop's traces."""

    def __init__(self, hidden: list[Hidden], out: nn.Linear, kappa: float,
                 feedback: list[torch.Tensor], x: torch.Tensor, mode: str,
                 labels: torch.Tensor | None, window: int) -> None:
        _check_input(x)
        self.hidden, self.out, self.kappa, self.feedback = hidden, out, kappa, feedback
        self.x, self.mode, self.labels, self.window = x, mode, labels, window
        self.steps, batch = x.shape[0], x.shape[1]
        reference = config().path == "reference"
        self.layers = [_Layer(h, batch, mode, reference) for h in hidden]
        last = hidden[-1].n
        self.z_weighted = x.new_zeros(batch, last, dtype=out.weight.dtype)  # "mean"
        self.weight_sum = 0.0
        self.z_bar = self.z_weighted.clone()                                # "per_step"
        self.one_bar = 0.0
        self.y = x.new_zeros(batch, out.weight.shape[0], dtype=out.weight.dtype)
        self.loss_sum = 0.0
        self.out_grads = [torch.zeros_like(out.weight)] + (
            [torch.zeros_like(out.bias)] if out.bias is not None else [])

    def params(self) -> list[torch.Tensor]:
        ps = [p for h in self.hidden for p in _params(h)] + [self.out.weight]
        return ps + ([self.out.bias] if self.out.bias is not None else [])

    def forward(self, every: int | None = None, on_update=None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the sequence window by window; returns the readout potentials and the
        hidden spikes per sample."""
        kappa, steps = self.kappa, self.steps
        potentials, spikes = [], self.x.new_zeros((), dtype=self.out.weight.dtype)
        t0 = 0
        while t0 < steps:
            t1 = min(steps, t0 + self.window)
            if every is not None:
                t1 = min(t1, (t0 // every + 1) * every)
            inp, data = self.x[t0:t1], []
            for layer in self.layers:
                d = layer.run(inp)
                data.append(d)
                inp = d["spikes"]
                spikes = spikes + inp.sum(dim=(0, 2)).mean()
            u = multistep.linear(inp, self.out.weight, self.out.bias)
            y = win.leaky_window(u, kappa, self.y)
            self.y = y[-1]
            potentials.append(y)
            t = torch.arange(t0, t1, dtype=y.dtype, device=y.device)
            if self.mode == "mean":
                # weight of step t's readout input in the time average: sum_{t' >= t}
                # kappa^(t' - t) (the 1/T is in the loss's gradient)
                w = (1 - kappa ** (steps - t)) / (1 - kappa)
                self.z_weighted += torch.einsum("t,tbj->bj", w, inp)
                self.weight_sum += float(w.sum())
                for layer, d in zip(self.layers, data, strict=True):
                    layer.advance(d, w, kappa, None, t1 == steps)
            else:
                error = self._per_step_error(y)
                z_bar = win.leaky_window(inp, kappa, self.z_bar)
                self.z_bar = z_bar[-1]
                one_bar = self.one_bar * kappa ** (t - t0 + 1) + (
                    1 - kappa ** (t - t0 + 1)) / (1 - kappa)
                self.one_bar = float(one_bar[-1])
                self.out_grads[0] += torch.einsum("tbk,tbj->kj", error, z_bar)
                if self.out.bias is not None:
                    self.out_grads[1] += torch.einsum("tbk,t->k", error, one_bar)
                for layer, d, fb in zip(self.layers, data, self.feedback, strict=True):
                    layer.advance(d, None, kappa, rules.learning_signal(error, fb),
                                  t1 == steps)
            t0 = t1
            if every is not None and (t1 % every == 0 or t1 == steps):
                on_update()
        if every is None and self.mode == "per_step" and on_update is not None:
            on_update()
        return torch.cat(potentials), spikes

    def _per_step_error(self, y: torch.Tensor) -> torch.Tensor:
        """``dE/dy[t]`` of ``E = mean_t CE(y[t])`` (mean over the batch), and the loss."""
        logp = torch.log_softmax(y, -1)
        onehot = nn.functional.one_hot(self.labels, y.shape[-1]).to(y.dtype)
        self.loss_sum -= float((logp * onehot).sum()) / y.shape[1]
        return (logp.exp() - onehot) / (self.steps * y.shape[1])

    def write_online_gradients(self) -> None:
        """Add the gradient accumulated since the last update to the parameters' ``.grad``
        ("per_step")."""
        for layer in self.layers:
            _write(layer, {name: tr.take_per_step() for name, tr in layer.traces.items()})
        for p, g in zip([self.out.weight, self.out.bias], self.out_grads, strict=False):
            _add_grad(p, g)
        self.out_grads = [torch.zeros_like(g) for g in self.out_grads]

    def mean_gradients(self, error: torch.Tensor) -> list[torch.Tensor]:
        """The parameters' gradients (in the order of :meth:`params`) for ``dE/dy[t] =
        error`` at every step ("mean")."""
        grads: list[torch.Tensor] = []
        for layer, fb in zip(self.layers, self.feedback, strict=True):
            signal = rules.learning_signal(error, fb)
            found = {name: tr.mean_gradient(signal) for name, tr in layer.traces.items()}
            grads += _param_grads(layer.h, found)
        grads.append(error.T @ self.z_weighted)
        if self.out.bias is not None:
            grads.append(error.sum(0) * self.weight_sum)
        return grads


def _param_grads(h: Hidden, found: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """The gradients of :func:`_params` (the decay's by the chain rule through
    ``beta = sigmoid(logit)``)."""
    grads = [found["weight"]] + [found[n] for n, p in (("bias", h.bias), ("w_rec", h.w_rec))
                                 if p is not None]
    if h.decay.learn_beta:
        beta = h.decay.beta().detach()
        g = found["beta"] * beta * (1 - beta)
        grads.append(g.sum() if h.decay.beta_logit.dim() == 0 else g)
    return grads


def _write(layer: _Layer, found: dict[str, torch.Tensor]) -> None:
    for p, g in zip(_params(layer.h), _param_grads(layer.h, found), strict=True):
        _add_grad(p, g)


def _add_grad(p: torch.Tensor | None, g: torch.Tensor) -> None:
    if p is None:
        return
    p.grad = g.to(p.dtype).clone() if p.grad is None else p.grad + g


__all__ = ["EProp", "FEEDBACK", "Hidden", "LOSSES", "OnlineStep", "network_view"]
