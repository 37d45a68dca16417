"""Neural codes: rate (Bernoulli spikes, direct current), latency (time to first spike,
spike waves) and the DoG retina of the STDP vision models.
"""

from spikewave._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "bernoulli_spikes": ".rate", "direct_current": ".rate", "intensity_to_latency": ".latency",
    "spike_wave": ".latency", "first_spike_times": ".latency", "latency_spikes": ".latency",
    "dog_kernel": ".retina", "dog_filter": ".retina", "local_normalization": ".retina",
})
