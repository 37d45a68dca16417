"""spikewave: spiking neural networks, from the single neuron to trained networks.

The public API is re-exported here explicitly; submodules hold one concept each:

- :mod:`spikewave.neurons` -- LIF (continuous and discrete time), adaptive-threshold
  LIF, Hodgkin-Huxley, and the spike response model kernels of Masquelier et al. 2008.
- :mod:`spikewave.experiments` -- one module per reproduced result, each registered with
  the ``spikewave reproduce`` command.
"""

__version__ = "0.1.0"

from spikewave._validation import ParameterError as ParameterError

__all__ = ["ParameterError", "__version__"]
