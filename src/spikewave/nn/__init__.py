"""PyTorch spiking layers for surrogate-gradient training on ``[T, B, ...]`` tensors.

Neuron layers (:mod:`~spikewave.nn.neurons`): :class:`LIF`, :class:`CurrentLIF`,
:class:`ALIF`, :class:`RecurrentLIF`, :class:`LeakyReadout`. Synaptic layers
(:mod:`~spikewave.nn.linear`, :mod:`~spikewave.nn.delays`): :class:`SpikeLinear`,
:class:`LinearLIF`, :class:`TimeDistributed`, :class:`DelayedLinear`,
:class:`LearnableDelayLinear`. The functional API: :mod:`spikewave.nn.functional`. The
surrogate gradients (:mod:`spikewave.surrogate`) are re-exported here.
"""

from spikewave.nn.delays import DelayedLinear as DelayedLinear
from spikewave.nn.delays import LearnableDelayLinear as LearnableDelayLinear
from spikewave.nn.linear import LinearLIF as LinearLIF
from spikewave.nn.linear import SpikeLinear as SpikeLinear
from spikewave.nn.linear import TimeDistributed as TimeDistributed
from spikewave.nn.neurons import ALIF as ALIF
from spikewave.nn.neurons import LIF as LIF
from spikewave.nn.neurons import CurrentLIF as CurrentLIF
from spikewave.nn.neurons import LeakyReadout as LeakyReadout
from spikewave.nn.neurons import RecurrentLIF as RecurrentLIF
from spikewave.surrogate import SURROGATES as SURROGATES
from spikewave.surrogate import ATan as ATan
from spikewave.surrogate import BandLimited as BandLimited
from spikewave.surrogate import Boxcar as Boxcar
from spikewave.surrogate import FastSigmoid as FastSigmoid
from spikewave.surrogate import Sigmoid as Sigmoid
from spikewave.surrogate import Surrogate as Surrogate
from spikewave.surrogate import Triangle as Triangle

__all__ = ["ALIF", "ATan", "BandLimited", "Boxcar", "CurrentLIF", "DelayedLinear",
           "FastSigmoid", "LIF", "LeakyReadout", "LearnableDelayLinear", "LinearLIF",
           "RecurrentLIF", "SURROGATES", "Sigmoid", "SpikeLinear", "Surrogate",
           "TimeDistributed", "Triangle"]
