"""The fused ALIF kernel against the reference time loop: same spikes, same gradients."""

import pytest
import torch

from spikewave import kernels
from spikewave.kernels.alif_fused import alif_forward_op, alif_fused
from spikewave.kernels.reference import alif_reference
from spikewave.neurons.specs import ALIFSpec, ALIFState
from spikewave.nn import ALIF
from spikewave.surrogate import ATan, Boxcar, FastSigmoid, Sigmoid, Triangle

SURROGATES = [FastSigmoid(2.0), ATan(3.7), Sigmoid(), Triangle(1.7), Boxcar(2.3)]  # scales not 1


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_parity_with_the_reference(reset, detach, surrogate, dtype, tol):
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(40, 3, 6, generator=gen, dtype=dtype) * 0.6 + 0.5).requires_grad_(True)
    logit = torch.randn(6, generator=gen, dtype=dtype, requires_grad=True)
    v0 = (torch.rand(3, 6, generator=gen, dtype=dtype) * 0.5).requires_grad_(True)
    a0 = torch.rand(3, 6, generator=gen, dtype=dtype).requires_grad_(True)
    g = torch.randn(40, 3, 6, generator=gen, dtype=dtype)
    spec = ALIFSpec(0.9, reset, surrogate, detach, adaptation=0.3,
                    tau_adapt_steps=-1 / torch.log(torch.tensor(0.9)).item())
    out = []
    for path in ("reference", "fused"):
        if path == "reference":
            s, st = alif_reference(x, torch.sigmoid(logit), spec, ALIFState(v0, a0))
            v, a = st
        else:
            s, v, a = alif_fused(x, torch.sigmoid(logit), (v0, a0), spec)
        grads = torch.autograd.grad((s * g).sum() + (a * a).sum() + v.sum(),
                                    (x, logit, v0, a0))
        out.append((s, v, a, *grads))
    (s1, *rest1), (s2, *rest2) = out
    assert torch.equal(s1, s2) and s1.sum() > 20
    assert s2.dtype == dtype
    for a, b in zip(rest1, rest2, strict=True):
        torch.testing.assert_close(b, a, rtol=tol, atol=tol)


def test_layer_uses_it_and_matches_the_reference():
    torch.manual_seed(2)
    layer = ALIF(tau_steps=8.0, tau_adapt_steps=30.0, adaptation=0.5, learn_beta=True,
                 n_neurons=5).double()
    x = (torch.rand(60, 4, 5, dtype=torch.float64) * 0.8).requires_grad_(True)
    assert layer.kernel_choice(x).path == "fused"
    fused = layer(x)
    (g_fused,) = torch.autograd.grad(fused.sum(), x)
    with kernels.use("reference"):
        ref = layer(x)
    (g_ref,) = torch.autograd.grad(ref.sum(), x)
    assert torch.equal(fused, ref) and ref.sum() > 10
    torch.testing.assert_close(g_fused, g_ref, rtol=1e-10, atol=1e-10)


def test_registered_op_passes_opcheck():
    x = torch.randn(9, 2, 5, dtype=torch.float64) * 0.6 + 0.6
    beta = torch.full((2, 5), 0.8, dtype=torch.float64)
    v0, a0 = torch.full((2, 5), 0.1, dtype=torch.float64), torch.zeros(2, 5, dtype=torch.float64)
    torch.library.opcheck(alif_forward_op, (x, beta, v0, a0, 1.0, 0.3, 0.9, 0, False, 0, 2.0))
