"""Reproductions: one module per reproduced result, each registered by one line below.

``REPRODUCTIONS[name].run(ctx, **options)`` returns a
:class:`~spikewave.experiments.registry.Result`; ``spikewave reproduce NAME`` calls it.
"""

from spikewave.experiments.registry import Registry, Reproduction, Result, RunContext

REPRODUCTIONS = Registry({
    "lif": "spikewave.experiments.lif_fi",
    "coincidence": "spikewave.experiments.coincidence",
    "hh": "spikewave.experiments.hh",
    "adaptive": "spikewave.experiments.adaptive",
    "rate-vs-spike": "spikewave.experiments.rate_vs_spike",
    "stdp-window": "spikewave.experiments.stdp_window",
    "masquelier2008": "spikewave.experiments.masquelier2008",
    "masquelier2009": "spikewave.experiments.masquelier2009",
    "surrogate": "spikewave.experiments.surrogate",
    "kheradpisheh2018": "spikewave.experiments.kheradpisheh2018",
    "mozafari2019": "spikewave.experiments.mozafari2019",
    "cuba": "spikewave.experiments.cuba",
    "brunel2000": "spikewave.experiments.brunel2000",
    "bptt-memory": "spikewave.experiments.bptt_memory",
    "energy": "spikewave.experiments.energy",
    "coding": "spikewave.experiments.coding",
    "regularization": "spikewave.experiments.regularization",
})

__all__ = ["REPRODUCTIONS", "Registry", "Reproduction", "Result", "RunContext"]
