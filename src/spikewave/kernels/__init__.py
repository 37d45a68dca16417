"""Time loops of the spiking layers, behind one dispatch.

Every multi-step layer of :mod:`spikewave.nn` calls :func:`lif_multistep`; today it runs
the plain PyTorch reference (:mod:`spikewave.kernels.reference`), which steps the one LIF
update of the code base, :func:`spikewave.neurons.discrete_lif.lif_discrete_step`. Fused
kernels will register here and be tested for parity against the reference.
"""

from spikewave.kernels.reference import (
    alif_multistep_reference,
    leaky_integrate_reference,
    lif_multistep_reference,
    recurrent_lif_multistep_reference,
)

lif_multistep = lif_multistep_reference
leaky_integrate = leaky_integrate_reference
recurrent_lif_multistep = recurrent_lif_multistep_reference
alif_multistep = alif_multistep_reference

__all__ = ["alif_multistep", "leaky_integrate", "lif_multistep", "recurrent_lif_multistep"]
