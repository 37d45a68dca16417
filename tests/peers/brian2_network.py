"""Run by a Python that has Brian2 (not by pytest): a LIF network with current-based
synapses in Brian2, timed, its spikes saved.

    python brian2_network.py OUT.npz [--n-neurons 4000] [--duration-s 1] [--seed 0]
        [--target numpy|cython|standalone] [--threads 1] [--given IN.npz] [--workdir DIR]

Without ``--given`` it is the CUBA benchmark exactly as Brian2's example
``examples/CUBA.py`` defines it (Vogels & Abbott 2005; Brette et al. 2007, benchmark 2):
``--n-neurons N``, the first 80 % excitatory, connection probability
``0.02 * 4000 / N`` so that every neuron keeps an in-degree of 80 (64 + 16) on average.

``--given IN.npz`` runs another simulator's network instead: arrays ``params`` (tau_m,
E_L, V_th, V_reset, t_ref, tau_exc, tau_inh in ms and mV; a time constant of 0 makes that
port instantaneous: ``v += w``), ``pre, post, weight_mv, delay_ms, port`` (one per
synapse; port 0 exc, 1 inh) and ``v0_mv``; the same equations, with
``(unless refractory)`` on ``v`` only.

``--target``: Brian2's runtime targets (``numpy``, ``cython``: timed after a 10 ms run that
generates and compiles the code) or its C++ standalone device (the simulation loop is
timed by the generated program; code generation and compilation are reported apart).

Prints one JSON line: version, target, threads, simulation time, build time, spike count.
"""

import argparse
import json
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--n-neurons", type=int, default=4000)
    parser.add_argument("--duration-s", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", default="cython", choices=("numpy", "cython", "standalone"))
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--given", default=None)
    parser.add_argument("--workdir", default="brian2_standalone")
    args = parser.parse_args()

    import brian2
    from brian2 import (
        Network,
        NeuronGroup,
        SpikeMonitor,
        Synapses,
        defaultclock,
        device,
        ms,
        mV,
        prefs,
        second,
        seed,
        set_device,
    )

    if args.target == "standalone":
        set_device("cpp_standalone", directory=args.workdir, build_on_run=True)
        prefs.devices.cpp_standalone.openmp_threads = args.threads
    else:
        prefs.codegen.target = args.target
    seed(args.seed)
    defaultclock.dt = 0.1 * ms

    if args.given:
        given = np.load(args.given)
        tau_m, e_l, v_th, v_reset, t_ref, tau_e, tau_i = (float(x) for x in given["params"])
        n = int(given["v0_mv"].size)
    else:
        tau_m, e_l, v_th, v_reset, t_ref, tau_e, tau_i = 20.0, -49.0, -50.0, -60.0, 5.0, 5.0, 10.0
        n = args.n_neurons
    namespace = {"taum": tau_m * ms, "taue": max(tau_e, 1.0) * ms, "taui": max(tau_i, 1.0) * ms,
                 "Vt": v_th * mV, "Vr": v_reset * mV, "El": e_l * mV,
                 "we": (60 * 0.27 / 10) * mV, "wi": (-20 * 4.5 / 10) * mV, "n_exc": n * 4 // 5}
    eqs = """
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    """
    P = NeuronGroup(n, eqs, threshold="v>Vt", reset="v = Vr", refractory=t_ref * ms,
                    method="exact", namespace=namespace)
    P.ge = 0 * mV
    P.gi = 0 * mV
    pathways = []
    if args.given:
        P.v = given["v0_mv"] * mV
        for port, tau, var in ((0, tau_e, "ge"), (1, tau_i, "gi")):
            sel = given["port"] == port
            if not sel.any():
                continue
            target = var if tau > 0 else "v"
            syn = Synapses(P, P, model="w : volt", on_pre=f"{target} += w", namespace=namespace)
            syn.connect(i=given["pre"][sel].astype(np.int64),
                        j=given["post"][sel].astype(np.int64))
            syn.w = given["weight_mv"][sel] * mV
            syn.delay = given["delay_ms"][sel] * ms
            pathways.append(syn)
    else:
        P.v = "Vr + rand() * (Vt - Vr)"
        p = 0.02 * 4000 / n
        Ce = Synapses(P, P, on_pre="ge += we", namespace=namespace)
        Ci = Synapses(P, P, on_pre="gi += wi", namespace=namespace)
        Ce.connect("i<n_exc", p=p)
        Ci.connect("i>=n_exc", p=p)
        pathways = [Ce, Ci]
    mon = SpikeMonitor(P)
    net = Network(P, *pathways, mon)
    duration = args.duration_s * second
    start = time.perf_counter()
    if args.target == "standalone":
        net.run(duration)
        total = time.perf_counter() - start
        simulation = float(device._last_run_time)
        build = total - simulation
    else:
        warm = 10 * ms
        net.run(warm)  # generates and compiles the code
        build = time.perf_counter() - start
        start = time.perf_counter()
        net.run(duration - warm)
        simulation = (time.perf_counter() - start) * float(duration / (duration - warm))
    t_ms = np.asarray(mon.t / ms)
    i = np.asarray(mon.i)
    synapses = int(sum(len(s) for s in pathways))
    np.savez(args.out, t_ms=t_ms, i=i, synapses=synapses)
    print(json.dumps({"version": brian2.__version__, "target": args.target,
                      "threads": args.threads, "n_neurons": n, "duration_s": args.duration_s,
                      "simulation_s": simulation, "build_s": build, "spikes": int(i.size),
                      "synapses": synapses}))


if __name__ == "__main__":
    main()
