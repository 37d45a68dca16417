"""Every layer of spikewave.nn passes spikewave.testing.check_layer. A layer added to the
package is covered by adding one line to LAYERS."""

import pytest
import torch

from spikewave import nn as snn
from spikewave.testing import check_layer

GEN = torch.Generator().manual_seed(0)


def _current(t=12, b=3, n=8):
    return torch.randn(t, b, n, generator=GEN, dtype=torch.float64) * 0.6 + 0.35


def _spikes(t=12, b=3, n=8, p=0.15):
    return (torch.rand(t, b, n, generator=GEN, dtype=torch.float64) < p).double()


def _seeded(make):
    def build():
        torch.manual_seed(0)  # nn.Linear's initialisation inside the layers
        return make()
    return build


# name: (layer factory, input factory, checks to skip with the reason)
LAYERS = {
    "LIF": (lambda: snn.LIF(tau_steps=5.0, threshold=0.8, learn_beta=True, n_neurons=8),
            _current, {}),
    "LIF-zero-reset": (lambda: snn.LIF(reset="zero", surrogate=snn.ATan(3.0),
                                       detach_reset=True), _current, {}),
    "CurrentLIF": (lambda: snn.CurrentLIF(tau_syn_steps=3.0, tau_steps=6.0, learn_beta=True,
                                          learn_alpha=True, n_neurons=8), _current, {}),
    "ALIF": (lambda: snn.ALIF(tau_steps=6.0, tau_adapt_steps=20.0, adaptation=0.3,
                              threshold=0.7, learn_beta=True, n_neurons=8), _current, {}),
    "RecurrentLIF": (lambda: snn.RecurrentLIF(8, rec_std=1.2, seed=1, tau_steps=6.0,
                                              learn_beta=True), _current, {}),
    "LinearLIF": (_seeded(lambda: snn.LinearLIF(8, 6, learn_beta=True, threshold=0.4,
                                                 max_density=0.5)), _spikes, {}),
    "LinearLIF-dense": (_seeded(lambda: snn.LinearLIF(8, 6, threshold=0.4)), _current, {}),
    "LinearLIF-chunked": (_seeded(lambda: snn.LinearLIF(8, 6, chunk_steps=5, threshold=0.4,
                                                         max_density=0.5)), _spikes, {}),
    "SpikeLinear": (_seeded(lambda: snn.SpikeLinear(8, 5, max_density=0.5)), _spikes, {}),
    "LeakyReadout": (lambda: snn.LeakyReadout(tau_steps=4.0, learn_beta=True, n_neurons=8),
                     _current, {}),
    "TimeDistributed": (_seeded(lambda: snn.TimeDistributed(torch.nn.Linear(8, 4))),
                        _current, {}),
    "DelayedLinear": (_seeded(lambda: snn.DelayedLinear(
        8, 4, torch.randint(0, 4, (4, 8), generator=torch.Generator().manual_seed(2)))),
        _spikes, {}),
    "LearnableDelayLinear": (_seeded(lambda: snn.LearnableDelayLinear(8, 4, 3, seed=1)),
                             _spikes, {}),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_conforms(name):
    make, make_input, skip = LAYERS[name]
    ran = check_layer(make(), make_input(), skip=skip)
    assert "step" in ran and "paths" in ran and "gradcheck" in ran


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*torch.jit.script_method.*:DeprecationWarning")
@pytest.mark.parametrize("name", ["LIF", "ALIF", "LinearLIF-dense", "RecurrentLIF"])
def test_layer_compiles_with_inductor(name):
    make, make_input, _ = LAYERS[name]
    ran = check_layer(make(), make_input(), compile_backends=("inductor",),
                      skip=[c for c in ("step", "state", "functional", "dtypes", "copies",
                                        "paths", "gradcheck", "fx", "vmap", "bad-input")])
    assert ran == ["compile"] or ran == ["compile", "cuda"]
