"""The one-pass event-driven Linear+LIF forward (``LinearLIF`` without chunks, binary input):
the same spikes as the event-driven linear layer then the fused LIF, to the bit, and the
same gradients; the same as the reference to rounding -- from rest and from a given state."""

import numpy as np
import pytest
import torch

from spikewave import kernels
from spikewave._validation import ParameterError
from spikewave.kernels import event_lif, spike_gather, spike_scan, spike_wgrad
from spikewave.kernels import spike_linear as sl
from spikewave.kernels.multistep import lif, linear_lif_choice
from spikewave.kernels.reference import lif_reference
from spikewave.neurons.specs import LIFSpec, LIFState
from spikewave.nn import LinearLIF
from spikewave.surrogate import ATan, Boxcar, FastSigmoid, Sigmoid, Triangle

SURROGATES = [FastSigmoid(2.0), ATan(3.7), Sigmoid(), Triangle(1.7), Boxcar(2.3)]  # scales not 1


def _composed(layer: LinearLIF, x: torch.Tensor, state=None):
    """The two-layer path: event-driven linear layer, then the fused LIF."""
    current = sl.spike_linear(x, layer.weight, layer.bias)
    return lif(current, layer.decay.beta(), layer.spec, state)


def _reference(layer: LinearLIF, x: torch.Tensor, state=None):
    current = torch.nn.functional.linear(x, layer.weight, layer.bias)
    state = LIFState(torch.zeros_like(current[0])) if state is None else state
    return lif_reference(current, layer.decay.beta(), layer.spec, state)


def _layer(layer: LinearLIF, x: torch.Tensor, state=None):
    return layer(x, state, return_state=True)


def _params(layer: LinearLIF, x: torch.Tensor, state=None) -> list[torch.Tensor]:
    params = [x, layer.weight]
    if layer.bias is not None:
        params.append(layer.bias)
    if layer.decay.learn_beta:
        params.append(layer.decay.beta_logit)
    if state is not None:
        params.append(state.v)
    return params


def _spikes_and_grads(layer, x, g, fn, state=None):
    """Spikes, the state after the last step, and the gradients of a loss of both."""
    s, end = fn(layer, x, state)
    loss = (s * g).sum() + (end.v * end.v).sum()
    return (s, end.v, *torch.autograd.grad(loss, _params(layer, x, state)))


@pytest.fixture
def calls(monkeypatch):
    """Counts the calls of the one-pass forward."""
    seen = []
    original = event_lif._forward_arrays

    def spy(*args, **kwargs):
        seen.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(event_lif, "_forward_arrays", spy)
    return seen


@pytest.mark.parametrize("start", ["rest", "state"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_same_spikes_and_gradients_as_the_two_layers_and_the_reference(
        start, reset, detach, surrogate, dtype, tol, calls):
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    layer = LinearLIF(30, 20, learn_beta=True, reset=reset, threshold=0.2,
                      surrogate=surrogate, detach_reset=detach).to(dtype)
    x = (torch.rand(23, 5, 30, generator=gen) < 0.1).to(dtype).requires_grad_(True)
    g = torch.randn(23, 5, 20, generator=gen, dtype=dtype)
    state = None
    if start == "state":  # potentials below and above the threshold
        state = LIFState((torch.rand(5, 20, generator=gen, dtype=dtype) * 0.3)
                         .requires_grad_(True))
    assert layer.kernel_choice(x).path == "event"
    fused = _spikes_and_grads(layer, x, g, _layer, state)
    assert len(calls) == 1  # the one-pass forward ran
    composed = _spikes_and_grads(layer, x, g, _composed, state)
    ref = _spikes_and_grads(layer, x, g, _reference, state)
    assert torch.equal(fused[0], composed[0]) and torch.equal(fused[0], ref[0])
    assert fused[0].dtype == dtype and 20 < fused[0].sum() < fused[0].numel() / 2
    for a, b in zip(fused[1:], composed[1:], strict=True):
        assert torch.equal(a, b)  # the same arithmetic in the same order
    for a, b in zip(fused[1:], ref[1:], strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)
    if state is not None:
        assert fused[-1].abs().sum() > 0  # the initial state's gradient


def test_a_sequence_run_in_halves_with_its_state_equals_one_run(calls):
    """Run in two halves, the state carried over: the same spikes, final state and
    gradients as one run over the whole sequence."""
    torch.manual_seed(3)
    layer = LinearLIF(30, 20, threshold=0.3, tau_steps=6.0).double()
    x = (torch.rand(24, 4, 30, generator=torch.Generator().manual_seed(3)) < 0.1).double()
    whole, end = layer(x, return_state=True)
    first, mid = layer(x[:12], return_state=True)
    second, end2 = layer(x[12:], mid, return_state=True)
    assert len(calls) == 3
    assert torch.equal(torch.cat([first, second]), whole) and whole.sum() > 20
    assert torch.equal(end2.v, end.v)
    cold = layer(x[12:])  # from rest: not the same
    assert not torch.equal(cold, second)
    g1 = torch.autograd.grad(whole.sum() + end.v.sum(), layer.weight)[0]
    g2 = torch.autograd.grad(torch.cat([first, second]).sum() + end2.v.sum(),
                             layer.weight)[0]
    torch.testing.assert_close(g2, g1, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("batch", [1, 2, 7])
def test_batch_rows_split_over_threads_give_the_same_result(threads, batch, calls):
    gen = torch.Generator().manual_seed(batch)
    torch.manual_seed(1)
    layer = LinearLIF(40, 16, threshold=0.3, tau_steps=5.0).double()
    x = (torch.rand(11, batch, 40, generator=gen) < 0.12).double()
    # the busiest batch row fires much more than the others
    x[:, 0] = (torch.rand(11, 40, generator=gen) < 0.14).double()
    with kernels.use(threads=threads):
        out = layer(x)
    assert len(calls) == 1
    assert torch.equal(out, _reference(layer, x)[0])


def test_no_bias_a_shared_beta_and_a_first_layer_without_input_gradient(calls):
    torch.manual_seed(2)
    layer = LinearLIF(25, 10, bias=False, tau_steps=4.0, threshold=0.4).double()
    x = (torch.rand(9, 3, 25, generator=torch.Generator().manual_seed(2)) < 0.1).double()
    out = layer(x)
    assert len(calls) == 1
    want = _reference(layer, x)[0]
    assert torch.equal(out, want)
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(3), dtype=out.dtype)
    got = torch.autograd.grad((out * g).sum(), layer.weight)[0]
    torch.testing.assert_close(got, torch.autograd.grad((want * g).sum(), layer.weight)[0],
                               rtol=1e-10, atol=1e-10)


def test_inference_keeps_one_potential_row_and_gives_the_same_spikes(monkeypatch):
    kept = []
    original = event_lif._forward_arrays

    def spy(*args, **kwargs):
        s, u, v = original(*args, **kwargs)
        kept.append(u.shape)
        return s, u, v

    monkeypatch.setattr(event_lif, "_forward_arrays", spy)
    torch.manual_seed(4)
    layer = LinearLIF(30, 20, threshold=0.3)
    x = (torch.rand(17, 4, 30, generator=torch.Generator().manual_seed(4)) < 0.1).float()
    with torch.no_grad():
        out = layer(x)
    trained = layer(x)
    assert kept == [(1, 80), (17, 80)]  # every step's potential only for a backward pass
    assert torch.equal(out, trained) and torch.equal(out, _reference(layer, x)[0])


def test_a_weight_stored_input_by_input(calls):
    torch.manual_seed(6)
    ref = LinearLIF(20, 16, threshold=0.3).double()
    layer = LinearLIF(20, 16, threshold=0.3, input_major=True).double()
    layer.load_state_dict(ref.state_dict())
    x = (torch.rand(9, 3, 20, generator=torch.Generator().manual_seed(6)) < 0.1).double()
    out, want = layer(x), _reference(ref, x)[0]
    assert torch.equal(out, want) and len(calls) == 1
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(7), dtype=out.dtype)
    got = torch.autograd.grad((out * g).sum(), [layer.weight, layer.bias])
    expect = torch.autograd.grad((want * g).sum(), [ref.weight, ref.bias])
    assert got[0].stride() == layer.weight.stride()
    for a, b in zip(got, expect, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_dense_or_graded_input_and_the_reference_setting_take_the_two_layers(calls):
    torch.manual_seed(8)
    layer = LinearLIF(30, 12, threshold=0.3)
    gen = torch.Generator().manual_seed(8)
    busy = (torch.rand(9, 3, 30, generator=gen) < 0.5).float()  # above the limit (0.15)
    graded = torch.rand(9, 3, 30, generator=gen) * (torch.rand(9, 3, 30, generator=gen) < 0.1)
    for x in (busy, graded):
        assert layer.kernel_choice(x).path == "fused"
        assert torch.equal(layer(x), _reference(layer, x)[0])
    sparse = (torch.rand(9, 3, 30, generator=gen) < 0.1).float()
    with kernels.use("reference"):
        assert layer.kernel_choice(sparse).path == "reference"
        torch.testing.assert_close(layer(sparse), _reference(layer, sparse)[0], rtol=0,
                                   atol=0)
    assert calls == []


def test_which_inputs_the_one_pass_layer_takes():
    x = torch.zeros(5, 3, 8)
    w = torch.zeros(4, 8)
    spec = LIFSpec()
    for beta in (torch.tensor(0.9), torch.full((4,), 0.9), 0.9):
        assert linear_lif_choice(x, w, beta, spec).path == "event"
    choice = linear_lif_choice(x, w, torch.full((5,), 0.9), spec)  # not [3, 4]
    assert choice.path == "reference" and "beta" in choice.reason
    assert linear_lif_choice(x, w.double(), 0.9, spec).path == "reference"
    assert linear_lif_choice(x.half(), w.half(), 0.9, spec).path == "reference"
    assert linear_lif_choice(x, w, 0.9, spec, max_density=0.0).path == "fused"
    assert linear_lif_choice(x + 0.5, w, 0.9, spec).path == "fused"  # not binary
    with pytest.raises(ParameterError, match="surrogate"):
        LIFSpec(surrogate=object())
    with pytest.raises(ParameterError, match="T = 0"):
        LinearLIF(8, 4)(x[:0])


def test_work_per_batch_row_counts_its_active_inputs():
    # two batch rows over 3 steps: row 0 busy, row 1 idle -> a thread each, row 0 alone
    ptr = np.array([0, 10, 10, 20, 20, 30, 30])
    idx = np.zeros(30, np.int64)
    w = torch.ones(4, 8)
    v0 = torch.zeros(2, 4)
    v0[1] = 2.0  # row 1 starts charged and only decays
    s, u, v = event_lif._forward_arrays((3, 2, 8), (ptr, idx), w, None,
                                        torch.full((2, 4), 0.5), v0, 100.0, 0, True)
    # row 0 gets 10 x 1 each step: potentials 10, 15, 17.5 (threshold 100: no spike)
    np.testing.assert_allclose(u.reshape(3, 2, 4)[:, 0, 0] + 100.0, [10.0, 15.0, 17.5])
    np.testing.assert_allclose(u.reshape(3, 2, 4)[:, 1, 0] + 100.0, [1.0, 0.5, 0.25])
    np.testing.assert_allclose(v.reshape(2, 4), [[17.5] * 4, [0.25] * 4])
    assert not s.any()


def test_the_spikes_are_plain_tensors(calls):
    """Nothing is hung on the output: a next layer finds its active inputs by reading it."""
    torch.manual_seed(9)
    layer = LinearLIF(40, 21, threshold=0.2, tau_steps=3.0)
    x = (torch.rand(13, 5, 40, generator=torch.Generator().manual_seed(9)) < 0.12).float()
    out = layer(x)
    assert len(calls) == 1 and 0.05 < out.mean() < 0.6
    assert vars(out) == {}
    ptr, idx = spike_scan.active_inputs(out.reshape(-1, 21))
    assert int(ptr[-1]) == int(out.sum())


def test_a_readout_of_few_outputs_trains_like_nn_linear():
    from spikewave.nn import SpikeLinear

    torch.manual_seed(11)
    hidden = LinearLIF(50, 64, threshold=0.3).double()
    readout = SpikeLinear(64, 10, max_density=0.3).double()  # the layer's own limit wins
    ref = torch.nn.Linear(64, 10).double()
    ref.load_state_dict(readout.state_dict())
    x = (torch.rand(12, 6, 50, generator=torch.Generator().manual_seed(11)) < 0.1).double()
    s = hidden(x)
    assert 0.02 < s.mean() < 0.3
    rows = s.reshape(-1, 64)
    assert readout.kernel_choice(rows).path == "event"
    y = readout(rows)
    want = ref(rows)
    torch.testing.assert_close(y, want, rtol=1e-12, atol=1e-12)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(12), dtype=y.dtype)
    got = torch.autograd.grad((y * g).sum(), [readout.weight, readout.bias, hidden.weight],
                              retain_graph=True)
    expect = torch.autograd.grad((want * g).sum(), [ref.weight, ref.bias, hidden.weight])
    for a, b in zip(got, expect, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    with kernels.use(min_event_outputs=64):  # the library's default: dense for 10 outputs
        choice = readout.kernel_choice(rows)
        assert choice.path == "dense" and "min_event_outputs" in choice.reason
        torch.testing.assert_close(readout(rows), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_out", [1, 8, 16])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_narrow_gather_and_weight_gradient_equal_the_dense_products(n_out, dtype):
    gen = torch.Generator().manual_seed(n_out)
    s = (torch.rand(301, 37, generator=gen) < 0.2).to(torch.from_numpy(np.zeros(1, dtype)).dtype)
    w = torch.randn(n_out, 37, generator=gen, dtype=s.dtype)
    b = torch.randn(n_out, generator=gen, dtype=s.dtype)
    g = torch.randn(301, n_out, generator=gen, dtype=s.dtype)
    ptr, idx = spike_scan.active_inputs(s)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(spike_gather.gather_weight((ptr, idx), w, b.numpy()),
                               torch.nn.functional.linear(s, w, b).numpy(), rtol=tol, atol=tol)
    got = spike_wgrad.weight_grad_narrow(ptr, idx, g.numpy(), 37)
    np.testing.assert_allclose(got, (g.T @ s).numpy(), rtol=tol, atol=10 * tol)
    assert got.flags.c_contiguous
    by_input = spike_wgrad.weight_grad_narrow(ptr, idx, g.numpy(), 37, input_major=True)
    assert by_input.T.flags.c_contiguous  # the layout of a weight stored input by input
    np.testing.assert_array_equal(by_input, got)


@pytest.mark.parametrize("dtype,steps", [(torch.float32, 20), (torch.float64, 10)])
@pytest.mark.parametrize("n_out", [256, 260])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_rows_written_with_streaming_stores_hold_the_same_bits(dtype, steps, n_out, reset,
                                                               monkeypatch):
    # arrays of 1 MB and more come from the pool, on 64-byte boundaries: with 256 neurons
    # a row (t, b) starts on a 32-byte boundary and the neuron step writes U and S with
    # non-temporal vector stores; 260 neurons take the plain loop
    seen = []
    original = event_lif._forward_arrays

    def spy(*args, **kwargs):
        s, u, v = original(*args, **kwargs)
        seen.append(s.ctypes.data % 64 == 0 and u.ctypes.data % 64 == 0 and s.nbytes >= 2**20)
        return s, u, v

    monkeypatch.setattr(event_lif, "_forward_arrays", spy)
    torch.manual_seed(12)
    layer = LinearLIF(100, n_out, threshold=0.3, reset=reset, learn_beta=True).to(dtype)
    x = (torch.rand(steps, 64, 100, generator=torch.Generator().manual_seed(12)) < 0.1
         ).to(dtype).requires_grad_(True)
    g = torch.randn(steps, 64, n_out, generator=torch.Generator().manual_seed(13), dtype=dtype)
    state = LIFState(torch.rand(64, n_out, generator=torch.Generator().manual_seed(14),
                                dtype=dtype).requires_grad_(True))
    fused = _spikes_and_grads(layer, x, g, _layer, state)
    assert seen == [True]
    composed = _spikes_and_grads(layer, x, g, _composed, state)
    assert 0.02 < fused[0].mean() < 0.5
    for a, b in zip(fused, composed, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("dtype,steps", [(torch.float32, 20), (torch.float64, 10)])
@pytest.mark.parametrize("n_out", [256, 260, 12])  # whole panels / a short last one / one
def test_one_thread_or_two_give_the_same_bits_for_any_width(dtype, steps, n_out):
    torch.manual_seed(14)
    layer = LinearLIF(100, n_out, threshold=0.3, learn_beta=True).to(dtype)
    with torch.no_grad():  # a time constant of its own for each neuron
        layer.decay.beta_logit.add_(torch.randn(n_out, generator=torch.Generator()
                                                .manual_seed(17), dtype=dtype))
    x = (torch.rand(steps, 64, 100, generator=torch.Generator().manual_seed(14)) < 0.1
         ).to(dtype).requires_grad_(True)
    g = torch.randn(steps, 64, n_out, generator=torch.Generator().manual_seed(15), dtype=dtype)
    state = LIFState(torch.rand(64, n_out, generator=torch.Generator().manual_seed(16),
                                dtype=dtype).requires_grad_(True))
    with kernels.use(threads=1):
        one = _spikes_and_grads(layer, x, g, _layer, state)
    with kernels.use(threads=2):
        two = _spikes_and_grads(layer, x, g, _layer, state)
        composed = _spikes_and_grads(layer, x, g, _composed, state)
    assert 0.02 < one[0].mean() < 0.5
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])  # the forward pass
    for a, b, c in zip(one, two, composed, strict=True):
        assert torch.equal(b, c)
        torch.testing.assert_close(a, b)  # sums over the batch split by thread count
    ref = _spikes_and_grads(layer, x, g, _reference, state)
    assert torch.equal(one[0], ref[0])


@pytest.mark.parametrize("chunk_steps", [None, 4])
def test_the_event_linear_layer_and_the_chunked_layer_take_a_short_last_panel(chunk_steps):
    torch.manual_seed(16)
    x = (torch.rand(9, 6, 50, generator=torch.Generator().manual_seed(16)) < 0.15).double()
    weight = torch.randn(70, 50, dtype=torch.float64)  # panels of 16 + 16 + 16 + 16 + 6
    bias = torch.randn(70, dtype=torch.float64)
    layer = LinearLIF(50, 70, threshold=0.5, chunk_steps=chunk_steps,
                      max_density=0.3).double()
    assert layer.kernel_choice(x).path == ("event" if chunk_steps is None else "chunked")
    with kernels.use(max_density=0.0):
        dense_spikes = layer(x)
    assert torch.equal(layer(x), dense_spikes) and dense_spikes.sum() > 10
    torch.testing.assert_close(sl.spike_linear(x, weight, bias),
                               torch.nn.functional.linear(x, weight, bias),
                               rtol=1e-12, atol=1e-12)


def test_panels_hold_the_transposed_weight_padded_with_zeros():
    w_t = np.arange(3 * 37, dtype=np.float32).reshape(3, 37)
    p = spike_gather.panels(w_t)
    assert p.shape == (3, 3, 16)
    np.testing.assert_array_equal(np.concatenate(list(p), axis=1)[:, :37], w_t)
    assert not p[2, :, 5:].any()  # 37 = 16 + 16 + 5


@pytest.mark.parametrize("bytes_per_item", [None, 1])  # one item; a block an item
def test_panels_are_the_same_filled_by_one_thread_or_shared(bytes_per_item, monkeypatch):
    if bytes_per_item is not None:
        monkeypatch.setattr(spike_gather, "PANEL_BYTES_PER_ITEM", bytes_per_item)
    gen = torch.Generator().manual_seed(2)
    weight = torch.randn(70, 45, generator=gen)
    with kernels.use(threads=3):
        by_rows = spike_gather.weight_panels(weight)
        by_columns = spike_gather.panels(np.ascontiguousarray(weight.numpy().T))
    want = np.zeros((5, 45, 16), np.float32)
    for k in range(5):
        block = weight.numpy()[16 * k:16 * (k + 1)].T
        want[k, :, :block.shape[1]] = block
    np.testing.assert_array_equal(by_rows, want)
    np.testing.assert_array_equal(by_columns, want)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("n_blocks,n_rows", [(32, 1280), (1, 50), (3, 7), (2, 1)])
def test_block_items_cover_every_block_and_row_once(threads, n_blocks, n_rows):
    with kernels.use(threads=threads):
        items = spike_gather.block_items(n_blocks, n_rows)
    seen = np.zeros((n_blocks, n_rows), int)
    for k0, k1, r0, r1 in items:
        seen[k0:k1, r0:r1] += 1
    assert (seen == 1).all()
    assert len(items) == 1 if threads == 1 else len(items) > 1 or n_blocks * n_rows == 2
