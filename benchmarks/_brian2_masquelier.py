"""Brian2 side of benchmarks/masquelier2008.py: the same neuron and STDP rule as the
ReScience replication (Hathway & Goodman 2018) written in Brian2's equations, timed on the
input saved by the caller. Run with a Python that has brian2 (the peers' venv)."""

import json
import sys
import time

import numpy as np
from brian2 import (
    Network,
    NeuronGroup,
    SpikeGeneratorGroup,
    SpikeMonitor,
    Synapses,
    __version__,
    defaultclock,
    device,
    ms,
    prefs,
    second,
    set_device,
)

standalone = len(sys.argv) > 2 and sys.argv[2] == "standalone"
if standalone:
    set_device("cpp_standalone", directory="brian2_standalone")
data = np.load(sys.argv[1])
times = data["times_ms"] / 1000.0
aff = data["afferents"].astype(int)
duration = float(np.ceil(times.max() * 10) / 10 + 0.1)
dt = 1e-4
defaultclock.dt = dt * second
# one spike per afferent per step, as Brian requires
order = np.lexsort((times, aff))  # by afferent, then time
t_sorted, a_sorted = times[order], aff[order]
close = np.zeros(times.size, bool)
same = a_sorted[1:] == a_sorted[:-1]
close[1:] = same & (np.diff(t_sorted) < dt)  # approximate: drop the later of close pairs
keep = np.ones(times.size, bool)
keep[order[close]] = False
times, aff = times[keep], aff[keep]
# Brian needs at most one spike per afferent per time step
bins = np.floor(times / dt).astype(np.int64)
_, first = np.unique(bins * (aff.max() + 1) + aff, return_index=True)
times, aff = times[np.sort(first)], aff[np.sort(first)]

T = 500.0
taum, taus = 10 * ms, 2.5 * ms
X = (2.5 / 10.0) ** (10.0 / (2.5 - 10.0))
A = -3 * T
eqs = """du/dt = (A*a)/taus + (X*x-u)/taum : 1
dx/dt = -x/taus : 1
da/dt = -a/taus : 1"""
inp = SpikeGeneratorGroup(2000, aff, times * second)
out = NeuronGroup(1, eqs, threshold="u > T", reset="x = 0\nu = 2*T\na = 1",
                  refractory=1 * ms, method="exact")
model = """wi : 1
dLTPtrace/dt = -LTPtrace / (16.8*ms) : 1 (event-driven)
dLTDtrace/dt = -LTDtrace / (33.7*ms) : 1 (event-driven)"""
on_pre = """x_post += wi
LTPtrace = 2.0**-5
wi = clip(wi + LTDtrace, 0, 1)
LTDtrace = 0"""
on_post = """LTDtrace = -0.85 * 2.0**-5
wi = clip(wi + LTPtrace, 0, 1)
LTPtrace = 0"""
syn = Synapses(inp, out, model=model, on_pre=on_pre, on_post=on_post)
syn.connect()
syn.wi = 0.475
mon = SpikeMonitor(out)
net = Network(inp, out, syn, mon)
if standalone:  # one run; Brian records the time of the simulation loop itself
    net.run(duration * second)
    elapsed, simulated, target = device._last_run_time, duration, "cpp_standalone"
else:
    net.run(10 * ms)  # build and compile
    start = time.perf_counter()
    net.run((duration - 0.01) * second)
    elapsed = time.perf_counter() - start
    simulated, target = duration - 0.01, prefs.codegen.target
print(json.dumps({"brian2_s": elapsed, "brian2_version": __version__,
                  "brian2_target": target, "brian2_simulated_s": simulated,
                  "brian2_output_spikes": int(mon.num_spikes)}))
