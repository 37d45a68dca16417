"""Reward-modulated STDP (Mozafari et al. 2019): learn from right and wrong decisions.

The decision neuron that fired first (or, if all fire at the end, the one with the largest
potential) names the class. If the class is right the winner's weights get STDP -- the
ordinal rule of :func:`~spikewave.plasticity.stdp.ordinal_stdp_update` with rates
``(reward_plus, reward_minus)``; if wrong they get anti-STDP -- the same rule with rates
``(punish_plus, punish_minus)`` of opposite signs. No stabiliser; weights bounded in
``[w_min, w_max]``. With ``adaptive`` rates, after each batch the reward rates are scaled by
the batch's miss fraction and the punishment rates by its hit fraction, so a network that is
mostly right stops being pushed by its rare successes and listens to its errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from spikewave._numba import njit
from spikewave._validation import REAL, Params, fail, param


@dataclass(frozen=True)
class RSTDPParams(Params):
    """Rates and bounds of R-STDP (defaults: SpykeTorch's MozafariDeep decision layer)."""

    reward_plus: float = param(0.004, REAL, "potentiation rate on reward (> 0)")
    reward_minus: float = param(-0.003, REAL, "depression rate on reward (< 0)")
    punish_plus: float = param(-0.004, REAL, "rate for pre-before-post on punishment (< 0)")
    punish_minus: float = param(0.0005, REAL, "rate for the others on punishment (> 0)")
    w_min: float = param(0.2, REAL, "lower weight bound")
    w_max: float = param(0.8, REAL, "upper weight bound")
    adaptive: bool = True

    def _check_consistency(self) -> None:
        owner = "RSTDPParams"
        if self.reward_plus <= 0 or self.reward_minus >= 0:
            raise fail("reward_plus" if self.reward_plus <= 0 else "reward_minus",
                       self.reward_plus if self.reward_plus <= 0 else self.reward_minus,
                       "reward_plus > 0 and reward_minus < 0 (reward is STDP)", owner)
        if self.punish_plus >= 0 or self.punish_minus <= 0:
            raise fail("punish_plus" if self.punish_plus >= 0 else "punish_minus",
                       self.punish_plus if self.punish_plus >= 0 else self.punish_minus,
                       "punish_plus < 0 and punish_minus > 0 (punishment is anti-STDP)", owner)
        if not self.w_max > self.w_min:
            raise fail("w_max", self.w_max, f"above w_min = {self.w_min:g}", owner)
        if not isinstance(self.adaptive, bool):
            raise fail("adaptive", self.adaptive, "True or False", owner)


def adapted_rates(p: RSTDPParams, hit_fraction: float, miss_fraction: float
                  ) -> tuple[float, float, float, float]:
    """``(reward_plus, reward_minus, punish_plus, punish_minus)`` after a batch with the
    given hit and miss fractions (unchanged when ``p.adaptive`` is False)."""
    for name, v in (("hit_fraction", hit_fraction), ("miss_fraction", miss_fraction)):
        if not 0.0 <= v <= 1.0:
            raise fail(name, v, "a fraction in [0, 1]")
    if not p.adaptive:
        return p.reward_plus, p.reward_minus, p.punish_plus, p.punish_minus
    return (p.reward_plus * miss_fraction, p.reward_minus * miss_fraction,
            p.punish_plus * hit_fraction, p.punish_minus * hit_fraction)


@njit
def rstdp_weight(w, pre_fired, a_pre, a_other, w_min, w_max):  # pragma: no cover - compiled
    """One weight's R-STDP update, for compiled loops: the rule of
    :func:`~spikewave.plasticity.stdp.ordinal_stdp_update` without stabiliser,
    ``clip(w + (a_pre if pre_fired else a_other), w_min, w_max)`` -- ``(a_pre, a_other)``
    are ``(reward_plus, reward_minus)`` on reward, ``(punish_plus, punish_minus)`` on
    punishment. The same arithmetic as the PyTorch rule (tested), in ``w``'s precision
    when the rates and bounds are given in it."""
    return min(max(w + (a_pre if pre_fired else a_other), w_min), w_max)
