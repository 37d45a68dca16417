"""The fused recurrent LIF kernel against the reference time loop: same spikes, same
gradients (input, recurrent weights, per-neuron decay)."""

import math
from dataclasses import dataclass

import pytest
import torch

from spikewave import kernels
from spikewave.kernels import recurrent_fused
from spikewave.kernels.multistep import recurrent_lif, recurrent_lif_choice
from spikewave.kernels.recurrent_fused import recurrent_lif_forward_op, recurrent_lif_fused
from spikewave.kernels.reference import recurrent_lif_reference
from spikewave.neurons.specs import LIFSpec, RecurrentLIFState
from spikewave.nn import RecurrentLIF
from spikewave.surrogate import ATan, Boxcar, FastSigmoid, Sigmoid, Surrogate, Triangle

SURROGATES = [FastSigmoid(2.0), ATan(3.7), Sigmoid(), Triangle(1.7), Boxcar(2.3)]  # scales not 1


def reference(x, w, beta, spec):
    zeros = torch.zeros_like(x[0])
    s, state = recurrent_lif_reference(x, w, beta, spec, RecurrentLIFState(zeros, zeros))
    return s, state.v


def fused(x, w, beta, spec):
    return recurrent_lif_fused(x, w, beta, spec)


def _case(dtype, seed=0, t=30, b=3, n=7):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.randn(t, b, n, generator=gen, dtype=dtype) * 0.6 + 0.4).requires_grad_(True)
    w = (torch.randn(n, n, generator=gen, dtype=dtype) * 0.5).requires_grad_(True)
    logit = torch.randn(n, generator=gen, dtype=dtype, requires_grad=True)
    g = torch.randn(t, b, n, generator=gen, dtype=dtype)
    return x, w, logit, g


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_parity_with_the_reference(reset, detach, surrogate, dtype, tol):
    x, w, logit, g = _case(dtype)
    spec = LIFSpec(0.9, reset, surrogate, detach)
    out = []
    for fn in (reference, fused):
        s, v = fn(x, w, torch.sigmoid(logit), spec)
        grads = torch.autograd.grad((s * g).sum() + (v * v).sum(), (x, w, logit))
        out.append((s, v, *grads))
    (s1, *rest1), (s2, *rest2) = out
    assert torch.equal(s1, s2) and 20 < s1.sum() < s1.numel() - 20
    assert s2.dtype == dtype
    for a, b in zip(rest1, rest2, strict=True):
        torch.testing.assert_close(b, a, rtol=tol, atol=tol)


@pytest.mark.parametrize("limit", [0.0, 1.0])
def test_weight_gradient_by_spike_sums_and_by_gemm_agree(monkeypatch, limit):
    """Both ways of forming g_w_rec (sums over the spikes, one dense GEMM) give the
    reference's gradient; a gradient check by finite differences on the reference is in
    test_more_layers."""
    monkeypatch.setattr(recurrent_fused, "EVENT_DENSITY_LIMIT", limit)
    x, w, logit, g = _case(torch.float64, seed=3, t=25, b=4, n=9)
    spec = LIFSpec(surrogate=ATan())
    grads = []
    for fn in (reference, fused):
        s, _ = fn(x, w, 0.85, spec)
        grads.append(torch.autograd.grad((s * g).sum(), w)[0])
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-10, atol=1e-10)


def test_layer_uses_it_and_matches_the_reference(monkeypatch):
    torch.manual_seed(2)
    layer = RecurrentLIF(6, rec_std=1.5, tau_steps=8.0, learn_beta=True, seed=1).double()
    x = (torch.rand(50, 4, 6, dtype=torch.float64) * 0.8).requires_grad_(True)
    calls = []
    real = recurrent_fused.recurrent_lif_fused
    monkeypatch.setattr(recurrent_fused, "recurrent_lif_fused",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    assert layer.kernel_choice(x).path == "fused"
    fused_s = layer(x)
    g_fused = torch.autograd.grad(fused_s.sum(), (x, layer.w_rec, layer.decay.beta_logit))
    assert calls, "the layer did not take the fused kernel"
    with kernels.use("reference"):
        assert layer.kernel_choice(x).path == "reference"
        ref = layer(x)
    assert len(calls) == 1
    g_ref = torch.autograd.grad(ref.sum(), (x, layer.w_rec, layer.decay.beta_logit))
    assert torch.equal(fused_s, ref) and ref.sum() > 10
    for a, b in zip(g_fused, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_the_state_after_the_last_step_lets_a_sequence_run_in_pieces():
    """The fused loop starts from rest; the state it returns (potential and last spikes)
    carries the second half on the reference to what one call over the whole gives."""
    x, w, _, _ = _case(torch.float64, seed=5, t=40)
    spec = LIFSpec(surrogate=ATan())
    assert recurrent_lif_choice(x[:20], w, 0.9, spec, None).path == "fused"
    whole, last = recurrent_lif(x, w, 0.9, spec)
    first, state = recurrent_lif(x[:20], w, 0.9, spec)
    assert torch.equal(state.s, first[-1])
    given = recurrent_lif_choice(x[20:], w, 0.9, spec, state)
    assert given.path == "reference" and "state" in given.reason
    second, end = recurrent_lif(x[20:], w, 0.9, spec, state)
    assert torch.equal(torch.cat([first, second]), whole) and whole.sum() > 20
    torch.testing.assert_close(end.v, last.v, rtol=1e-12, atol=1e-12)
    assert torch.equal(end.s, last.s)
    g1 = torch.autograd.grad(whole.sum() + last.v.sum(), (x, w))
    g2 = torch.autograd.grad(torch.cat([first, second]).sum() + end.v.sum(), (x, w))
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-10)


@dataclass(frozen=True)
class Gaussian(Surrogate):
    """A surrogate the kernels do not know: ``P'(x) = s exp(-(s x)^2) / sqrt(pi)``."""

    scale: float = 2.0

    def primitive(self, x):
        return 0.5 * (1 + torch.erf(self.scale * x))

    def derivative(self, x):
        return self.scale * torch.exp(-(self.scale * x) ** 2) / math.sqrt(math.pi)


def test_a_surrogate_of_its_own_takes_the_reference():
    """The fused recurrent loop knows the built-in surrogates only."""
    x, w, _, _ = _case(torch.float64, t=5)
    choice = recurrent_lif_choice(x, w, 0.9, LIFSpec(surrogate=Gaussian()), None)
    assert choice.path == "reference" and "surrogate" in choice.reason


def test_registered_op_passes_opcheck():
    x = torch.randn(9, 2, 5, dtype=torch.float64) * 0.6 + 0.6
    w = torch.randn(5, 5, dtype=torch.float64) * 0.5
    beta = torch.full((2, 5), 0.8, dtype=torch.float64)
    torch.library.opcheck(recurrent_lif_forward_op, (x, w, beta, 1.0, 0, False, 1, 2.0))


def test_compiles_without_graph_breaks():
    x, w, _, _ = _case(torch.float32, t=10)
    spec = LIFSpec(surrogate=ATan())

    def f(x, w):
        return recurrent_lif_fused(x, w, 0.9, spec)[0].sum()

    compiled = torch.compile(f, fullgraph=True, backend="eager")
    assert torch.equal(compiled(x, w), f(x, w))
