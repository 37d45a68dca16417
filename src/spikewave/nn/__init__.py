"""PyTorch spiking layers for surrogate-gradient training on ``[T, B, ...]`` tensors."""

from spikewave.nn.delays import DelayedLinear as DelayedLinear
from spikewave.nn.delays import LearnableDelayLinear as LearnableDelayLinear
from spikewave.nn.neurons import ALIF as ALIF
from spikewave.nn.neurons import LIF as LIF
from spikewave.nn.neurons import CurrentLIF as CurrentLIF
from spikewave.nn.neurons import LeakyReadout as LeakyReadout
from spikewave.nn.neurons import LinearLIF as LinearLIF
from spikewave.nn.neurons import RecurrentLIF as RecurrentLIF
from spikewave.nn.neurons import SpikeLinear as SpikeLinear
from spikewave.nn.neurons import TimeDistributed as TimeDistributed
from spikewave.nn.surrogate import SURROGATES as SURROGATES
from spikewave.nn.surrogate import ATan as ATan
from spikewave.nn.surrogate import BandLimited as BandLimited
from spikewave.nn.surrogate import Boxcar as Boxcar
from spikewave.nn.surrogate import FastSigmoid as FastSigmoid
from spikewave.nn.surrogate import Sigmoid as Sigmoid
from spikewave.nn.surrogate import Surrogate as Surrogate
from spikewave.nn.surrogate import Triangle as Triangle

__all__ = ["ALIF", "ATan", "BandLimited", "Boxcar", "CurrentLIF", "DelayedLinear",
           "FastSigmoid", "LIF", "LeakyReadout", "LearnableDelayLinear", "LinearLIF",
           "RecurrentLIF", "SURROGATES", "Sigmoid", "SpikeLinear", "Surrogate",
           "TimeDistributed", "Triangle"]
