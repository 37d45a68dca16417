"""The kernel registry: ``kernels.use`` and ``kernels.configure`` (scoped, restored,
validated), ``kernels.explain`` on a small network, the calibration stored per machine, and
the density limit's precedence (layer > use > calibration > EVENT_DENSITY) and
``min_event_outputs``. Here the library's defaults are in force (conftest's lifted limits
are left out) and no calibration file is found unless a test writes one."""

import dataclasses
import json
import threading

import pytest
import torch

from spikewave import ParameterError, kernels
from spikewave.kernels import calibration, event_lif, multistep, registry
from spikewave.kernels.registry import EVENT_DENSITY, MIN_EVENT_OUTPUTS, density_limit
from spikewave.neurons.specs import LIFSpec
from spikewave.nn import LIF, LeakyReadout, LinearLIF, SpikeLinear

DEFAULTS = kernels.KernelConfig()


@pytest.fixture(autouse=True)
def event_path_for_small_layers(tmp_path, monkeypatch):
    """Replaces conftest's fixture of this name: the library's defaults, an empty cache
    folder for the calibration, and the process default restored after each test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(calibration, "_STORED", {})
    saved = kernels.config()
    yield
    kernels.configure(**dataclasses.asdict(saved))


def _spikes(shape, p, seed=0):
    return (torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) < p).float()


def _store(density, identity=None, path=None, weight_grad=None):
    """A calibration file holding ``density`` (and the weight gradient's crossover
    ``weight_grad``, when given) for ``identity`` (default: this machine's)."""
    path = path or calibration.calibration_path()
    key = json.dumps(identity or calibration.machine_identity(), sort_keys=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = {"max_density": density}
    if weight_grad is not None:
        data[key]["weight_grad_density"] = weight_grad
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    calibration._STORED.clear()


# -- use and configure ----------------------------------------------------------------


def test_the_defaults():
    assert kernels.config() == DEFAULTS
    assert DEFAULTS.path == "auto" and DEFAULTS.max_density is None
    assert DEFAULTS.min_event_outputs == MIN_EVENT_OUTPUTS and DEFAULTS.check_finite
    assert 0.0 < EVENT_DENSITY < 1.0


def test_use_sets_the_block_and_restores_what_was_before_even_on_an_error():
    with kernels.use("reference", max_density=0.3) as inner:
        assert kernels.config() is inner
        assert inner.path == "reference" and inner.max_density == 0.3
        with kernels.use(threads=1):  # nested: the outer settings stay
            assert kernels.config().path == "reference" and kernels.config().threads == 1
        assert kernels.config().threads is None
        with pytest.raises(KeyError):
            with kernels.use(check_finite=False):
                raise KeyError("inside")
        assert kernels.config() is inner
    assert kernels.config() == DEFAULTS


def test_use_is_seen_by_its_own_thread_only():
    seen = []
    with kernels.use("reference"):
        worker = threading.Thread(target=lambda: seen.append(kernels.config().path))
        worker.start()
        worker.join()
    assert seen == ["auto"]


def test_configure_changes_the_process_default_under_any_later_use():
    got = kernels.configure(max_density=0.05, check_finite=False)
    assert got is kernels.config() and got.max_density == 0.05 and not got.check_finite
    with kernels.use(threads=2):
        assert kernels.config().max_density == 0.05 and kernels.config().threads == 2
    with kernels.use(min_event_outputs=8):
        kernels.configure(max_density=0.4)  # the block keeps the settings it started with
        assert kernels.config().max_density == 0.05
    assert kernels.config().max_density == 0.4


@pytest.mark.parametrize("settings", [
    {"path": "fast"}, {"max_density": -0.1}, {"max_density": float("nan")},
    {"min_event_outputs": 0}, {"min_event_outputs": 2.5}, {"check_finite": "yes"},
    {"threads": 0}, {"threads": 1.5}, {"buffer_pool_mb": -1.0}, {"density": 0.1},
], ids=lambda s: next(iter(s)))
def test_bad_settings_are_one_clear_error_and_change_nothing(settings):
    name = next(iter(settings))
    want = name if name != "density" else "takes the settings path, max_density"
    with pytest.raises(ParameterError, match=want):
        with kernels.use(**settings):
            pass  # pragma: no cover - refused before
    with pytest.raises(ParameterError, match=want):
        kernels.configure(**settings)
    assert kernels.config() == DEFAULTS


def test_check_finite_refuses_nan_input_unless_turned_off():
    x = torch.ones(4, 2, 3)
    x[2, 1, 0] = float("nan")
    with pytest.raises(ParameterError, match="'x'.*finite.*check_finite"):
        LIF()(x)
    with kernels.use(check_finite=False):
        out = LIF()(x)
    assert out.shape == x.shape


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_an_input_the_same_at_every_step_is_checked_once_and_still_refused(bad):
    from spikewave.coding.rate import direct_current
    from spikewave.nn import LinearLIF

    image = torch.rand(2, 30, generator=torch.Generator().manual_seed(0))
    x = direct_current(image, 7)  # a stride-0 view over time
    assert x.stride(0) == 0
    assert LinearLIF(30, 8)(x).shape == (7, 2, 8)
    image[1, 4] = bad
    with pytest.raises(ParameterError, match=f"'x'.*finite.*containing {bad}"):
        LinearLIF(30, 8)(x)


def test_the_thread_count_follows_the_configuration():
    from spikewave.kernels._threads import ITEMS_PER_THREAD, split_range, thread_count

    assert thread_count() == torch.get_num_threads()
    with kernels.use(threads=3):
        assert thread_count() == 3 and len(split_range(300)) == 3 * ITEMS_PER_THREAD


def test_a_torch_func_transform_takes_the_reference():
    x = torch.randn(2, 6, 3, 4, generator=torch.Generator().manual_seed(0))
    seen = []

    def f(xi):
        seen.append(multistep.lif_choice(xi, 0.9, LIFSpec()))
        return LIF()(xi)

    out = torch.func.vmap(f)(x)
    assert seen[0].path == "reference" and "torch.func" in seen[0].reason
    assert torch.equal(out, torch.stack([LIF()(xi) for xi in x]))


# -- explain --------------------------------------------------------------------------


def _network():
    torch.manual_seed(0)
    return torch.nn.Sequential(LinearLIF(80, 64, threshold=0.3), LinearLIF(64, 64),
                               SpikeLinear(64, 10), LeakyReadout())


def test_explain_reports_each_layer_s_path_and_why(monkeypatch):
    ran = []
    original = event_lif._forward_arrays
    monkeypatch.setattr(event_lif, "_forward_arrays",
                        lambda *a, **k: ran.append(a[0]) or original(*a, **k))
    net = _network()
    x = _spikes((12, 4, 80), 0.1)
    got = kernels.explain(net, x)
    assert [row[:2] for row in got.rows] == [("0", "LinearLIF"), ("1", "LinearLIF"),
                                             ("2", "SpikeLinear"), ("3", "LeakyReadout")]
    paths = got.paths()
    assert paths["0"] == "event" and ran[0] == (12, 4, 80)  # what it said is what ran
    assert paths["1"] in ("event", "fused")
    assert paths["2"] == "dense" and "min_event_outputs" in got.rows[2][2].reason
    assert paths["3"] == "reference"
    text = str(got)
    for name, kind, choice in got.rows:
        assert f"{name.ljust(1)}  {kind}: {choice.path} -- {choice.reason}" in text
    hidden = net[0](x)  # the second layer's own input gives the same answer
    assert got.rows[1][2] == net[1].kernel_choice(hidden)
    assert all(not m._forward_pre_hooks for m in net.modules())  # no hook left behind
    with kernels.use("reference"):
        assert set(kernels.explain(net, x).paths().values()) == {"reference", "dense"}


def test_explain_on_one_layer_and_on_a_module_without_spiking_layers():
    x = torch.rand(5, 2, 3, generator=torch.Generator().manual_seed(1))
    got = kernels.explain(LIF(), x)
    assert got.paths() == {"LIF": "fused"}
    none = kernels.explain(torch.nn.Identity(), x)
    assert none.rows == () and str(none) == "no spikewave layer in this module"
    with pytest.raises(ParameterError, match="module"):
        kernels.explain(LIF, x)


def test_configure_applies_a_lowered_pool_limit_at_once():
    from spikewave.kernels import _buffers as buffers

    buffers.clear()
    kept = [buffers.empty((1 << 19,), "float32") for _ in range(3)]  # 2 MiB each: pooled
    del kept
    assert buffers.held_bytes() >= 3 << 21
    kernels.configure(buffer_pool_mb=2.5)  # room for one (the fixture restores the default)
    assert (1 << 21) <= buffers.held_bytes() < 2 << 21
    kernels.configure(buffer_pool_mb=0)
    assert buffers.held_bytes() == 0


# -- calibration ----------------------------------------------------------------------


def test_without_a_calibration_the_limit_is_event_density():
    assert not calibration.calibration_path().exists()
    assert calibration.stored_density() is None
    assert density_limit(torch.zeros(64, 10), None) == EVENT_DENSITY


def test_the_calibration_is_read_for_this_machine_only(tmp_path):
    assert str(calibration.calibration_path()).startswith(str(tmp_path))
    mine = calibration.machine_identity()
    _store(0.35, dict(mine, cpu="another CPU"))
    _store(0.45, dict(mine, torch="0.0"))
    assert calibration.stored_density() is None
    _store(0.05)
    assert calibration.stored_density() == 0.05
    assert density_limit(torch.zeros(64, 10), None) == 0.05
    other_threads = mine["threads"] + 1
    with kernels.use(threads=other_threads):  # the thread count is part of the identity
        assert calibration.stored_density() is None
        assert density_limit(torch.zeros(64, 10), None) == EVENT_DENSITY


@pytest.mark.parametrize("content,stored", [
    ('{"%s": {"max_density": 0.1}}', 0.1),  # the control: a good entry is read
    ("not json", None), ("[0.1]", None), ('{"%s": {"max_density": 1.5}}', None),
    ('{"%s": {"max_density": "0.1"}}', None), ('{"%s": 0.1}', None)])
def test_a_bad_calibration_file_is_ignored(content, stored):
    path = calibration.calibration_path()
    path.parent.mkdir(parents=True)
    key = json.dumps(calibration.machine_identity(), sort_keys=True).replace('"', '\\"')
    path.write_text(content.replace("%s", key))
    assert calibration.stored_density() == stored
    want = EVENT_DENSITY if stored is None else stored
    assert density_limit(torch.zeros(64, 10), None) == want


def test_calibrate_stores_the_median_crossovers_beside_other_machines(monkeypatch):
    measured = {512: 0.1, 1024: 0.4, 2048: 0.25}
    weight_grad = {512: 0.12, 1024: 0.2, 2048: 0.3}
    limits = []  # the weight gradient's limit each training probe was given

    def probe(n_in, n_out, dtype, train, weight_grad_limit=None):
        assert train and n_in == n_out
        limits.append(weight_grad_limit)
        return measured[n_in]

    monkeypatch.setattr(calibration, "_probe", probe)
    monkeypatch.setattr(calibration, "_probe_weight_grad",
                        lambda n_in, n_out, dtype: weight_grad[n_in])
    _store(0.9, dict(calibration.machine_identity(), cpu="another CPU"))
    result = calibration.calibrate()
    assert result["max_density"] == 0.25 and result["per_width"] == measured
    assert result["weight_grad_density"] == 0.2
    assert result["weight_grad_per_width"] == weight_grad
    assert limits == [0.2, 0.2, 0.2]  # measured first, then used by the training probes
    data = json.loads(calibration.calibration_path().read_text())
    assert len(data) == 2  # the other machine's entry kept
    assert calibration.stored_density() == 0.25
    assert calibration.stored_weight_grad_density() == 0.2
    assert registry.weight_grad_limit() == 0.2
    assert kernels.calibrate(save=False)["max_density"] == 0.25


def test_the_weight_gradient_limit_is_the_calibration_or_the_constant():
    """An entry without the weight gradient's crossover (a file written before it was
    measured), or with a bad one, leaves the constant; a good one is used, and explain says
    which way a layer's weight gradient is taken with it."""
    assert registry.weight_grad_limit() == registry.WEIGHT_GRAD_DENSITY
    _store(0.3)  # max_density only
    assert calibration.stored_density() == 0.3
    assert calibration.stored_weight_grad_density() is None
    assert registry.weight_grad_limit() == registry.WEIGHT_GRAD_DENSITY
    layer = SpikeLinear(100, 64, max_density=0.9)
    x = _spikes((40, 100), 0.2)
    dense = f"weight gradient the dense product (over {registry.WEIGHT_GRAD_DENSITY:g} active)"
    assert dense in layer.kernel_choice(x).reason
    for bad in (1.5, -0.1, "0.5", None):
        _store(0.3, weight_grad=bad)
        assert calibration.stored_weight_grad_density() is None
        assert calibration.stored_density() == 0.3  # the other crossover still read
    _store(0.3, weight_grad=0.25)
    assert registry.weight_grad_limit() == 0.25
    assert "weight gradient summed over them" in layer.kernel_choice(x).reason
    _store(0.3, weight_grad=0.15)
    assert "weight gradient the dense product (over 0.15 active)" in \
        layer.kernel_choice(x).reason


def test_the_weight_gradient_probe_measures_a_crossover():
    """The probe itself (small layers, so that it is quick): a density in [0, 1] from two
    timed densities of the sums over active inputs and one of the dense product."""
    value = calibration._probe_weight_grad(64, 64, torch.float32)
    assert isinstance(value, float) and 0.0 <= value <= 1.0


def test_no_layer_call_measures_anything(monkeypatch):
    def probe(*args):
        raise AssertionError("a timing probe ran during a layer call")

    monkeypatch.setattr(calibration, "_probe", probe)
    monkeypatch.setattr(calibration, "_probe_weight_grad", probe)
    layer = SpikeLinear(100, 64)
    for p in (0.05, 0.5):
        x = _spikes((20, 100), p)
        layer(x)
        assert layer.kernel_choice(x) == layer.kernel_choice(x)  # reproducible


# -- density limit precedence and min_event_outputs ------------------------------------


def test_the_density_limit_layer_over_use_over_calibration_over_event_density():
    w = torch.zeros(64, 100)
    assert density_limit(w, None) == EVENT_DENSITY
    _store(0.05)
    assert density_limit(w, None) == 0.05
    with kernels.use(max_density=0.3):
        assert density_limit(w, None) == 0.3
        assert density_limit(w, 0.02) == 0.02
    assert density_limit(w, 0.4) == 0.4
    kernels.configure(max_density=0.12)  # a process default is a configuration too
    assert density_limit(w, None) == 0.12


def test_the_path_a_layer_takes_follows_the_precedence():
    x = _spikes((20, 100), 0.1)
    layer = SpikeLinear(100, 64)
    want = torch.nn.functional.linear(x, layer.weight, layer.bias)
    _store(0.05)  # this machine's calibration: 10 % is too dense
    steps = [(None, {}, "dense"), (None, {"max_density": 0.3}, "event"),
             (0.02, {"max_density": 0.3}, "dense"), (0.5, {}, "event"),
             (None, {"max_density": 0.0}, "dense")]
    for own, settings, path in steps:
        layer.max_density = own
        with kernels.use(**settings):
            choice = layer.kernel_choice(x)
            assert choice.path == path, (own, settings)
            torch.testing.assert_close(layer(x), want, rtol=1e-5, atol=1e-5)
    assert "max_density is 0" in choice.reason


def test_min_event_outputs():
    x = _spikes((20, 100), 0.05)
    narrow, wide = SpikeLinear(100, MIN_EVENT_OUTPUTS - 1), SpikeLinear(100, MIN_EVENT_OUTPUTS)
    assert narrow.kernel_choice(x).path == "dense" and wide.kernel_choice(x).path == "event"
    narrow.max_density = 0.5  # the layer's own limit does not override the outputs rule
    assert narrow.kernel_choice(x).path == "dense"
    with kernels.use(min_event_outputs=MIN_EVENT_OUTPUTS + 1):
        choice = wide.kernel_choice(x)
        assert choice.path == "dense" and f"{MIN_EVENT_OUTPUTS + 1}" in choice.reason
    with kernels.use(min_event_outputs=1):
        assert narrow.kernel_choice(x).path == "event"
    seq = _spikes((10, 2, 100), 0.05)
    assert LinearLIF(100, 8).kernel_choice(seq).path == "fused"  # dense product + LIF
    assert LinearLIF(100, 64).kernel_choice(seq).path == "event"
