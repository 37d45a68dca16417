"""The chunked Linear+LIF kernel against ``linear`` then the reference LIF loop: same spikes,
same gradients, whatever the chunking, from rest or from a given state; and the state it
keeps does not grow with T."""

import pytest
import torch

from spikewave import ParameterError
from spikewave.kernels import chunked_lif
from spikewave.kernels.chunked_lif import linear_lif_chunked
from spikewave.kernels.reference import lif_reference
from spikewave.kernels.spike_scan import active_inputs
from spikewave.neurons.specs import LIFSpec, LIFState
from spikewave.nn import LinearLIF
from spikewave.surrogate import ATan, Boxcar, FastSigmoid, Sigmoid, Triangle

SURROGATES = [FastSigmoid(2.0), ATan(3.7), Sigmoid(), Triangle(1.7), Boxcar(2.3)]  # scales not 1


def _reference(layer: LinearLIF, x: torch.Tensor, state=None):
    current = torch.nn.functional.linear(x, layer.weight, layer.bias)
    state = LIFState(torch.zeros_like(current[0])) if state is None else state
    return lif_reference(current, layer.decay.beta(), layer.spec, state)


def _layer(layer: LinearLIF, x: torch.Tensor, state=None):
    return layer(x, state, return_state=True)


def _spikes_and_grads(layer, x, g, fn, state=None):
    s, end = fn(layer, x, state)
    params = [x, layer.weight, layer.bias, layer.decay.beta_logit]
    if state is not None:
        params.append(state.v)
    loss = (s * g).sum() + (end.v * end.v).sum()
    return (s, end.v, *torch.autograd.grad(loss, params))


def _state(b, n, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    return LIFState((torch.rand(b, n, generator=gen, dtype=dtype) * 0.3).requires_grad_(True))


@pytest.mark.parametrize("binary", [True, False], ids=["spikes", "dense"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_parity_with_the_reference_from_a_given_state(binary, reset, detach, surrogate,
                                                      dtype, tol):
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    layer = LinearLIF(30, 12, chunk_steps=7, learn_beta=True, reset=reset, threshold=0.2,
                      surrogate=surrogate, detach_reset=detach).to(dtype)
    if binary:
        x = (torch.rand(23, 4, 30, generator=gen) < 0.15).to(dtype)
    else:
        x = torch.randn(23, 4, 30, generator=gen, dtype=dtype) * 0.5
    x.requires_grad_(True)
    g = torch.randn(23, 4, 12, generator=gen, dtype=dtype)
    state = _state(4, 12, dtype, 1)
    assert layer.kernel_choice(x).path == "chunked"
    fused = _spikes_and_grads(layer, x, g, _layer, state)
    ref = _spikes_and_grads(layer, x, g, _reference, state)
    assert torch.equal(fused[0], ref[0]) and ref[0].sum() > 20
    assert fused[0].dtype == dtype
    for a, b in zip(fused[1:], ref[1:], strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)
    assert fused[-1].abs().sum() > 0  # the initial state's gradient


@pytest.mark.parametrize("start", ["rest", "state"])
@pytest.mark.parametrize("chunk_steps", [1, 5, 23, 100])
def test_any_chunking_gives_the_same_result(chunk_steps, start):
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(23, 2, 40, generator=gen) < 0.2).double().requires_grad_(True)
    g = torch.randn(23, 2, 16, generator=gen, dtype=torch.float64)
    torch.manual_seed(0)
    layer = LinearLIF(40, 16, chunk_steps=chunk_steps, learn_beta=True, threshold=0.3).double()
    state = _state(2, 16, torch.float64, 4) if start == "state" else None
    fused = _spikes_and_grads(layer, x, g, _layer, state)
    ref = _spikes_and_grads(layer, x, g, _reference, state)
    assert torch.equal(fused[0], ref[0]) and ref[0].sum() > 10
    for a, b in zip(fused[1:], ref[1:], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_the_kernel_takes_an_initial_state_with_its_gradient_directly():
    """``linear_lif_chunked`` itself, dense and event-driven current: the state after the
    last step and the gradient of the state before the first."""
    gen = torch.Generator().manual_seed(6)
    x = (torch.rand(17, 3, 20, generator=gen) < 0.2).double()
    w = (torch.randn(10, 20, generator=gen, dtype=torch.float64) * 0.4).requires_grad_(True)
    b = torch.zeros(10, dtype=torch.float64, requires_grad=True)
    v0 = (torch.rand(3, 10, generator=gen, dtype=torch.float64) * 0.9).requires_grad_(True)
    spec = LIFSpec(0.5, surrogate=ATan())
    current = torch.nn.functional.linear(x, w, b)
    s_ref, end = lif_reference(current, 0.8, spec, LIFState(v0))
    want = torch.autograd.grad(s_ref.sum() + end.v.sum(), (w, b, v0))
    for active in (None, active_inputs(x.reshape(-1, 20))):
        s, v = linear_lif_chunked(x, w, b, 0.8, v0, spec, 4, active)
        assert torch.equal(s, s_ref) and s.sum() > 10
        torch.testing.assert_close(v, end.v, rtol=1e-12, atol=1e-12)
        got = torch.autograd.grad(s.sum() + v.sum(), (w, b, v0))
        for a, e in zip(got, want, strict=True):
            torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-10)


def test_kept_state_is_the_chunk_starts_only(monkeypatch):
    kept = {}
    original = chunked_lif._LinearLIF.forward

    def spy(ctx, *args):
        out = original(ctx, *args)
        kept["starts"] = ctx.starts.shape
        kept["arrays"] = sorted(k for k, v in vars(ctx).items() if hasattr(v, "shape"))
        return out

    monkeypatch.setattr(chunked_lif._LinearLIF, "forward", staticmethod(spy))
    layer = LinearLIF(64, 32, chunk_steps=10)
    layer((torch.rand(95, 3, 64, generator=torch.Generator().manual_seed(0)) < 0.1).float()
          ).sum().backward()
    assert kept["starts"] == (10, 3 * 32)  # ceil(95 / 10) states of B x N
    assert kept["arrays"] == ["starts"]  # no current or potential per step


@pytest.mark.parametrize("chunk_steps", [None, 7])
def test_module_matches_time_distributed_linear_then_lif(chunk_steps):
    torch.manual_seed(5)
    fused = LinearLIF(20, 8, tau_steps=6.0, chunk_steps=chunk_steps)
    lin = torch.nn.Linear(20, 8)
    lin.load_state_dict({"weight": fused.weight.detach(), "bias": fused.bias.detach()})
    from spikewave.nn import LIF, TimeDistributed

    x = (torch.rand(30, 5, 20, generator=torch.Generator().manual_seed(5)) < 0.3).float()
    expected = LIF(tau_steps=6.0)(TimeDistributed(lin)(x))
    assert torch.equal(fused(x), expected) and expected.sum() > 10


def test_bad_arguments():
    with pytest.raises(ParameterError, match="chunk_steps"):
        LinearLIF(4, 4, chunk_steps=0)
    with pytest.raises(ParameterError, match="out_features"):
        LinearLIF(4, 0)
    with pytest.raises(ParameterError, match=r"x.*\[T, B, 4\]"):
        LinearLIF(4, 2)(torch.ones(5, 2, 3))
    with pytest.raises(ParameterError, match="n_neurons"):
        LinearLIF(4, 2, n_neurons=32)
    with pytest.raises(ParameterError, match=r"state.*\(2, 2\)"):
        LinearLIF(4, 2)(torch.ones(5, 2, 4), LIFState(torch.zeros(3, 2)))
    with pytest.raises(TypeError):
        LinearLIF(4, 2, tau=3.0)  # explicit keywords only: a typo is not swallowed
