"""The fused LIF kernel against the reference time loop: same spikes, same gradients."""

import pytest
import torch

from spikewave import kernels
from spikewave.kernels.lif_fused import lif_backward_op, lif_forward_op, lif_fused
from spikewave.kernels.multistep import lif, lif_choice
from spikewave.kernels.reference import lif_reference
from spikewave.neurons.specs import LIFSpec, LIFState
from spikewave.nn import LIF
from spikewave.surrogate import ATan, Boxcar, FastSigmoid, Sigmoid, Triangle

SURROGATES = [FastSigmoid(2.0), ATan(3.7), Sigmoid(), Triangle(1.7), Boxcar(2.3)]  # scales not 1


def reference(x, beta, spec, v0=None):
    s, state = lif_reference(x, beta, spec, LIFState(torch.zeros_like(x[0]) if v0 is None
                                                     else v0))
    return s, state.v


def fused(x, beta, spec, v0=None):
    return lif_fused(x, beta, v0, spec)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_parity_with_the_reference(reset, detach, surrogate, dtype, tol):
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(40, 3, 6, generator=gen, dtype=dtype) * 0.6 + 0.3).requires_grad_(True)
    logit = torch.randn(6, generator=gen, dtype=dtype, requires_grad=True)  # per neuron
    v0 = (torch.rand(3, 6, generator=gen, dtype=dtype) * 0.8).requires_grad_(True)
    g = torch.randn(40, 3, 6, generator=gen, dtype=dtype)
    spec = LIFSpec(0.8, reset, surrogate, detach)
    out = []
    for fn in (reference, fused):
        s, v = fn(x, torch.sigmoid(logit), spec, v0)
        grads = torch.autograd.grad((s * g).sum() + v.sum(), (x, logit, v0))
        out.append((s, v, *grads))
    (s1, *rest1), (s2, *rest2) = out
    assert torch.equal(s1, s2) and s1.sum() > 10
    assert s2.dtype == dtype
    for a, b in zip(rest1, rest2, strict=True):
        torch.testing.assert_close(b, a, rtol=tol, atol=tol)


def test_scalar_beta_and_large_shapes_across_threads():
    gen = torch.Generator().manual_seed(1)
    x = (torch.randn(12, 8, 4100, generator=gen, dtype=torch.float64) * 0.5 + 0.4)
    x.requires_grad_(True)
    spec = LIFSpec()
    r, f = reference(x, 0.9, spec), fused(x, 0.9, spec)
    assert torch.equal(r[0], f[0])
    gr = torch.autograd.grad(r[0].sum(), x)[0]
    gf = torch.autograd.grad(f[0].sum(), x)[0]
    torch.testing.assert_close(gf, gr, rtol=1e-10, atol=1e-10)


def test_spike_gradient_shared_by_all_steps_or_absent():
    """A spike gradient broadcast over time (stride 0: read as one row, not copied) and no
    spike gradient at all (only ``v_last`` in the loss) give the reference's gradients."""
    gen = torch.Generator().manual_seed(3)
    x = (torch.randn(30, 4, 5, generator=gen, dtype=torch.float64) * 0.6 + 0.3)
    x.requires_grad_(True)
    row = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    spec = LIFSpec(surrogate=FastSigmoid())
    grads = []
    for fn in (reference, fused):
        s, v = fn(x, 0.85, spec)
        shared = torch.autograd.grad(s, x, row.expand_as(s), retain_graph=True)[0]
        v_only = torch.autograd.grad(v.sum(), x)[0]
        grads.append((shared, v_only))
    for a, b in zip(*grads, strict=True):
        assert a.abs().sum() > 0
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-10)


def test_without_gradients_only_one_row_of_potentials_is_kept():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(25, 3, 7, generator=gen, dtype=torch.float64) * 0.6 + 0.3
    beta = torch.full((3, 7), 0.9, dtype=torch.float64)
    v0 = torch.zeros(3, 7, dtype=torch.float64)
    s1, u1, v1 = lif_forward_op(x, beta, v0, 1.0, 0, False, 0, 2.0)
    s2, u2, v2 = lif_forward_op(x, beta, v0, 1.0, 0, False, 0, 2.0, False)
    assert u1.shape == (25, 3, 7) and u2.shape == (1, 3, 7) and s1.sum() > 10
    assert torch.equal(s1, s2) and torch.equal(v1, v2) and torch.equal(u2[0], u1[-1])
    torch.library.opcheck(lif_forward_op, (x, beta, v0, 1.0, 0, False, 0, 2.0, False))
    with torch.no_grad():
        s3, v3 = lif_fused(x, 0.9, None, LIFSpec(surrogate=FastSigmoid(2.0)))
    assert torch.equal(s3, s1) and torch.equal(v3, v1)


def test_the_registry_takes_the_kernel_when_it_applies():
    x = torch.randn(5, 2, 3)
    spec = LIFSpec()
    assert lif_choice(x, 0.9, spec).path == "fused"
    assert lif_choice(x, torch.ones(4), spec).path == "reference"  # beta does not broadcast
    assert lif_choice(x.to(torch.bfloat16), 0.9, spec).path == "reference"
    with kernels.use("reference"):
        assert lif_choice(x, 0.9, spec).path == "reference"
    layer = LIF(learn_beta=True, n_neurons=3)
    fused = layer(x)
    with kernels.use("reference"):
        assert torch.equal(layer(x), fused)
    s, _ = lif(x.requires_grad_(), 0.9, spec)
    assert "EagerLIF" in type(s.grad_fn).__name__


def test_registered_ops_pass_torch_opcheck():
    """Schema, fake (meta) implementation and autograd registration of the custom ops."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(9, 2, 5, generator=gen, dtype=torch.float64) * 0.6 + 0.4
    beta = torch.full((2, 5), 0.8, dtype=torch.float64)
    v0 = torch.rand(2, 5, generator=gen, dtype=torch.float64)
    torch.library.opcheck(lif_forward_op, (x, beta, v0, 1.0, 0, False, 0, 2.0))
    s, u, v = lif_forward_op(x, beta, v0, 1.0, 0, False, 0, 2.0)
    torch.library.opcheck(lif_backward_op, (torch.ones_like(s), torch.zeros_like(v), u, beta,
                                            v0, 1.0, 0, False, 0, 2.0))


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_fixed_beta_skips_its_gradient_and_keeps_the_input_gradient(reset):
    """With a constant beta the backward pass leaves out the beta gradient (a pass over U
    fewer) and the input gradient is the reference's, bit for bit the same as when the
    beta gradient is computed alongside."""
    gen = torch.Generator().manual_seed(3)
    x = (torch.randn(30, 2, 9, generator=gen, dtype=torch.float64) * 0.6 + 0.3)
    g = torch.randn(30, 2, 9, generator=gen, dtype=torch.float64)
    beta = torch.full((9,), 0.9, dtype=torch.float64)
    spec = LIFSpec(reset=reset)
    grads = []
    for learn in (False, True):
        xi = x.clone().requires_grad_(True)
        b = beta.clone().requires_grad_(learn)
        s, v = lif_fused(xi, b, None, spec)
        wrt = (xi, b) if learn else (xi,)
        grads.append(torch.autograd.grad((s * g).sum() + v.sum(), wrt))
    xr = x.clone().requires_grad_(True)
    s, v = reference(xr, beta, spec)
    (g_ref,) = torch.autograd.grad((s * g).sum() + v.sum(), (xr,))
    assert torch.equal(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][0], g_ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_the_eager_path_equals_the_custom_operator_to_the_bit(reset):
    """Eager calls skip the operators' dispatch (``_EagerLIF``); the operators themselves
    (traced under torch.compile) must give the same spikes and gradients."""
    from spikewave.kernels.lif_fused import _EagerLIF, spec_args

    spec = LIFSpec(reset=reset, surrogate=ATan(2.0))
    gen = torch.Generator().manual_seed(11)
    results = []
    for forward in (lambda *a: _EagerLIF.apply(*a, spec.surrogate), lif_forward_op):
        x = (torch.randn(30, 4, 70, generator=torch.Generator().manual_seed(2)) * 0.6 + 0.3
             ).requires_grad_()
        beta = torch.full((4, 70), 0.9, requires_grad=True)
        v0 = torch.full((4, 70), 0.2, requires_grad=True)
        s, u, v = forward(x, beta, v0, *spec_args(spec), True)
        w = torch.randn(s.shape, generator=gen)
        gen.manual_seed(11)
        grads = torch.autograd.grad((s * w).sum() + v.sum(), [x, beta, v0])
        results.append((s, u, v, *grads))
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)
    assert results[0][0].sum() > 0
