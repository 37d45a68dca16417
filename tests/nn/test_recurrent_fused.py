"""The fused recurrent LIF kernel against the reference time loop: same spikes, same
gradients (input, recurrent weights, per-neuron decay)."""

import pytest
import torch
from spikewave.nn.surrogate import ATan, Boxcar, FastSigmoid, Sigmoid, Triangle

from spikewave.kernels import recurrent_fused
from spikewave.kernels.recurrent_fused import (
    recurrent_lif_forward_op,
    recurrent_lif_multistep_fused,
)
from spikewave.kernels.reference import recurrent_lif_multistep_reference
from spikewave.nn import RecurrentLIF

SURROGATES = [FastSigmoid(2.0), ATan(), Sigmoid(), Triangle(1.0), Boxcar(1.0)]


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
    out = []
    for fn in (recurrent_lif_multistep_reference, recurrent_lif_multistep_fused):
        s, v = fn(x, w, torch.sigmoid(logit), 1.0, reset, surrogate, detach)
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
    grads = []
    for fn in (recurrent_lif_multistep_reference, recurrent_lif_multistep_fused):
        s, _ = fn(x, w, 0.85, 1.0, "subtract", ATan(), False)
        grads.append(torch.autograd.grad((s * g).sum(), w)[0])
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-10, atol=1e-10)


def test_layer_uses_it_and_matches_the_reference(monkeypatch):
    torch.manual_seed(2)
    layer = RecurrentLIF(6, rec_std=1.5, tau_steps=8.0, learn_beta=True, seed=1).double()
    x = (torch.rand(50, 4, 6, dtype=torch.float64) * 0.8).requires_grad_(True)
    calls = []
    real = recurrent_fused.recurrent_lif_multistep_fused
    monkeypatch.setattr(recurrent_fused, "recurrent_lif_multistep_fused",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    fused = layer(x)
    g_fused = torch.autograd.grad(fused.sum(), (x, layer.w_rec))
    assert calls, "the layer did not take the fused kernel"
    monkeypatch.setenv("SPIKEWAVE_KERNELS", "reference")
    ref = layer(x)
    g_ref = torch.autograd.grad(ref.sum(), (x, layer.w_rec))
    assert torch.equal(fused, ref) and ref.sum() > 10
    for a, b in zip(g_fused, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_registered_op_passes_opcheck():
    x = torch.randn(9, 2, 5, dtype=torch.float64) * 0.6 + 0.6
    w = torch.randn(5, 5, dtype=torch.float64) * 0.5
    beta = torch.full((2, 5), 0.8, dtype=torch.float64)
    torch.library.opcheck(recurrent_lif_forward_op, (x, w, beta, 1.0, 0, False, 1, 2.0))


def test_compiles_without_graph_breaks():
    x, w, _, _ = _case(torch.float32, t=10)

    def f(x, w):
        return recurrent_lif_multistep_fused(x, w, 0.9, 1.0, "subtract", ATan())[0].sum()

    compiled = torch.compile(f, fullgraph=True, backend="eager")
    assert torch.equal(compiled(x, w), f(x, w))
