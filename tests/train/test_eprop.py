"""e-prop: its gradient is BPTT's with the recurrent and reset spikes detached (autograd in
float64), on every path (per-step rules, windows, event-driven, dense, constant input); the
online updates; the errors; the accuracy runs (slow)."""

from __future__ import annotations

import copy
import doctest
import json
import os
from pathlib import Path

import pytest
import torch
from torch import nn

import spikewave.kernels as kernels
from spikewave import ParameterError
from spikewave.neurons.specs import ALIFSpec
from spikewave.neurons.steps import lif_update
from spikewave.nn import ALIF, LIF, LinearLIF, RecurrentLIF, SpikeLinear
from spikewave.train import eprop as eprop_module
from spikewave.train import eprop_window as win
from spikewave.train.eprop import EProp
from spikewave.train.models import SpikingSequential, conv_snn, dense_snn

MODELS = {
    "linear_lif": lambda: SpikingSequential([LinearLIF(6, 5, learn_beta=True),
                                             SpikeLinear(5, 3)]),
    "alif": lambda: SpikingSequential([SpikeLinear(6, 5),
                                       ALIF(adaptation=0.5, tau_adapt_steps=5.0,
                                            learn_beta=True, n_neurons=5),
                                       SpikeLinear(5, 3)]),
    "recurrent": lambda: SpikingSequential([SpikeLinear(6, 5),
                                            RecurrentLIF(5, seed=0, learn_beta=True),
                                            SpikeLinear(5, 3)]),
}


def detached_bptt(model: SpikingSequential, x: torch.Tensor) -> torch.Tensor:
    """The readout potentials of ``model`` stepped with the pure steps, the recurrent
    spikes and the reset's spike detached (what e-prop leaves out): autograd through this
    is the gradient e-prop must equal."""
    layers, seq, k = list(model.layers), x, 0
    while k < len(layers) - 1:
        if isinstance(layers[k], LinearLIF):
            syn = neuron = layers[k]
            k += 1
        else:
            syn, neuron = layers[k], layers[k + 1]
            k += 2
        spec = neuron.spec.replace(detach_reset=True)
        w_rec, beta = getattr(neuron, "w_rec", None), neuron.decay.beta()
        v = seq.new_zeros(seq.shape[1], syn.weight.shape[0])
        a, s, out = v, v, []
        for t in range(seq.shape[0]):
            current = nn.functional.linear(seq[t], syn.weight, syn.bias)
            if w_rec is not None:
                current = current + s.detach() @ w_rec.T
            adaptive = isinstance(spec, ALIFSpec)
            s, v = lif_update(v, current, beta,
                              spec.threshold + (spec.adaptation * a if adaptive else 0), spec)
            if adaptive:
                a = spec.rho * a + s
            out.append(s)
        seq = torch.stack(out)
    return model.readout(layers[-1](seq))


def per_step_ce(v: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.stack([nn.functional.cross_entropy(v[t], y) for t in range(len(v))]).mean()


def setup(name: str, constant: bool = False, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    model = MODELS[name]().double()
    with torch.no_grad():
        for p in model.parameters():  # away from the initialisation: more spikes
            p += 0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype)
    if constant:
        x = torch.rand(3, 6, generator=gen, dtype=torch.float64).expand(11, 3, 6)
    else:
        x = (torch.rand(11, 3, 6, generator=gen, dtype=torch.float64) < 0.4).double() * 1.7
    return model, x, torch.tensor([0, 2, 1])


def assert_same_grads(ref: nn.Module, model: nn.Module, rtol: float = 1e-10) -> None:
    for (name, p_ref), p in zip(ref.named_parameters(), model.parameters(), strict=True):
        scale = float(p_ref.grad.abs().max())
        assert scale > 0, name  # a gradient that is all zeros would test nothing
        assert float((p.grad - p_ref.grad).abs().max()) <= rtol * scale, name


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("loss", ["mean", "per_step"])
@pytest.mark.parametrize(("path", "max_density", "window"), [
    ("reference", None, 4),       # the per-step rules of eprop_traces
    ("auto", 0.0, 4),             # windows, batched dense products
    ("auto", 1.0, 4),             # windows, event by event
    ("auto", None, 64),           # one window: only the accumulators kept
])
def test_gradient_equals_detached_bptt(name, loss, path, max_density, window):
    model, x, y = setup(name)
    ref = copy.deepcopy(model)
    v = detached_bptt(ref, x)
    (nn.functional.cross_entropy(v.mean(0), y) if loss == "mean" else per_step_ce(v, y)
     ).backward()
    with kernels.use(path, max_density=max_density):
        step = EProp(model, window_steps=window).gradients(x, y, loss=loss)
    assert_same_grads(ref, model)
    assert torch.allclose(step.potentials, v.detach(), rtol=1e-12, atol=1e-12)


def test_gradient_with_a_constant_input_and_the_library_layer():
    # the dense network as the library runs it (LinearLIF with a detached reset): autograd
    # through the layer itself, with the input a stride-0 view over time
    model, x, y = setup("linear_lif", constant=True)
    ref = copy.deepcopy(model)
    ref.layers[0].spec = ref.layers[0].spec.replace(detach_reset=True)
    v, _ = ref(x)
    nn.functional.cross_entropy(v.mean(0), y).backward()
    net = EProp(model, window_steps=4)
    v_e, _ = net(x)
    nn.functional.cross_entropy(v_e.mean(0), y).backward()
    assert_same_grads(ref, model)


@pytest.mark.parametrize("name", ["linear_lif", "recurrent"])
def test_the_exactness_test_can_fail(name):
    # against full BPTT (reset and recurrent paths kept) e-prop's gradient differs
    model, x, y = setup(name)
    ref = copy.deepcopy(model)
    v, _ = ref(x)
    nn.functional.cross_entropy(v.mean(0), y).backward()
    EProp(model).gradients(x, y, loss="mean")
    hidden = ref.layers[0].weight.grad
    diff = float((model.layers[0].weight.grad - hidden).abs().max())
    assert diff > 1e-3 * float(hidden.abs().max())


@pytest.mark.parametrize("spec_kind", ["lif", "alif"])
@pytest.mark.parametrize("mode", ["mean", "per_step"])
def test_window_kernels_match_the_per_step_recurrence(spec_kind, mode):
    gen = torch.Generator().manual_seed(3)
    steps, batch, n, n_pre = 7, 2, 4, 5
    spec = ALIFSpec(adaptation=0.4, tau_adapt_steps=6.0) if spec_kind == "alif" else \
        LIF().spec
    psi = torch.rand(steps, batch, n, generator=gen, dtype=torch.float64)
    spikes = (torch.rand(steps, batch, n, generator=gen) < 0.3).double()
    beta = torch.rand(n, generator=gen, dtype=torch.float64) * 0.5 + 0.4
    weight_t = torch.rand(steps, generator=gen, dtype=torch.float64) if mode == "mean" \
        else None
    signal = torch.randn(steps, batch, n, generator=gen, dtype=torch.float64) \
        if mode == "per_step" else None
    parts = win.neuron_transitions(psi, spikes, beta, spec)
    a, c = (win.mean_transitions(parts, weight_t) if mode == "mean"
            else win.per_step_transitions(parts, 0.8, signal))
    phi, k = win.window_products(a, c)
    phi_c, k_c = win.compiled_window_products(psi, spikes, beta, spec, weight_t, 0.8, signal)
    assert torch.allclose(phi, phi_c, atol=1e-14) and torch.allclose(k, k_c, atol=1e-14)
    # the closed window against stepping the recurrence one step at a time (synapse
    # states [B, n_pre, D, n])
    x0 = torch.randn(batch, n_pre, a.shape[-1], n, generator=gen, dtype=torch.float64)
    pre = (torch.rand(steps, batch, n_pre, generator=gen) < 0.3).double() * 2.0
    stepped = x0.clone()
    for t in range(steps):
        stepped = torch.einsum("bjde,biej->bidj", a[t], stepped) + \
            pre[t][:, :, None, None] * c[t].transpose(1, 2)[:, None]
    for compiled, density in [(False, 1.0), (True, 0.0), (True, 1.0)]:
        x = x0.clone()
        path = win.advance_synapses(x, phi, k, pre, density, compiled=compiled)
        assert path == ("event" if compiled and density else "dense")
        assert torch.allclose(x, stepped, atol=1e-13), (compiled, density)
    neuron_pre = pre[..., :n]
    neuron_x0 = x0[:, 0].transpose(1, 2)  # [B, n, D]
    assert torch.allclose(win.advance_neurons(neuron_x0, phi, k, neuron_pre),
                          _neuron_steps(a, c, neuron_x0, neuron_pre), atol=1e-13)
    signal_b = torch.randn(batch, n, generator=gen, dtype=torch.float64)
    last = stepped[:, :, -1]
    for compiled in (False, True):
        for sig, expected in [(signal_b, (last * signal_b[:, None]).sum(0).T),
                              (None, last.sum(0).T)]:
            assert torch.allclose(win.contract(stepped, sig, compiled=compiled), expected,
                                  atol=1e-13)


def _neuron_steps(a, c, x, pre):
    for t in range(a.shape[0]):
        x = (a[t] @ x[..., None])[..., 0] + pre[t][..., None] * c[t]
    return x


def test_constant_and_partial_states_match_the_full_state():
    gen = torch.Generator().manual_seed(4)
    steps, batch, n, n_pre, dim = 5, 2, 3, 4, 3
    a = torch.rand(steps, batch, n, dim, dim, generator=gen, dtype=torch.float64)
    c = torch.rand(steps, batch, n, dim, generator=gen, dtype=torch.float64)
    phi, k = win.window_products(a, c)
    pre = torch.rand(batch, n_pre, generator=gen, dtype=torch.float64).expand(steps, -1, -1)
    full = torch.zeros(batch, n_pre, dim, n, dtype=torch.float64)
    assert win.advance_synapses(full, phi, k, pre.contiguous(), 0.0) == "dense"
    for compiled in (False, True):
        x = torch.zeros(batch, n_pre, dim, n, dtype=torch.float64)
        assert win.advance_synapses(x, phi, k, pre, zero=True, compiled=compiled) == \
            "constant"
        assert torch.allclose(x, full, atol=1e-14)
        last = torch.zeros(batch, n_pre, 1, n, dtype=torch.float64)
        win.advance_synapses(last, phi, k, pre.contiguous(), 1.0, zero=True,
                             compiled=compiled)
        assert torch.allclose(last[:, :, 0], full[:, :, -1], atol=1e-14)


def test_forward_is_the_models_forward_and_the_state_dict_is_the_models():
    model, x, _ = setup("recurrent")
    net = EProp(model)
    assert list(net.state_dict()) == list(model.state_dict())
    v_model, s_model = model(x)
    v, s = net(x)
    assert torch.allclose(v, v_model, atol=1e-12) and float(s) == pytest.approx(float(s_model))
    net.eval()
    assert torch.equal(net(x)[0], v_model)


def test_random_feedback_changes_only_the_hidden_gradients():
    model, x, y = setup("linear_lif")
    sym, rand_a, rand_b = copy.deepcopy(model), copy.deepcopy(model), copy.deepcopy(model)
    EProp(sym).gradients(x, y, loss="mean")
    EProp(rand_a, feedback="random", seed=5).gradients(x, y, loss="mean")
    EProp(rand_b, feedback="random", seed=5).gradients(x, y, loss="mean")
    readout = ("layers.1.weight", "layers.1.bias")
    for (name, p_s), p_a, p_b in zip(sym.named_parameters(), rand_a.parameters(),
                                     rand_b.parameters(), strict=True):
        assert torch.equal(p_a.grad, p_b.grad), name  # seeded
        same = torch.allclose(p_s.grad, p_a.grad, atol=1e-14)
        assert same == (name in readout), name


def test_deeper_dense_network_with_random_feedback_learns():
    gen = torch.Generator().manual_seed(0)
    model = dense_snn(8, (16, 16), 2)
    net = EProp(model, feedback="random", seed=0)
    x = torch.rand(64, 8, generator=gen)
    y = (x[:, :4].sum(1) > x[:, 4:].sum(1)).long()
    seq = (2 * x).expand(10, -1, -1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        v, _ = net(seq)
        loss = nn.functional.cross_entropy(v.mean(0), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.grad is not None for p in model.layers[0].parameters())
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5


def test_online_updates_inside_the_sequence():
    model, x, y = setup("alif")
    before = copy.deepcopy(model)
    net = EProp(model, window_steps=64)
    step = net.online_step(x, y, torch.optim.SGD(net.parameters(), lr=0.0), update_every=3)
    assert step.updates == 4  # steps 3, 6, 9 and the last (11)
    assert torch.allclose(step.potentials, before(x)[0], atol=1e-12)  # lr 0: no change
    assert step.loss == pytest.approx(per_step_ce(step.potentials, y).item(), rel=1e-12)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    moved = net.online_step(x, y, opt, update_every=3)
    # the later steps ran with weights already changed by the earlier updates
    assert not torch.allclose(moved.potentials[-1], before(x)[0][-1])
    assert all(p.grad is None for p in net.parameters())  # cleared after each update


def test_one_update_at_the_end_is_an_sgd_step_with_the_gradient():
    model, x, y = setup("recurrent")
    grads_model = copy.deepcopy(model)
    EProp(grads_model).gradients(x, y)
    net = EProp(model)
    net.online_step(x, y, torch.optim.SGD(net.parameters(), lr=0.1))
    for p, p_g in zip(model.parameters(), grads_model.parameters(), strict=True):
        assert torch.allclose(p, p_g - 0.1 * p_g.grad, atol=1e-12)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: conv_snn(1, 8, 8, 10), "'model' parameter of EProp"),
    (lambda: SpikingSequential([LinearLIF(4, 3, reset="zero"), SpikeLinear(3, 2)]),
     "subtract reset"),
    (lambda: dense_snn(4, (3, 3), 2), "'feedback' parameter of EProp"),
])
def test_unsupported_networks_are_one_clear_error(make, message):
    with pytest.raises(ParameterError, match=message):
        EProp(make())


def test_a_loss_that_varies_over_time_is_refused():
    model, x, y = setup("linear_lif")
    v, _ = EProp(model)(x)
    with pytest.raises(ParameterError, match="online_step"):
        nn.functional.cross_entropy(v.amax(0), y).backward()
    with pytest.raises(ParameterError, match="'labels' parameter"):
        EProp(model).gradients(x, torch.tensor([0, 1]))
    with pytest.raises(ParameterError, match="'x' parameter"):
        EProp(model).gradients(x[0], y)


def test_module_docstring_example_runs():
    failures, _ = doctest.testmod(eprop_module, optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_cli_trains_with_eprop(tmp_path, capsys):
    from spikewave.cli import main

    rc = main(["train", "--dataset", "digits", "--method", "eprop", "--epochs", "1",
               "--time-steps", "4", "--out", str(tmp_path), "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["method"] == "eprop" and out["test_accuracy"] > 0.5
    assert main(["train", "--method", "eprop", "--model", "conv", "--out",
                 str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--method eprop" in err[0]


@pytest.mark.slow
def test_digits_reach_95_percent_with_eprop(tmp_path):
    from spikewave.train import TrainConfig, build, fit

    recipe = build("digits", "dense", 16, seed=0)
    res = fit(EProp(recipe.model), recipe.data, recipe.encode,
              TrainConfig(epochs=30, batch_size=64, lr=2e-3, seed=0), tmp_path,
              progress=False)
    assert res.test_accuracy >= 0.95


def _nmnist_dir() -> Path | None:
    for base in (os.environ.get("SPIKEWAVE_DATA"),
                 Path(__file__).resolve().parents[3] / "shared" / "data"):
        if base and (Path(base) / "nmnist" / "nmnist_small_slayer.tar.gz").exists():
            return Path(base)
    return None


@pytest.mark.slow
def test_nmnist_eprop_within_3_points_of_bptt(tmp_path):
    from spikewave.train import TrainConfig, build, fit

    data_dir = _nmnist_dir()
    if data_dir is None:
        pytest.skip("the N-MNIST recordings (nmnist/nmnist_small_slayer.tar.gz) are not in "
                    "$SPIKEWAVE_DATA")
    acc = {"bptt": [], "eprop": []}
    for seed in range(3):
        for method in acc:
            recipe = build("nmnist", "dense", 30, seed, data_dir)
            model = recipe.model if method == "bptt" else EProp(recipe.model, seed=seed)
            res = fit(model, recipe.data, recipe.encode,
                      TrainConfig(epochs=30, batch_size=64, lr=2e-3, seed=seed),
                      tmp_path / f"{method}{seed}", progress=False)
            acc[method].append(res.test_accuracy)
    assert sum(acc["eprop"]) / 3 >= sum(acc["bptt"]) / 3 - 0.03, acc


@pytest.mark.parametrize("per_neuron", [False, True])
def test_leaky_window_is_the_leaky_integrator(per_neuron):
    from spikewave.kernels.multistep import leaky
    from spikewave.neurons.specs import LeakyState

    gen = torch.Generator().manual_seed(2)
    x = torch.randn(9, 3, 4, generator=gen, dtype=torch.float64)
    v0 = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    beta = torch.rand(4, generator=gen, dtype=torch.float64) if per_neuron else 0.8
    expected, _ = leaky(x, beta, LeakyState(v0))
    assert torch.allclose(win.leaky_window(x, beta, v0), expected, atol=1e-13)
