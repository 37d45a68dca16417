"""Spike trains, input generators, the exact event-driven engine, and networks of LIF
neurons with projections, delays and STDP (clock-driven or event-driven).
"""

from spikewave._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "SpikeTrains": ".spiketrains", "homogeneous_poisson": ".spiketrains",
    "inhomogeneous_poisson": ".spiketrains", "sort_spikes": ".spiketrains",
    "run_srm_network": ".eventdriven", "run_lif_network": ".eventdriven",
    "SRMNetworkState": ".eventdriven", "EventDrivenRun": ".eventdriven",
    "present_repeated": ".eventdriven", "repeat_times": ".eventdriven",
    "run_srm_network_clock": ".clockdriven", "spike_latencies_ms": ".analysis",
    "PatternInputParams": ".masquelier_input",
    "PatternInput": ".masquelier_input", "make_pattern_input": ".masquelier_input",
    # networks of populations
    "Network": ".network", "NeuronParams": ".network", "PoissonDrive": ".network",
    "Projection": ".network", "NetworkState": ".network", "NetworkRun": ".network",
    "Connectivity": ".connectivity", "bernoulli": ".connectivity",
    "fixed_indegree": ".connectivity", "run_clock": ".network_clock",
    "run_event": ".network_event",
    "firing_rates_hz": ".population_stats", "isi_cv": ".population_stats",
    "population_rate_hz": ".population_stats", "synchrony_chi": ".population_stats",
})
