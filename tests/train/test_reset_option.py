"""``spikewave train --reset zero|subtract``: every model of the recipes takes the reset of
its LIF layers, and the zero-reset models export to NIR."""

import pytest
import torch

from spikewave.cli import TRAIN_RESETS, build_parser
from spikewave.neurons.specs import RESET_MODES
from spikewave.train.models import SPIKING
from spikewave.train.recipes import MODELS, build


@pytest.mark.parametrize("model", MODELS)
def test_every_model_takes_the_reset(model):
    reset = "zero"  # the default, subtract, is what the other training tests run
    recipe = build("digits", model, 8, seed=0, reset=reset)
    neurons = [m for m in recipe.model.modules() if isinstance(m, SPIKING)]
    assert neurons and all(m.spec.reset == reset for m in neurons)
    assert f"{reset} reset" in recipe.description


def test_cli_option():
    assert set(TRAIN_RESETS) == set(RESET_MODES)  # the lazy CLI's copy of the names
    parser, _ = build_parser()
    assert parser.parse_args(["train", "--reset", "zero"]).reset == "zero"
    assert parser.parse_args(["train"]).reset == "subtract"
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--reset", "half"])


def test_a_zero_reset_recipe_exports_to_nir():
    pytest.importorskip("nir", reason="the nir extra (pip install spikewave[nir])")
    from spikewave import nir as swnir

    recipe = build("digits", "dense", 8, seed=0, reset="zero")
    x = recipe.encode(torch.as_tensor(recipe.data.x_test[:4]), torch.Generator().manual_seed(0))
    net = swnir.load(swnir.export(recipe.model, dt=1e-3))
    with torch.no_grad():
        assert torch.equal(net(x), recipe.model(x)[0])
    with pytest.raises(swnir.NIRError, match="reset='zero'"):
        swnir.export(build("digits", "dense", 8, seed=0).model, dt=1e-3)
