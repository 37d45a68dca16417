"""PyTorch spiking layers for surrogate-gradient training on ``[T, B, ...]`` tensors.

Neuron layers (:mod:`~spikewave.nn.neurons`): :class:`LIF`, :class:`CurrentLIF`,
:class:`ALIF`, :class:`RecurrentLIF`, :class:`LeakyReadout`. Synaptic layers
(:mod:`~spikewave.nn.linear`, :mod:`~spikewave.nn.delays`): :class:`SpikeLinear`,
:class:`LinearLIF`, :class:`TimeDistributed`, :class:`DelayedLinear`,
:class:`LearnableDelayLinear`. The functional API: :mod:`spikewave.nn.functional`. The
surrogate gradients (:mod:`spikewave.surrogate`) are re-exported here.
"""

from spikewave._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "LIF": ".neurons", "CurrentLIF": ".neurons", "ALIF": ".neurons",
    "RecurrentLIF": ".neurons", "LeakyReadout": ".neurons",
    "SpikeLinear": ".linear", "LinearLIF": ".linear", "TimeDistributed": ".linear",
    "DelayedLinear": ".delays", "LearnableDelayLinear": ".delays",
    "Surrogate": "..surrogate", "FastSigmoid": "..surrogate", "ATan": "..surrogate",
    "Sigmoid": "..surrogate", "Triangle": "..surrogate", "Boxcar": "..surrogate",
    "BandLimited": "..surrogate", "SURROGATES": "..surrogate",
})
