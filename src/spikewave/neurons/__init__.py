"""Neuron models: pure functions on explicit state, with frozen, validated parameter records.

- :mod:`~spikewave.neurons.lif` -- leaky integrate-and-fire in continuous time (exact
  event-driven solution and a clock-driven reference).
- :mod:`~spikewave.neurons.discrete_lif` -- the discrete-time LIF of the lecture,
  ``V[n+1] = beta V[n] + sum_j w_j S_j[n]``, on NumPy arrays or torch tensors.
- :mod:`~spikewave.neurons.adaptive` -- LIF with an adaptive threshold.
- :mod:`~spikewave.neurons.hodgkin_huxley` -- the squid-axon model, RK4 or exponential Euler.
- :mod:`~spikewave.neurons.srm` -- spike response model kernels of Masquelier et al. 2008.
- :mod:`~spikewave.neurons.specs` and :mod:`~spikewave.neurons.steps` -- the discrete-time
  models the spiking layers run: frozen specs, state records, one pure step per model.
"""

from spikewave._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "ALIFParams": ".adaptive", "simulate_alif_clock": ".adaptive",
    "simulate_alif_exact": ".adaptive", "lif_discrete_run": ".discrete_lif",
    "lif_discrete_step": ".discrete_lif", "beta_from_tau": ".discrete_lif",
    "HHParams": ".hodgkin_huxley", "simulate_hh": ".hodgkin_huxley", "LIFParams": ".lif",
    "lif_rate_hz": ".lif", "simulate_lif_clock": ".lif", "simulate_lif_exact": ".lif",
    "SRMParams": ".srm", "LIFSpec": ".specs", "ALIFSpec": ".specs", "LIFState": ".specs",
    "CurrentLIFState": ".specs", "ALIFState": ".specs", "RecurrentLIFState": ".specs",
    "LeakyState": ".specs", "DelayState": ".specs", "lif_step": ".steps",
    "current_lif_step": ".steps", "alif_step": ".steps", "recurrent_lif_step": ".steps",
    "leaky_step": ".steps",
})
