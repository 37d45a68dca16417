"""Surrogate-gradient training: the loop (``fit``, on arrays, Datasets or DataLoaders),
losses, read-outs, models and the recipes of ``spikewave train``.
"""

from spikewave._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "fit": ".loop", "evaluate": ".loop", "TrainConfig": ".loop", "TrainResult": ".loop",
    "TrainingDiverged": ".loop", "spike_count_ce": ".losses", "max_over_time_ce": ".losses",
    "mean_potential_ce": ".losses", "first_spike_ce": ".losses", "LinearReadout": ".readout",
    "SpikingSequential": ".models", "dense_snn": ".models", "conv_snn": ".models",
    "recurrent_snn": ".models", "delay_snn": ".models", "build": ".recipes",
    "EProp": ".eprop", "OnlineStep": ".eprop", "TrainTest": ".datasets",
})
