"""Plasticity rules, written once: STDP (additive, multiplicative, nearest-spike), the
ordinal STDP of the vision models, competition (winner-take-all) and reward-modulated STDP.
"""

from spikewave._lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "STDPParams": ".stdp", "stdp_window": ".stdp", "stdp_on_pre": ".stdp",
    "stdp_on_post": ".stdp", "apply_spike_pairs": ".stdp", "ordinal_stdp_update": ".stdp",
    "pointwise_inhibition": ".competition", "k_winners": ".competition",
    "RSTDPParams": ".reward", "adapted_rates": ".reward",
})
