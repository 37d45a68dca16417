"""NIR (the Neuromorphic Intermediate Representation, ``nir`` 1.0) export and import.

::

    from spikewave import nir as swnir
    graph = swnir.export(model, dt=1e-3, path="model.nir")   # spikewave -> NIR (and a file)
    net = swnir.load("model.nir")                             # NIR -> spikewave layers
    spikes = net(x)                                           # x[T, B, ...]

:func:`export` writes spikewave's layers as NIR nodes and refuses, naming the layer, what NIR
cannot express exactly (the subtract reset, adaptive thresholds, max pooling...);
:func:`load` builds spikewave layers from a graph written by spikewave, snnTorch, Norse or
any other writer, and refuses the nodes it cannot run exactly. The conventions (time step,
``tau`` and ``beta``, ``R``, the threshold tie, the reset, cycles) are in
:mod:`spikewave.nir.conventions` and in ``docs/guide/nir.md``. Needs the ``nir`` extra
(``pip install spikewave[nir]``).
"""

from spikewave._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "export": ".writer", "save": ".writer", "load": ".reader", "NIRNetwork": ".network",
    "NIRError": ".conventions", "INTEGRATIONS": ".conventions",
})
