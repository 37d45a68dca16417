"""Spike trains, input generators and the exact event-driven engine.
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
})
