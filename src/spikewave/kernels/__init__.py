"""The time loops of the spiking layers, and the one place that chooses how they run.

- :mod:`~spikewave.kernels.multistep` -- the multi-step functions (``lif``, ``alif``,
  ``linear_lif``, ...) that the layers call: each asks the registry for its path.
- :mod:`~spikewave.kernels.registry` -- the choice of path (reference, fused, event-driven,
  chunked, sparse-gradient) from the spec, dtype, device, input density and weight size;
  :func:`use` and :func:`configure` steer it, :func:`explain` says what runs and why.
- :mod:`~spikewave.kernels.reference` -- the PyTorch loops over the pure steps of
  :mod:`spikewave.neurons.steps`, against which every other path is tested.
- the compiled paths: :mod:`~spikewave.kernels.lif_fused`, :mod:`~spikewave.kernels.alif_fused`,
  :mod:`~spikewave.kernels.recurrent_fused`, :mod:`~spikewave.kernels.spike_linear`,
  :mod:`~spikewave.kernels.event_lif`, :mod:`~spikewave.kernels.chunked_lif`,
  :mod:`~spikewave.kernels.sparse_grad`.
"""

from spikewave.kernels.calibration import calibrate as calibrate
from spikewave.kernels.explain import Explanation as Explanation
from spikewave.kernels.explain import explain as explain
from spikewave.kernels.registry import Choice as Choice
from spikewave.kernels.registry import KernelConfig as KernelConfig
from spikewave.kernels.registry import config as config
from spikewave.kernels.registry import configure as configure
from spikewave.kernels.registry import use as use

__all__ = ["Choice", "Explanation", "KernelConfig", "calibrate", "config", "configure",
           "explain", "use"]
