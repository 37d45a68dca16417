"""The chunked Linear+LIF kernel against ``linear`` then the reference LIF loop: same spikes,
same gradients, whatever the chunking; and the state it keeps does not grow with T."""

import pytest
import torch
from spikewave.nn.surrogate import ATan, Boxcar, FastSigmoid, Sigmoid, Triangle

from spikewave import ParameterError
from spikewave.kernels import chunked_lif
from spikewave.kernels.reference import lif_multistep_reference
from spikewave.nn import LinearLIF

SURROGATES = [FastSigmoid(2.0), ATan(), Sigmoid(), Triangle(1.0), Boxcar(1.0)]


def _reference(layer: LinearLIF, x: torch.Tensor) -> torch.Tensor:
    current = torch.nn.functional.linear(x, layer.weight, layer.bias)
    return lif_multistep_reference(current, layer.decay.beta(), layer.threshold, layer.reset,
                                   layer.surrogate, layer.detach_reset)[0]


def _spikes_and_grads(layer, x, g, fn):
    s = fn(layer, x)
    params = [x, layer.weight, layer.bias, layer.decay.beta_logit]
    return (s, *torch.autograd.grad((s * g).sum(), params))


@pytest.mark.parametrize("binary", [True, False], ids=["spikes", "dense"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_parity_with_the_reference(binary, reset, detach, surrogate, dtype, tol):
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
    fused = _spikes_and_grads(layer, x, g, lambda m, inp: m(inp))
    ref = _spikes_and_grads(layer, x, g, _reference)
    assert torch.equal(fused[0], ref[0]) and ref[0].sum() > 20
    assert fused[0].dtype == dtype
    for a, b in zip(fused[1:], ref[1:], strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("chunk_steps", [1, 5, 23, 100])
def test_any_chunking_gives_the_same_result(chunk_steps):
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(23, 2, 40, generator=gen) < 0.2).double().requires_grad_(True)
    g = torch.randn(23, 2, 16, generator=gen, dtype=torch.float64)
    torch.manual_seed(0)
    layer = LinearLIF(40, 16, chunk_steps=chunk_steps, learn_beta=True, threshold=0.3).double()
    fused = _spikes_and_grads(layer, x, g, lambda m, inp: m(inp))
    ref = _spikes_and_grads(layer, x, g, _reference)
    assert torch.equal(fused[0], ref[0])
    for a, b in zip(fused[1:], ref[1:], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


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
    layer((torch.rand(95, 3, 64) < 0.1).float()).sum().backward()
    assert kept["starts"] == (10, 3 * 32)  # ceil(95 / 10) states of B x N
    assert kept["arrays"] == ["starts"]  # no current or potential per step


@pytest.mark.parametrize("chunk_steps", [None, 7])
def test_module_matches_time_distributed_linear_then_lif(chunk_steps):
    torch.manual_seed(5)
    fused = LinearLIF(20, 8, tau_steps=6.0, chunk_steps=chunk_steps)
    lin = torch.nn.Linear(20, 8)
    lin.load_state_dict({"weight": fused.weight.detach(), "bias": fused.bias.detach()})
    from spikewave.nn import LIF, TimeDistributed

    x = (torch.rand(30, 5, 20) < 0.3).float()
    expected = LIF(tau_steps=6.0)(TimeDistributed(lin)(x))
    assert torch.equal(fused(x), expected)


def test_bad_arguments():
    with pytest.raises(ParameterError, match="chunk_steps"):
        LinearLIF(4, 4, chunk_steps=0)
    with pytest.raises(ParameterError, match="out_features"):
        LinearLIF(4, 0)
    with pytest.raises(ParameterError, match=r"x.*\[T, B, 4\]"):
        LinearLIF(4, 2)(torch.ones(5, 2, 3))
