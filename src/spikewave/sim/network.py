"""Recurrent networks of leaky integrate-and-fire neurons with current-based synapses: the
model, its assembly from projections, and its explicit state.

Every neuron obeys (``v`` in mV, ``t`` in ms)::

    tau_m dv/dt = E_L - v + I_exc + I_inh        (v held at V_reset while refractory)
    tau_exc dI_exc/dt = -I_exc,   tau_inh dI_inh/dt = -I_inh
    v > V_th (and not refractory): spike, v -> V_reset, refractory for t_ref

A synapse of weight ``w`` (mV) delivers ``I_exc += w`` or ``I_inh += w`` (its *port*)
``delay`` ms after its presynaptic spike; a port whose time constant is 0 is instantaneous
and delivers ``v += w`` instead. Inputs to ``v`` arriving while the neuron is refractory
are lost (the potential is clamped); the currents always integrate and receive input.
These are the semantics of Brian2's ``(unless refractory)`` flag on ``v`` -- its
conditional write drops synaptic writes to ``v`` during the refractory period -- and of
NEST's ``iaf_psc_delta``/``iaf_psc_exp``. Brian2's CUBA example is this model with
``tau_exc = 5``, ``tau_inh = 10`` ms; Brunel's (2000) model A with both ports
instantaneous.

An optional external drive (:class:`PoissonDrive`) gives every neuron ``n_inputs``
independent Poisson inputs of ``rate_hz`` and weight ``weight_mv`` on one port (Brian2's
``PoissonInput``; Brunel's external excitatory population).

Synapses may be plastic: the rule of :mod:`spikewave.plasticity.stdp` (one copy for every
engine) runs on a synapse's presynaptic spike *when it arrives* (after the delay, as
Brian2's ``on_pre``) and on its postsynaptic neuron's spikes; the delivered weight is the
weight at arrival.

Two engines run a :class:`Network` from a :class:`NetworkState` and return the state at
the end (so a long run can go block by block): :mod:`spikewave.sim.network_clock`
(clock-driven, exact integration per step) and :mod:`spikewave.sim.network_event`
(exact event-driven). The spikes whose inputs are still in flight at the end of a block
are part of the state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np

from spikewave._validation import (
    NON_NEGATIVE,
    POSITIVE,
    REAL,
    Params,
    check_array,
    check_choice,
    check_int,
    check_number,
    fail,
    param,
)
from spikewave.plasticity.stdp import STDPParams
from spikewave.sim.connectivity import Connectivity, csr_order

PORTS = {"exc": 0, "inh": 1}


@dataclass(frozen=True)
class NeuronParams(Params):
    """One population's LIF neuron with current-based synapses (defaults: Brunel 2000,
    model A, whose synapses are instantaneous)."""

    tau_m_ms: float = param(20.0, POSITIVE, "membrane time constant (ms)")
    e_l_mv: float = param(0.0, REAL, "resting potential (mV)")
    v_th_mv: float = param(20.0, REAL, "threshold (mV)")
    v_reset_mv: float = param(10.0, REAL, "reset potential (mV)")
    t_ref_ms: float = param(2.0, NON_NEGATIVE, "refractory period (ms)")
    tau_exc_ms: float = param(0.0, NON_NEGATIVE, "time constant of the 'exc' port (ms; 0: "
                              "instantaneous, the input jumps v)")
    tau_inh_ms: float = param(0.0, NON_NEGATIVE, "time constant of the 'inh' port (ms; 0: "
                              "instantaneous)")

    def _check_consistency(self) -> None:
        if self.v_th_mv <= self.v_reset_mv:
            raise fail("v_th_mv", self.v_th_mv, f"above v_reset_mv = {self.v_reset_mv:g} mV",
                       "NeuronParams")

    def port_tau_ms(self, port: int) -> float:
        return self.tau_exc_ms if port == 0 else self.tau_inh_ms


@dataclass(frozen=True)
class PoissonDrive(Params):
    """``n_inputs`` independent Poisson inputs of ``rate_hz`` onto every neuron."""

    n_inputs: float = param(1000.0, NON_NEGATIVE, "Poisson inputs per neuron")
    rate_hz: float = param(10.0, NON_NEGATIVE, "rate of each input (Hz)")
    weight_mv: float = param(0.1, REAL, "weight of each input (mV)")
    port: str = "exc"

    def _check_consistency(self) -> None:
        check_choice("port", self.port, PORTS, "PoissonDrive")
        if self.n_inputs != int(self.n_inputs):
            raise fail("n_inputs", self.n_inputs, "a whole number", "PoissonDrive")

    @property
    def total_rate_per_ms(self) -> float:
        """The rate of input events onto one neuron (1/ms)."""
        return self.n_inputs * self.rate_hz / 1000.0


@dataclass(frozen=True)
class Projection:
    """Synapses from neurons ``pre_start ..`` to ``post_start ..`` of a network.

    ``weight_mv`` and ``delay_ms`` are scalars or one value per synapse (in the
    connectivity's order); ``port`` is ``"exc"`` or ``"inh"``; ``stdp`` makes the synapses
    plastic (weights then stay within the rule's ``[w_min, w_max]``).
    """

    connectivity: Connectivity
    weight_mv: float | np.ndarray
    delay_ms: float | np.ndarray = 0.0
    port: str = "exc"
    pre_start: int = 0
    post_start: int = 0
    stdp: STDPParams | None = None


@dataclass(frozen=True)
class Network:
    """Neurons, the synapses of every projection merged in presynaptic-major order, and
    the drive. Build it with :meth:`build`."""

    n_neurons: int
    neuron: NeuronParams
    indptr: np.ndarray        # int64 [n + 1]: synapses of neuron i
    post: np.ndarray          # int32 [n_syn]
    port: np.ndarray          # int8 [n_syn]: 0 exc, 1 inh
    weight_mv: np.ndarray     # float64 [n_syn]: initial weights
    delay_ms: np.ndarray      # float64 [n_syn]
    plastic: np.ndarray       # bool [n_syn]
    stdp: STDPParams | None = None
    drive: PoissonDrive | None = None

    @property
    def n_synapses(self) -> int:
        return int(self.post.size)

    @property
    def pre(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_neurons, dtype=np.int32), np.diff(self.indptr))

    def destinations(self, port: np.ndarray | None = None) -> np.ndarray:
        """Where an input on each synapse's port (or on ``port``) goes, as int8: 1 into
        ``I_exc``, 2 into ``I_inh``, 0 into ``v`` (an instantaneous port)."""
        exponential = np.array([self.neuron.tau_exc_ms > 0, self.neuron.tau_inh_ms > 0])
        port = self.port if port is None else np.asarray(port, np.int64)
        return np.where(exponential[port], port + 1, 0).astype(np.int8)

    def with_weights(self, weight_mv, drive: PoissonDrive | None = None) -> Network:
        """The same synapses with other weights (a number or one per synapse) and drive
        (e.g. one connectivity for several regimes of a model)."""
        w = _per_synapse("weight_mv", weight_mv, self.n_synapses, REAL)
        weights = np.full(self.n_synapses, w) if np.ndim(w) == 0 else w.copy()
        plastic = weights[self.plastic]
        if self.stdp is not None and np.any((plastic < self.stdp.w_min) | (
                plastic > self.stdp.w_max)):
            raise fail("weight_mv", "plastic weights outside the rule's bounds",
                       f"weights in [{self.stdp.w_min:g}, {self.stdp.w_max:g}]")
        return replace(self, weight_mv=weights, drive=drive)

    def incoming_plastic(self) -> tuple[np.ndarray, np.ndarray]:
        """The plastic synapses grouped by postsynaptic neuron: ``(indptr, synapse ids)``."""
        n = self.n_neurons
        if self.stdp is None:
            return np.zeros(n + 1, np.int64), np.empty(0, np.int64)
        syn = np.flatnonzero(self.plastic)
        indptr, order = csr_order(self.post[syn], syn, n, max(self.n_synapses, 1))
        return indptr, syn[order]

    @classmethod
    def build(cls, n_neurons: int, neuron: NeuronParams, projections: list[Projection],
              drive: PoissonDrive | None = None) -> Network:
        """Merge ``projections`` into one synapse table (see :class:`Projection`)."""
        n = check_int("n_neurons", n_neurons, 1)
        rules = {p.stdp for p in projections if p.stdp is not None}
        if len(rules) > 1:
            raise fail("projections", f"{len(rules)} different STDP rules",
                       "one rule shared by every plastic projection")
        stdp = rules.pop() if rules else None
        parts = []
        for k, proj in enumerate(projections):
            c = proj.connectivity
            where = f"projections[{k}]"
            lo_pre = check_int(f"{where}.pre_start", proj.pre_start, 0, n - c.n_pre)
            lo_post = check_int(f"{where}.post_start", proj.post_start, 0, n - c.n_post)
            port = PORTS[check_choice(f"{where}.port", proj.port, PORTS)]
            w = _per_synapse(f"{where}.weight_mv", proj.weight_mv, c.n_synapses, REAL)
            d = _per_synapse(f"{where}.delay_ms", proj.delay_ms, c.n_synapses, NON_NEGATIVE)
            if proj.stdp is not None and np.any((np.asarray(w) < stdp.w_min) | (
                    np.asarray(w) > stdp.w_max)):
                raise fail(f"{where}.weight_mv", "weights outside the rule's bounds",
                           f"weights in [w_min, w_max] = [{stdp.w_min:g}, {stdp.w_max:g}]")
            parts.append((lo_pre, c, lo_post, port, w, d, proj.stdp is not None))
        parts.sort(key=lambda part: part[0])
        disjoint = all(a[0] + a[1].n_pre <= b[0] for a, b in pairwise(parts))
        m = sum(part[1].n_synapses for part in parts)
        post = np.empty(m, np.int32)
        port = np.empty(m, np.int8)
        weight = np.empty(m)
        delay = np.empty(m)
        plastic = np.empty(m, bool)
        pre = np.empty(m if not disjoint else 0, np.int32)
        at = 0
        for lo_pre, c, lo_post, port_k, w, d, is_plastic in parts:
            end = at + c.n_synapses
            np.add(c.post, lo_post, out=post[at:end], casting="unsafe")
            port[at:end] = port_k
            weight[at:end] = w
            delay[at:end] = d
            plastic[at:end] = is_plastic
            if not disjoint:
                np.add(c.pre, lo_pre, out=pre[at:end], casting="unsafe")
            at = end
        if disjoint:  # rows already in order: the concatenation is the CSR
            counts = np.zeros(n, np.int64)
            for lo_pre, c, *_ in parts:
                counts[lo_pre:lo_pre + c.n_pre] = c.out_degree()
            indptr = np.zeros(n + 1, np.int64)
            np.cumsum(counts, out=indptr[1:])
        else:
            indptr, order = csr_order(pre, post, n, n)
            post, port, weight, delay, plastic = (post[order], port[order], weight[order],
                                                  delay[order], plastic[order])
        return cls(n, neuron, indptr, post, port, weight, delay, plastic, stdp, drive)


def _per_synapse(name: str, value, n_syn: int, interval) -> float | np.ndarray:
    """A validated number, or array of one value per synapse."""
    if np.ndim(value) == 0:
        return check_number(name, value, interval)
    arr = check_array(name, value, ndim=1, interval=interval)
    if arr.shape != (n_syn,):
        raise fail(name, f"array of shape {arr.shape}", f"a number or one value per synapse "
                   f"({n_syn})")
    return arr


@dataclass(frozen=True)
class NetworkState:
    """Everything a run changes (arrays are never shared between states).

    ``weights_mv`` and the four STDP trace arrays hold one value per synapse when the
    network has plastic synapses; otherwise they are empty and the network's weights are
    used. ``recent_spike_ms``/``recent_spike_neurons`` are the last spikes, those whose
    synapses may still be in flight (a synapse of delay ``d`` delivers a spike at ``t`` at
    ``t + d``; every delivery at or after ``t_ms`` is still to come)."""

    v_mv: np.ndarray              # [n]
    i_exc_mv: np.ndarray          # [n]
    i_inh_mv: np.ndarray          # [n]
    last_spike_ms: np.ndarray     # [n], -inf: never fired
    weights_mv: np.ndarray        # [n_syn]
    pre_trace: np.ndarray         # [n_syn] STDP traces (value, time of value)
    pre_trace_ms: np.ndarray
    post_trace: np.ndarray
    post_trace_ms: np.ndarray
    recent_spike_ms: np.ndarray = field(default_factory=lambda: np.empty(0))
    recent_spike_neurons: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    t_ms: float = 0.0

    @classmethod
    def initial(cls, network: Network, v_mv: float | np.ndarray | None = None,
                t_ms: float = 0.0) -> NetworkState:
        """Currents at 0, nothing in flight, ``v`` given (default: the resting potential)."""
        n = network.n_neurons
        if v_mv is None:
            v = np.full(n, network.neuron.e_l_mv)
        else:
            v = check_array("v_mv", v_mv, ndim=(0, 1))
            v = np.full(n, float(v)) if v.ndim == 0 else v.copy()
            if v.shape != (n,):
                raise fail("v_mv", f"array of shape {v.shape}", f"a number or {n} values")
        m = network.n_synapses if network.stdp is not None else 0
        return cls(v, np.zeros(n), np.zeros(n), np.full(n, -np.inf),
                   network.weight_mv[:m].copy(), np.zeros(m), np.zeros(m), np.zeros(m),
                   np.zeros(m), t_ms=check_number("t_ms", t_ms))

    def copy(self) -> NetworkState:
        arrays = ("v_mv", "i_exc_mv", "i_inh_mv", "last_spike_ms", "weights_mv", "pre_trace",
                  "pre_trace_ms", "post_trace", "post_trace_ms", "recent_spike_ms",
                  "recent_spike_neurons")
        return replace(self, **{f: getattr(self, f).copy() for f in arrays})

    def check_against(self, network: Network) -> None:
        n = network.n_neurons
        m = network.n_synapses if network.stdp is not None else 0
        if self.v_mv.shape != (n,) or self.weights_mv.shape != (m,):
            raise fail("state", f"a state of {self.v_mv.size} neurons and "
                       f"{self.weights_mv.size} synapses", f"one of this network's {n} "
                       f"neurons and {m} synapses")


@dataclass(frozen=True)
class NetworkRun:
    """What a run returns: the state at its end, the spikes, the monitors and counts."""

    state: NetworkState
    spike_times_ms: np.ndarray    # in time order
    spike_neurons: np.ndarray     # int32
    record_times_ms: np.ndarray   # [n_rec]
    recorded_v_mv: np.ndarray     # [n_rec, len(record_neurons)]
    synaptic_events: int          # recurrent synaptic inputs delivered
    external_events: int          # Poisson-drive inputs delivered
    simulation_s: float           # wall time of the compiled loop

    def rates_hz(self, n_neurons: int, duration_ms: float) -> np.ndarray:
        counts = np.bincount(self.spike_neurons, minlength=n_neurons)
        return counts / (duration_ms / 1000.0)


def exact_propagators(neuron: NeuronParams, dt_ms: float) -> np.ndarray:
    """The exact one-step solution of the linear subthreshold system, as Brian2's
    ``method='exact'``: over ``dt``, with ``u = v - E_L``::

        u'     = u  exp(-dt/tau_m) + I_exc P_exc + I_inh P_inh
        P_s    = tau_s / (tau_s - tau_m) (exp(-dt/tau_s) - exp(-dt/tau_m))
                 (dt/tau_m exp(-dt/tau_m) when tau_s = tau_m)
        I_s'   = I_s exp(-dt/tau_s)

    Returns ``[exp(-dt/tau_m), P_exc, P_inh, D_exc, D_inh]`` (``P = D = 0`` for an
    instantaneous port)."""
    dt = check_number("dt_ms", dt_ms, POSITIVE)
    tau_m = neuron.tau_m_ms
    out = [math.exp(-dt / tau_m)]
    props, decays = [], []
    for tau in (neuron.tau_exc_ms, neuron.tau_inh_ms):
        if tau == 0.0:
            props.append(0.0)
            decays.append(0.0)
        elif tau == tau_m:
            props.append(dt / tau_m * math.exp(-dt / tau_m))
            decays.append(math.exp(-dt / tau))
        else:
            props.append(tau / (tau - tau_m) * (math.exp(-dt / tau) - math.exp(-dt / tau_m)))
            decays.append(math.exp(-dt / tau))
    return np.array(out + props + decays)
