"""How spikewave's discrete-time neurons map to NIR's continuous-time ones, and back.

NIR (Pedersen et al. 2024, the ``nir`` package 1.0) describes neurons by ODEs in seconds::

    LIF      tau dv/dt = (v_leak - v) + R I,      spike when v > v_threshold, then v = v_reset
    CubaLIF  tau_syn dI/dt = -I + w_in S,  then the LIF above driven by I
    LI       the LIF's ODE with no threshold
    IF       dv/dt = R I

spikewave's layers are discrete: ``V[t] = beta V[t-1] + x[t]``, a spike when ``V >= threshold``
(the tie fires), then ``V = 0`` (``reset="zero"``) or ``V - threshold`` (``"subtract"``).
With a time step ``dt`` (seconds per step) the two agree exactly when:

- **the input is held over the step.** ``x[t]`` is the current ``I`` during step ``t``, and it
  reaches the potential in that same step;
- **the decay is integrated as the reader integrates.** ``integration="exact"`` (the default):
  the ODE solved exactly over a step, ``beta = exp(-dt / tau)``; ``"euler"``: one forward
  Euler step, ``beta = 1 - dt / tau`` (what snnTorch and Norse do). A graph says nothing
  about its reader's integrator, so the writer must know it;
- **the input gain is one:** ``R = 1 / (1 - beta)`` (in both integrations, since then the
  step adds ``(1 - beta) R x = x``); for the current-based LIF also ``w_in = 1 / (1 -
  alpha)``; for the IF neuron, whose step adds ``dt R x``, ``R = 1 / dt``. The synaptic
  current is updated first and the membrane integrates the new current (the stage order of
  snnTorch's ``Synaptic`` and Norse's ``CubaLIF``);
- **the threshold tie is kept:** NIR fires at ``v > v_threshold``, spikewave at ``V >=
  threshold``; in a floating-point type both say the same when ``v_threshold`` is the largest
  number of that type below ``threshold`` (``numpy.nextafter``), which is what is written;
- **the reset is to a value:** NIR's neurons reset to ``v_reset``; spikewave's zero reset is
  ``v_reset = 0``; the subtract reset has no NIR form, and export refuses it;
- **a cycle carries the previous step:** a recurrent edge (a LIF feeding a Linear that feeds
  it back) delivers the spikes of step ``t - 1`` at step ``t``, as in every discrete
  simulator of NIR graphs.
"""

from __future__ import annotations

import numpy as np

from spikewave._validation import ParameterError

INTEGRATIONS = ("exact", "euler")
RESISTANCES = ("neuron", "weights")


class NIRError(ParameterError):
    """A network that NIR (or spikewave) cannot express exactly; the message names the layer
    or node and what to change."""


def tau_from_beta(beta: np.ndarray, dt: float, integration: str) -> np.ndarray:
    """The time constant (seconds) whose decay over ``dt`` is ``beta``: ``-dt / ln(beta)``
    (exact) or ``dt / (1 - beta)`` (Euler)."""
    beta = np.asarray(beta, dtype=np.float64)
    if integration == "exact":
        return -dt / np.log(beta)
    return dt / (1.0 - beta)


def beta_from_tau(tau: np.ndarray, dt: float, integration: str) -> np.ndarray:
    """The decay per step of time constant ``tau``: ``exp(-dt / tau)`` (exact) or ``1 - dt /
    tau`` (Euler)."""
    tau = np.asarray(tau, dtype=np.float64)
    if integration == "exact":
        return np.exp(-dt / tau)
    return 1.0 - dt / tau


def unit_gain(beta: np.ndarray) -> np.ndarray:
    """``R`` (or ``w_in``) for which a step with decay ``beta`` adds its input unscaled:
    ``1 / (1 - beta)``."""
    return 1.0 / (1.0 - np.asarray(beta, dtype=np.float64))


def threshold_to_nir(threshold: float, dtype: np.dtype) -> float:
    """NIR's ``v_threshold`` for spikewave's ``threshold`` in floating type ``dtype``: the
    largest number below it, so that ``v > v_threshold`` fires where ``v >= threshold``."""
    t = np.asarray(threshold, dtype=dtype)
    return float(np.nextafter(t, np.asarray(-np.inf, dtype=dtype)))


def threshold_from_nir(v_threshold: float, dtype: np.dtype) -> float:
    """spikewave's threshold for NIR's ``v_threshold`` in ``dtype``: the smallest number above
    it, so that ``V >= threshold`` fires where ``v > v_threshold``."""
    t = np.asarray(v_threshold, dtype=dtype)
    return float(np.nextafter(t, np.asarray(np.inf, dtype=dtype)))


def is_one(gain: np.ndarray, *stored: np.ndarray) -> bool:
    """Whether every gain (``R (1 - beta)``, computed in float64 from the ``stored`` arrays)
    is 1 within the precision of those arrays (4 units in the last place of the coarsest):
    a graph stored in float32 cannot say 1 more exactly."""
    eps = max((np.finfo(a.dtype).eps for a in map(np.asarray, stored)
               if np.issubdtype(a.dtype, np.floating)), default=np.finfo(np.float64).eps)
    return bool(np.all(np.abs(np.asarray(gain, dtype=np.float64) - 1.0) <= 4 * eps))
