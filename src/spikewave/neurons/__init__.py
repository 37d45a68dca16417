"""Neuron models: pure functions on explicit state, with frozen, validated parameter records.

- :mod:`~spikewave.neurons.lif` -- leaky integrate-and-fire in continuous time (exact
  event-driven solution and a clock-driven reference).
- :mod:`~spikewave.neurons.discrete_lif` -- the discrete-time LIF of the lecture,
  ``V[n+1] = beta V[n] + sum_j w_j S_j[n]``, on NumPy arrays or torch tensors.
- :mod:`~spikewave.neurons.adaptive` -- LIF with an adaptive threshold.
- :mod:`~spikewave.neurons.hodgkin_huxley` -- the squid-axon model, RK4 or exponential Euler.
- :mod:`~spikewave.neurons.srm` -- spike response model kernels of Masquelier et al. 2008.
"""

from spikewave.neurons.adaptive import ALIFParams as ALIFParams
from spikewave.neurons.adaptive import simulate_alif_clock as simulate_alif_clock
from spikewave.neurons.adaptive import simulate_alif_exact as simulate_alif_exact
from spikewave.neurons.discrete_lif import lif_discrete_run as lif_discrete_run
from spikewave.neurons.discrete_lif import lif_discrete_step as lif_discrete_step
from spikewave.neurons.hodgkin_huxley import HHParams as HHParams
from spikewave.neurons.hodgkin_huxley import simulate_hh as simulate_hh
from spikewave.neurons.lif import LIFParams as LIFParams
from spikewave.neurons.lif import lif_rate_hz as lif_rate_hz
from spikewave.neurons.lif import simulate_lif_clock as simulate_lif_clock
from spikewave.neurons.lif import simulate_lif_exact as simulate_lif_exact
from spikewave.neurons.srm import SRMParams as SRMParams

__all__ = [
    "ALIFParams",
    "HHParams",
    "LIFParams",
    "SRMParams",
    "lif_discrete_run",
    "lif_discrete_step",
    "lif_rate_hz",
    "simulate_alif_clock",
    "simulate_alif_exact",
    "simulate_hh",
    "simulate_lif_clock",
    "simulate_lif_exact",
]
