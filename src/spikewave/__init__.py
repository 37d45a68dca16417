"""spikewave: spiking neural networks, from the single neuron to trained networks.

The names most programs need are here, imported on first use (``import spikewave`` itself
loads no numerical library)::

    import spikewave as sw
    sw.simulate_lif_exact(sw.LIFParams(), 2.0, 100.0)     # neuron models
    sw.homogeneous_poisson(100, 20.0, 1000.0, seed=0)       # spike trains
    from spikewave import nn                                 # layers for training

Subpackages: :mod:`spikewave.neurons` (LIF exact and discrete, adaptive, Hodgkin-Huxley,
SRM), :mod:`spikewave.coding` (rate, latency, DoG retina), :mod:`spikewave.plasticity`
(STDP, competition, reward), :mod:`spikewave.sim` (spike trains, the exact event-driven
engine), :mod:`spikewave.nn` (spiking layers, :mod:`spikewave.nn.functional`),
:mod:`spikewave.kernels` (the registry of compiled paths: ``use``, ``explain``),
:mod:`spikewave.train` (``fit``), :mod:`spikewave.data` (readers),
:mod:`spikewave.experiments` (the reproductions), :mod:`spikewave.plot`,
:mod:`spikewave.testing` (conformance checks for layers).
"""

from spikewave._lazy import exports

__version__ = "0.2.0"

__getattr__, __dir__, __all__ = exports(__name__, {
    # errors
    "ParameterError": "._validation", "DataError": "._validation",
    "BudgetError": "._budget",
    # neuron models
    "LIFParams": ".neurons.lif", "simulate_lif_exact": ".neurons.lif",
    "simulate_lif_clock": ".neurons.lif", "lif_rate_hz": ".neurons.lif",
    "ALIFParams": ".neurons.adaptive", "simulate_alif_exact": ".neurons.adaptive",
    "simulate_alif_clock": ".neurons.adaptive",
    "HHParams": ".neurons.hodgkin_huxley", "simulate_hh": ".neurons.hodgkin_huxley",
    "SRMParams": ".neurons.srm",
    "lif_discrete_run": ".neurons.discrete_lif", "lif_discrete_step": ".neurons.discrete_lif",
    "beta_from_tau": ".neurons.discrete_lif",
    # spike trains and simulation
    "homogeneous_poisson": ".sim.spiketrains", "inhomogeneous_poisson": ".sim.spiketrains",
    "SpikeTrains": ".sim.spiketrains", "run_lif_network": ".sim.eventdriven",
    "run_srm_network": ".sim.eventdriven", "PatternInputParams": ".sim.masquelier_input",
    "make_pattern_input": ".sim.masquelier_input",
    # coding
    "direct_current": ".coding.rate", "bernoulli_spikes": ".coding.rate",
    "intensity_to_latency": ".coding.latency", "spike_wave": ".coding.latency",
    "dog_filter": ".coding.retina",
    # plasticity
    "STDPParams": ".plasticity.stdp", "stdp_window": ".plasticity.stdp",
    "RSTDPParams": ".plasticity.reward", "k_winners": ".plasticity.competition",
    # training and data
    "fit": ".train.loop", "TrainConfig": ".train.loop",
    "load_mnist": ".data.mnist", "load_digits_split": ".data.digits",
})
__all__ = [*__all__, "__version__"]
