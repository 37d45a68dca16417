"""Training on the embedded digits: target accuracy, checkpoints, bit-for-bit resume."""

import pytest
import torch

from spikewave import ParameterError
from spikewave.experiments import REPRODUCTIONS, RunContext
from spikewave.train.loop import TrainConfig, fit
from spikewave.train.recipes import build


@pytest.mark.slow
def test_surrogate_reproduction_reaches_97_percent_on_digits(tmp_path):
    ctx = RunContext(quick=True, seed=0, out_dir=tmp_path, progress=False)
    result = REPRODUCTIONS["surrogate"].execute(ctx)
    js = result.to_json()
    assert js["test_accuracy"] >= 0.97
    assert (tmp_path / "metrics.jsonl").exists() and (tmp_path / "training_curve.png").exists()


class Interrupted(Exception):
    pass


@pytest.mark.parametrize(("model", "augment"), [
    ("dense", None), pytest.param("dense", "shift", marks=pytest.mark.slow),
    pytest.param("delay", None, marks=pytest.mark.slow)])
def test_resume_continues_bit_for_bit(tmp_path, model, augment):
    from spikewave.data.augment import random_shift

    shift = (lambda x, gen: random_shift(x, 1, gen)) if augment else None

    def train(out, resume=False, stop_after=None):
        recipe = build("digits", model, 8, seed=1)
        cfg = TrainConfig(epochs=3, batch_size=128, lr=2e-3, seed=1)

        def stop(record):
            if record["epoch"] == stop_after:
                raise Interrupted

        fit(recipe.model, recipe.data, recipe.encode, cfg, out, resume=resume,
            progress=False, on_epoch_end=stop, augment=shift)
        return recipe.model.state_dict()

    straight = train(tmp_path / "a")
    with pytest.raises(Interrupted):
        train(tmp_path / "b", stop_after=2)   # "killed" after epoch 2
    resumed = train(tmp_path / "b", resume=True)
    for k in straight:
        assert torch.equal(straight[k], resumed[k]), k
    state = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2 and len(state["history"]) == 3


@pytest.mark.slow
def test_recurrent_model_learns_digits(tmp_path):
    from spikewave.nn import RecurrentLIF
    from spikewave.train.loop import TrainConfig, fit
    from spikewave.train.recipes import build
    recipe = build("digits", "recurrent", 8, seed=0)
    assert any(isinstance(m, RecurrentLIF) for m in recipe.model.modules())
    res = fit(recipe.model, recipe.data, recipe.encode,
              TrainConfig(epochs=4, batch_size=64, lr=2e-3, seed=0), tmp_path, progress=False)
    assert res.test_accuracy > 0.85  # 97.3 % after 15 epochs (README)


@pytest.mark.slow
def test_shd_recipe_on_made_up_files(tmp_path):
    """Two classes told apart by which channels fire: the SHD path learns them."""
    import h5py
    import numpy as np

    from spikewave.train.loop import TrainConfig, fit
    from spikewave.train.recipes import build

    rng = np.random.default_rng(0)
    for name, n in (("shd_train.h5", 80), ("shd_test.h5", 20)):
        labels = rng.integers(0, 2, n)
        with h5py.File(tmp_path / name, "w") as f:
            t = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
            u = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
            for i, lab in enumerate(labels):
                k = 60
                t[i] = np.sort(rng.uniform(0, 1.0, k)).astype(np.float32)
                u[i] = (rng.integers(0, 350, k) + 350 * lab).astype(np.uint16)
            f["labels"] = labels
    recipe = build("shd", "recurrent", 20, seed=0, data_dir=tmp_path)
    assert recipe.data.x_train.shape == (80, 20, 700) and recipe.data.n_classes == 20
    res = fit(recipe.model, recipe.data, recipe.encode,
              TrainConfig(epochs=5, batch_size=16, lr=5e-3, seed=0), tmp_path / "run",
              progress=False)
    assert res.test_accuracy >= 0.9
    delay = build("shd", "delay", 20, seed=0, data_dir=tmp_path)
    res = fit(delay.model, delay.data, delay.encode,
              TrainConfig(epochs=5, batch_size=16, lr=5e-3, seed=0), tmp_path / "delay",
              progress=False)
    assert res.test_accuracy >= 0.9
    with pytest.raises(ParameterError, match="'model'"):
        build("shd", "conv", 20, seed=0, data_dir=tmp_path)
    with pytest.raises(ParameterError, match="shd_train.h5"):
        build("shd", "dense", 20, seed=0, data_dir=tmp_path / "nowhere")


def test_nan_input_stops_with_epoch_and_batch_and_keeps_the_last_checkpoint(tmp_path):
    from spikewave.train.loop import TrainingDiverged

    recipe = build("digits", "dense", 4, seed=0)
    cfg = TrainConfig(epochs=2, batch_size=256, lr=2e-3, seed=0)
    order = torch.randperm(len(recipe.data.x_train),
                           generator=torch.Generator().manual_seed(0 * 1_000_003 + 1))
    clean = recipe.data.x_train.copy()
    recipe.data.x_train[int(order[300])] = float("nan")  # batch 2 of epoch 2's order
    # a first epoch on clean data writes the checkpoint that must survive
    good = type(recipe.data)(clean, recipe.data.y_train, recipe.data.x_test,
                             recipe.data.y_test, recipe.data.n_classes)
    fit(recipe.model, good, recipe.encode, TrainConfig(epochs=1, batch_size=256, lr=2e-3,
                                                       seed=0), tmp_path, progress=False)
    with pytest.raises(TrainingDiverged, match=r"batch 2 of epoch 2 .*NaN.*epoch 1\) is kept"):
        fit(recipe.model, recipe.data, recipe.encode, cfg, tmp_path, resume=True,
            progress=False)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 0 and all(torch.isfinite(v).all() for v in state["model"].values()
                                       if v.is_floating_point())


def test_nan_loss_names_epoch_and_batch(tmp_path):
    from spikewave.train.loop import TrainingDiverged

    recipe = build("digits", "dense", 4, seed=0)

    def poison(record):
        with torch.no_grad():
            list(recipe.model.parameters())[-1].fill_(float("nan"))  # the output layer

    with pytest.raises(TrainingDiverged, match=r"became nan.* at batch 1 of epoch 2"):
        fit(recipe.model, recipe.data, recipe.encode,
            TrainConfig(epochs=2, batch_size=256, seed=0), tmp_path, progress=False,
            on_epoch_end=poison)


def test_resuming_a_checkpoint_of_another_model_is_one_clear_error(tmp_path):
    cfg = TrainConfig(epochs=1, batch_size=256, seed=0)
    dense = build("digits", "dense", 4, seed=0)
    fit(dense.model, dense.data, dense.encode, cfg, tmp_path, progress=False)
    recurrent = build("digits", "recurrent", 4, seed=0)
    with pytest.raises(ParameterError, match="another model"):
        fit(recurrent.model, recurrent.data, recurrent.encode,
            TrainConfig(epochs=2, batch_size=256, seed=0), tmp_path, resume=True,
            progress=False)


@pytest.mark.slow
def test_delay_model_follows_its_width_schedule_and_learns_positions(tmp_path):
    from spikewave.nn import LearnableDelayLinear
    from spikewave.train.models import delay_sigma

    recipe = build("digits", "delay", 12, seed=0)   # delays of 0..3 steps
    layers = [m for m in recipe.model.modules() if isinstance(m, LearnableDelayLinear)]
    assert len(layers) == 2 and all(m.max_delay == 3 for m in layers)
    before = [m.position.detach().clone() for m in layers]
    seen = []

    def record(_):
        seen.append([m.sigma for m in layers])

    fit(recipe.model, recipe.data, recipe.encode,
        TrainConfig(epochs=3, batch_size=128, lr=2e-3, seed=0), tmp_path, progress=False,
        on_epoch_end=record)
    assert seen == [[pytest.approx(delay_sigma(e, 3, 1.5, 0.1))] * 2 for e in range(3)]
    assert seen[0][0] == pytest.approx(1.5) and seen[-1][0] == pytest.approx(0.1)
    assert seen[1][0] == pytest.approx((1.5 * 0.1) ** 0.5)   # geometric mean
    for m, p0 in zip(layers, before, strict=True):
        assert (m.position.detach() - p0).abs().max() > 1e-3   # the delays were trained
    with pytest.raises(ParameterError, match="time_steps"):
        build("digits", "delay", 3, seed=0)


@pytest.mark.parametrize(("args", "match"), [((3, 3, 1.0, 0.1), "epoch"),
                                             ((0, 0, 1.0, 0.1), "epochs"),
                                             ((0, 2, 0.0, 0.1), "sigma_start"),
                                             ((0, 2, 1.0, -1.0), "sigma_end")])
def test_delay_sigma_rejects_bad_input(args, match):
    from spikewave.train.models import delay_sigma

    with pytest.raises(ParameterError, match=match):
        delay_sigma(*args)


def test_spikes_between_layers_are_not_checked_for_nan_but_the_input_is():
    """SpikingSequential checks its input (the first layer) and the input of a layer fed
    by anything but a spiking layer; spikes between layers (0 or 1 by construction) are
    not read again for NaN."""
    from spikewave import kernels
    from spikewave.kernels.registry import NonFiniteInput
    from spikewave.train.models import dense_snn, initialise

    net = initialise(dense_snn(6, (12, 9), 3), torch.Generator().manual_seed(0))
    checked = []
    for module in (*net.layers, net.readout):
        module.register_forward_pre_hook(
            lambda m, args: checked.append(kernels.config().check_finite))
    x = torch.rand(4, 2, 6, generator=torch.Generator().manual_seed(1))
    net(x)
    # LinearLIF(input), LinearLIF(spikes), SpikeLinear(spikes), readout(currents)
    assert checked == [True, False, False, True]
    x[2, 1, 3] = float("nan")
    with pytest.raises(NonFiniteInput, match="'x'.*nan"):
        net(x)
