"""The fused LIF kernel against the reference time loop: same spikes, same gradients."""

import pytest
import torch

from spikewave.kernels import lif_multistep
from spikewave.kernels.lif_fused import lif_multistep_fused, supports
from spikewave.kernels.reference import lif_multistep_reference
from spikewave.nn import LIF
from spikewave.nn.surrogate import ATan, Boxcar, FastSigmoid, Sigmoid, Triangle

SURROGATES = [FastSigmoid(2.0), ATan(), Sigmoid(), Triangle(1.0), Boxcar(1.0)]


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_parity_with_the_reference(reset, detach, surrogate, dtype, tol):
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(40, 3, 6, generator=gen, dtype=dtype) * 0.6 + 0.3).requires_grad_(True)
    logit = torch.randn(6, generator=gen, dtype=dtype, requires_grad=True)  # per neuron
    g = torch.randn(40, 3, 6, generator=gen, dtype=dtype)
    out = []
    for fn in (lif_multistep_reference, lif_multistep_fused):
        s, v = fn(x, torch.sigmoid(logit), 1.0, reset, surrogate, detach)
        grads = torch.autograd.grad((s * g).sum() + v.sum(), (x, logit))
        out.append((s, v, *grads))
    (s1, v1, gx1, gb1), (s2, v2, gx2, gb2) = out
    assert torch.equal(s1, s2) and s1.sum() > 10
    assert s2.dtype == dtype
    for a, b in ((v1, v2), (gx1, gx2), (gb1, gb2)):
        torch.testing.assert_close(b, a, rtol=tol, atol=tol)


def test_scalar_beta_and_large_shapes_across_threads():
    gen = torch.Generator().manual_seed(1)
    x = (torch.randn(12, 8, 4100, generator=gen, dtype=torch.float64) * 0.5 + 0.4)
    x.requires_grad_(True)
    r = lif_multistep_reference(x, 0.9, 1.0, "subtract", FastSigmoid())
    f = lif_multistep_fused(x, 0.9, 1.0, "subtract", FastSigmoid())
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
    grads = []
    for fn in (lif_multistep_reference, lif_multistep_fused):
        s, v = fn(x, 0.85, 1.0, "subtract", FastSigmoid())
        shared = torch.autograd.grad(s, x, row.expand_as(s), retain_graph=True)[0]
        v_only = torch.autograd.grad(v.sum(), x)[0]
        grads.append((shared, v_only))
    for a, b in zip(*grads, strict=True):
        assert a.abs().sum() > 0
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-10)


def test_without_gradients_only_one_row_of_potentials_is_kept():
    from spikewave.kernels.lif_fused import lif_forward_op

    gen = torch.Generator().manual_seed(4)
    x = torch.randn(25, 3, 7, generator=gen, dtype=torch.float64) * 0.6 + 0.3
    beta = torch.full((3, 7), 0.9, dtype=torch.float64)
    s1, u1, v1 = lif_forward_op(x, beta, 1.0, 0, False, 0, 2.0)
    s2, u2, v2 = lif_forward_op(x, beta, 1.0, 0, False, 0, 2.0, False)
    assert u1.shape == (25, 3, 7) and u2.shape == (1, 3, 7) and s1.sum() > 10
    assert torch.equal(s1, s2) and torch.equal(v1, v2) and torch.equal(u2[0], u1[-1])
    torch.library.opcheck(lif_forward_op, (x, beta, 1.0, 0, False, 0, 2.0, False))
    with torch.no_grad():
        s3, v3 = lif_multistep_fused(x, 0.9, 1.0, "subtract", FastSigmoid(2.0))
    assert torch.equal(s3, s1) and torch.equal(v3, v1)


def test_dispatch_uses_the_kernel_when_it_applies(monkeypatch):
    x = torch.randn(5, 2, 3)
    assert supports(x, 0.9, FastSigmoid(), None)
    assert not supports(x, 0.9, lambda u: (u >= 0).float(), None)  # unknown spike function
    assert not supports(x, 0.9, FastSigmoid(), torch.zeros(2, 3))   # initial state
    assert not supports(x, torch.ones(4), FastSigmoid(), None)      # beta does not broadcast
    layer = LIF(learn_beta=True, n_neurons=3)
    fused = layer(x)
    monkeypatch.setenv("SPIKEWAVE_KERNELS", "reference")
    assert torch.equal(layer(x), fused)
    s, _ = lif_multistep(x, 0.9, 1.0, "zero", FastSigmoid())
    assert s.grad_fn is None or "FusedLIF" not in type(s.grad_fn).__name__


def test_registered_ops_pass_torch_opcheck():
    """Schema, fake (meta) implementation and autograd registration of the custom ops."""
    from spikewave.kernels.lif_fused import lif_backward_op, lif_forward_op

    gen = torch.Generator().manual_seed(2)
    x = torch.randn(9, 2, 5, generator=gen, dtype=torch.float64) * 0.6 + 0.4
    beta = torch.full((2, 5), 0.8, dtype=torch.float64)
    torch.library.opcheck(lif_forward_op, (x, beta, 1.0, 0, False, 0, 2.0))
    s, u, v = lif_forward_op(x, beta, 1.0, 0, False, 0, 2.0)
    torch.library.opcheck(lif_backward_op, (torch.ones_like(s), torch.zeros_like(v), u, beta,
                                            1.0, 0, False, 0, 2.0))


def test_torch_compile_traces_the_fused_layer_without_graph_breaks():
    torch.manual_seed(0)
    layer = LIF(tau_steps=5.0, learn_beta=True, n_neurons=6)
    x = (torch.randn(20, 3, 6) * 0.6 + 0.4).requires_grad_(True)

    def f(inp):
        return layer(inp).sum(0)

    eager = f(x)
    (g_eager,) = torch.autograd.grad(eager.sum(), x)
    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")  # fullgraph: no breaks
    out = compiled(x)
    (g_out,) = torch.autograd.grad(out.sum(), x)
    assert torch.equal(out, eager) and eager.sum() > 0
    torch.testing.assert_close(g_out, g_eager)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_fixed_beta_skips_its_gradient_and_keeps_the_input_gradient(reset):
    """With a constant beta the backward pass leaves out the beta gradient (a pass over U
    fewer) and the input gradient is the reference's, bit for bit the same as when the
    beta gradient is computed alongside."""
    gen = torch.Generator().manual_seed(3)
    x = (torch.randn(30, 2, 9, generator=gen, dtype=torch.float64) * 0.6 + 0.3)
    g = torch.randn(30, 2, 9, generator=gen, dtype=torch.float64)
    beta = torch.full((9,), 0.9, dtype=torch.float64)
    grads = []
    for learn in (False, True):
        xi = x.clone().requires_grad_(True)
        b = beta.clone().requires_grad_(learn)
        s, v = lif_multistep_fused(xi, b, 1.0, reset, FastSigmoid(), False)
        wrt = (xi, b) if learn else (xi,)
        grads.append(torch.autograd.grad((s * g).sum() + v.sum(), wrt))
    xr = x.clone().requires_grad_(True)
    s, v = lif_multistep_reference(xr, beta, 1.0, reset, FastSigmoid(), False)
    (g_ref,) = torch.autograd.grad((s * g).sum() + v.sum(), (xr,))
    assert torch.equal(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][0], g_ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_the_eager_path_equals_the_custom_operator_to_the_bit(reset):
    """Eager calls skip the operators' dispatch (``_EagerLIF``); the operators themselves
    (traced under torch.compile) must give the same spikes and gradients."""
    from spikewave.kernels.lif_fused import KINDS, RESETS, _EagerLIF, lif_forward_op
    from spikewave.nn.surrogate import ATan

    gen = torch.Generator().manual_seed(11)
    results = []
    for forward in (_EagerLIF.apply, lif_forward_op):
        x = (torch.randn(30, 4, 70, generator=torch.Generator().manual_seed(2)) * 0.6 + 0.3
             ).requires_grad_()
        beta = torch.full((4, 70), 0.9, requires_grad=True)
        s, u, v = forward(x, beta, 1.0, RESETS[reset], False, KINDS[ATan], 2.0, True)
        w = torch.randn(s.shape, generator=gen)
        gen.manual_seed(11)
        g_x, g_beta = torch.autograd.grad((s * w).sum() + v.sum(), [x, beta])
        results.append((s, u, v, g_x, g_beta))
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)
    assert results[0][0].sum() > 0
