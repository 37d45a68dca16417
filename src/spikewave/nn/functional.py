"""The functional API: pure single steps and multi-step functions over ``[T, B, ...]``.

Single steps, ``(x_t, state, ...) -> (outputs, state)`` (:mod:`spikewave.neurons.steps`):
:func:`lif_step`, :func:`current_lif_step`, :func:`alif_step`, :func:`recurrent_lif_step`,
:func:`leaky_step`. Multi-step functions, ``(x, ..., spec, state=None) -> (outputs, state)``,
each on the path the kernel registry chooses (:mod:`spikewave.kernels.multistep`):
:func:`lif`, :func:`current_lif`, :func:`alif`, :func:`recurrent_lif`, :func:`leaky`,
:func:`linear`, :func:`linear_lif`. Specs and states: :mod:`spikewave.neurons.specs`.

Example, a LIF layer written by hand::

    import torch
    from spikewave.nn import functional as F

    spec = F.LIFSpec(threshold=1.0, reset="subtract")
    x = torch.rand(100, 32, 64)                     # [T, B, N] input current
    spikes, state = F.lif(x, 0.9, spec)             # all steps at once
    s0, st = F.lif_step(x[0], F.LIFState(torch.zeros(32, 64)), 0.9, spec)
"""

from spikewave.kernels.multistep import alif as alif
from spikewave.kernels.multistep import current_lif as current_lif
from spikewave.kernels.multistep import leaky as leaky
from spikewave.kernels.multistep import lif as lif
from spikewave.kernels.multistep import linear as linear
from spikewave.kernels.multistep import linear_lif as linear_lif
from spikewave.kernels.multistep import recurrent_lif as recurrent_lif
from spikewave.neurons.specs import ALIFSpec as ALIFSpec
from spikewave.neurons.specs import ALIFState as ALIFState
from spikewave.neurons.specs import CurrentLIFState as CurrentLIFState
from spikewave.neurons.specs import DelayState as DelayState
from spikewave.neurons.specs import LeakyState as LeakyState
from spikewave.neurons.specs import LIFSpec as LIFSpec
from spikewave.neurons.specs import LIFState as LIFState
from spikewave.neurons.specs import RecurrentLIFState as RecurrentLIFState
from spikewave.neurons.steps import alif_step as alif_step
from spikewave.neurons.steps import current_lif_step as current_lif_step
from spikewave.neurons.steps import leaky_step as leaky_step
from spikewave.neurons.steps import lif_step as lif_step
from spikewave.neurons.steps import recurrent_lif_step as recurrent_lif_step

__all__ = ["ALIFSpec", "ALIFState", "CurrentLIFState", "DelayState", "LIFSpec", "LIFState",
           "LeakyState", "RecurrentLIFState", "alif", "alif_step", "current_lif",
           "current_lif_step", "leaky", "leaky_step", "lif", "lif_step", "linear",
           "linear_lif", "recurrent_lif", "recurrent_lif_step"]
