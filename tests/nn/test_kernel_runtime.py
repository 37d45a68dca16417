"""What the compiled kernels run on: the threads that share their work out (torch's OpenMP
team or a pool of our own) and the pool of reused output arrays."""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

from spikewave import ParameterError, kernels
from spikewave.kernels import _buffers as buffers
from spikewave.kernels import _threads
from spikewave.kernels.lif_fused import lif_fused
from spikewave.kernels.spike_linear import spike_linear
from spikewave.kernels.spike_scan import active_inputs
from spikewave.kernels.spike_wgrad import input_columns
from spikewave.neurons.specs import LIFSpec
from spikewave.surrogate import FastSigmoid


@pytest.fixture(params=["openmp", "pool"])
def backend(request, monkeypatch):
    """Each test once on torch's OpenMP threads (where torch has them) and once on the
    pool of Python threads."""
    if request.param == "pool":
        monkeypatch.setattr(_threads._OpenMP, "pid", os.getpid())
        monkeypatch.setattr(_threads._OpenMP, "lib", None)
    elif _threads.threading_backend() != "openmp":
        pytest.skip("torch does not run on an OpenMP runtime here")
    assert _threads.threading_backend() == request.param
    return request.param


def test_every_item_runs_once_and_on_several_threads(backend):
    seen, threads = [], set()
    lock = threading.Lock()

    def work(item):
        with lock:
            seen.append(item)
            threads.add(threading.get_ident())
        time.sleep(0.01)  # so that one thread does not take every item of the pool

    _threads.parallel_for(work, range(7))
    assert sorted(seen) == list(range(7))
    assert len(threads) > 1


def test_an_exception_of_an_item_reaches_the_caller_after_all_items_ran(backend):
    done = []

    def work(item):
        if item == 1:
            raise KeyError("item one")
        done.append(item)

    with pytest.raises(KeyError, match="item one"):
        _threads.parallel_for(work, range(4))
    assert sorted(done) == [0, 2, 3]


def test_a_call_from_inside_a_region_runs_inline(backend):
    inner = []
    _threads.parallel_for(lambda i: _threads.parallel_for(lambda j: inner.append((i, j)),
                                                          range(3)), range(2))
    assert sorted(inner) == [(i, j) for i in range(2) for j in range(3)]


def _layer_run():
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(20, 6, 300, generator=gen) < 0.1).float()
    w = torch.randn(200, 300, generator=gen, requires_grad=True)
    cur = spike_linear(x, w)
    spikes, _ = lif_fused(cur, 0.9, None, LIFSpec(1.0, "subtract", FastSigmoid(10.0)))
    (g_w,) = torch.autograd.grad(spikes.sum() + cur.square().sum(), [w])
    return cur.detach(), spikes, g_w


def test_the_kernels_give_the_same_bits_on_either_backend(monkeypatch):
    if _threads.threading_backend() != "openmp":
        pytest.skip("torch does not run on an OpenMP runtime here")
    on_openmp = _layer_run()
    monkeypatch.setattr(_threads._OpenMP, "lib", None)
    assert _threads.threading_backend() == "pool"
    on_pool = _layer_run()
    assert on_openmp[1].sum() > 0
    for a, b in zip(on_openmp, on_pool, strict=True):
        assert torch.equal(a, b)


def test_a_bad_threading_choice_is_one_clear_error():
    code = "from spikewave.kernels._threads import threading_backend; threading_backend()"
    env = dict(os.environ, SPIKEWAVE_THREADING="fibres")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True)
    assert run.returncode != 0
    assert "SPIKEWAVE_THREADING must be 'openmp' or 'pool', not 'fibres'" in run.stderr


def test_a_forked_child_uses_its_own_threads():
    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        out = []
        _threads.parallel_for(out.append, range(3))
        os.write(write, f"{_threads.threading_backend()} {sorted(out)}".encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 100).decode() == "pool [0, 1, 2]"


@pytest.fixture
def small_pool(monkeypatch):
    """Arrays of any size pooled, the pool empty before and after the test."""
    monkeypatch.setattr(buffers, "MIN_BYTES", 0)
    buffers.clear()
    yield
    buffers.clear()


def test_an_array_is_handed_out_again_only_once_nobody_holds_it(small_pool):
    a = buffers.empty((4, 5), np.float32)
    b = buffers.empty((4, 5), np.float32)
    assert a is not b
    view = a[1:]
    tensor = torch.from_numpy(b).reshape(20)
    del a, b
    c = buffers.empty((4, 5), np.float32)  # both still held: by a view, by a tensor
    assert not np.shares_memory(c, view) and not np.shares_memory(c, tensor.numpy())
    del view
    d = buffers.empty((4, 5), np.float32)
    assert d.shape == (4, 5) and d.flags.c_contiguous and d.ctypes.data % 64 == 0
    assert not np.shares_memory(d, tensor.numpy()) and not np.shares_memory(d, c)
    del tensor
    assert buffers.empty((4, 5), np.float32).dtype == np.float32
    assert buffers.empty((4, 5), np.float64).dtype == np.float64  # another key


def test_a_view_of_a_view_keeps_the_memory_from_being_handed_out(small_pool):
    # numpy points every view at the array that owns the memory: the pool counts the
    # owner's references, so a slice of a slice (a CSR's indices) holds it too
    first = buffers.empty((64,), np.int64)[:40][5:]
    for _ in range(3):
        other = buffers.empty((64,), np.int64)
        assert not np.shares_memory(other, first)
        del other  # free again: the next turn gets it back
    assert buffers.held_bytes() == 2 * (64 * 8 + buffers.ALIGN_BYTES)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_pooled_arrays_start_on_a_cache_line(small_pool, dtype):
    arrays = [buffers.empty((n, 3), dtype) for n in (1, 7, 64, 1001)]
    assert all(a.ctypes.data % 64 == 0 and a.flags.c_contiguous for a in arrays)


def test_the_pool_keeps_no_more_than_its_limit(small_pool):
    extra = buffers.ALIGN_BYTES  # each array's allocation, for the alignment
    with kernels.use(buffer_pool_mb=(1000 + 2 * extra) / 2**20):
        held = [buffers.empty((100,), np.float32) for _ in range(3)]  # 400 bytes each
        assert buffers.held_bytes() == 2 * (400 + extra)
        del held
        buffers.empty((200,), np.float32)  # 800 bytes: the two free ones make room
        assert buffers.held_bytes() == 800 + extra
    with kernels.use(buffer_pool_mb=0):
        buffers.clear()
        buffers.empty((100,), np.float32)
        assert buffers.held_bytes() == 0
    buffers.empty((100,), np.float32)  # the default limit again, outside the block
    assert buffers.held_bytes() == 400 + extra


@pytest.mark.parametrize("value", ["lots", -1, float("nan"), None])
def test_a_bad_pool_size_is_one_clear_error(value):
    with pytest.raises(ParameterError, match="buffer_pool_mb"):
        with kernels.use(buffer_pool_mb=value):
            pass  # pragma: no cover - refused before
    with pytest.raises(ParameterError, match="buffer_pool_mb"):
        kernels.configure(buffer_pool_mb=value)
    assert kernels.config().buffer_pool_mb == kernels.KernelConfig().buffer_pool_mb


SPEC = LIFSpec(0.5, "subtract", FastSigmoid(5.0))


def test_outputs_kept_by_the_caller_are_not_overwritten_by_later_calls(small_pool):
    gen = torch.Generator().manual_seed(5)
    runs = []
    for _ in range(3):
        x = torch.randn(15, 4, 50, generator=gen, requires_grad=True)
        spikes, v_last = lif_fused(x, 0.8, None, SPEC)
        (g_x,) = torch.autograd.grad(spikes.sum(), [x])
        runs.append((x.detach(), spikes, g_x, spikes.clone(), g_x.clone()))
    for _x, spikes, g_x, spikes_copy, g_x_copy in runs:
        assert torch.equal(spikes, spikes_copy) and torch.equal(g_x, g_x_copy)
    assert len({r[1].data_ptr() for r in runs}) == 3  # all three still held: three arrays
    del runs
    x = torch.randn(15, 4, 50, generator=gen)
    first = lif_fused(x, 0.8, None, SPEC)[0].data_ptr()
    again = lif_fused(x, 0.8, None, SPEC)[0].data_ptr()
    assert first == again  # the first one's spikes were let go: reused


def test_index_arrays_whose_length_follows_the_spikes_reuse_power_of_two_pool_arrays():
    # 330,000-400,000 active entries a call (2.6-3.2 MB of indices): their arrays are the
    # first entries of pooled arrays of 2**19 entries, so the pool stops growing once the
    # densities have been seen; an array still held is never handed out again
    buffers.clear()
    gen = torch.Generator().manual_seed(8)
    held, kept = [], None
    for p in (0.10, 0.11, 0.12, 0.10, 0.11, 0.12):
        x = (torch.rand(3200, 1024, generator=gen) < p).float()
        ptr, idx = active_inputs(x)
        col_ptr, rows = input_columns(ptr, idx, 1024)
        assert idx.shape == (ptr[-1],) and rows.shape == (ptr[-1],)
        np.testing.assert_array_equal(idx, torch.nonzero(x)[:, 1].numpy())
        assert np.array_equal(np.diff(col_ptr), (x != 0).sum(0).numpy())
        if kept is None:
            kept = (idx, idx.copy())
        held.append(buffers.held_bytes())
        del ptr, idx, col_ptr, rows
    assert np.array_equal(kept[0], kept[1])
    assert held[3] == held[4] == held[5] and held[5] <= 48 * 2**20
    buffers.clear()
