"""Run by a Python that has snnTorch, Norse, nir and nirtorch (not by pytest): the peer side
of the NIR conformance tests (tests/nir/test_nir_peers.py).

    python peer_nir.py import FOLDER    for each FOLDER/<case>.<lib>.nir (lib: snntorch or
                                        norse) and FOLDER/<case>.x.pt, load the graph with
                                        the library's own NIR import, run it step by step
                                        and write FOLDER/<case>.<lib>.out.pt (the spikes
                                        [T, B, ...]) or <case>.<lib>.err.txt (why it failed)
    python peer_nir.py all FOLDER       both
    python peer_nir.py export FOLDER    build snnTorch networks (seeded), write each as
                                        FOLDER/<case>.snntorch-made.nir with snnTorch's
                                        export, its input <case>.x.pt and its own spikes
                                        <case>.snntorch-made.out.pt

snnTorch reads every graph with its fixed dt = 1e-4 s and steps by Euler; Norse reads with
the dt given in FOLDER/dt.txt and steps by Euler. Both map NIR's Flatten (whose dimensions
count from the first of one sample) to torch's Flatten (which counts the batch), so samples
are run one at a time.
"""

import contextlib
import io
import logging
import sys
import traceback
import warnings
from pathlib import Path

import torch

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)


def _quiet(fn, *args):
    """Call fn with its prints (snnTorch prints warnings) kept off standard output."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def _run_snntorch(graph, x):
    from snntorch.import_nir import import_from_nir

    outs = []
    for b in range(x.shape[1]):  # one sample at a time (see the module docstring)
        module = _quiet(import_from_nir, graph)
        state, spikes = None, []
        for x_t in x[:, b:b + 1]:
            out, state = module(x_t, state)
            spikes.append(out.reshape(1, -1))
        outs.append(torch.stack(spikes))
    return torch.cat(outs, dim=1)


def _run_norse(graph, x, dt):
    import norse.torch as norse

    outs = []
    for b in range(x.shape[1]):  # one sample at a time: its Flatten flattens the batch too
        module = _quiet(lambda: norse.from_nir(graph, ignore_warnings=True, dt=dt))
        state, spikes = None, []
        for x_t in x[:, b:b + 1]:
            out, state = module(x_t, state)
            spikes.append(out.reshape(1, -1))
        outs.append(torch.stack(spikes))
    return torch.cat(outs, dim=1)


def _inputs_first(graph):
    """The graph with its nodes listed from the inputs on (breadth first): nirtorch 2.6
    builds a recurrent subgraph twice, and fails, when a node comes before the nodes that
    feed it, and a .nir file lists its nodes alphabetically."""
    import nir

    order = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    for name in order:
        order += [b for a, b in graph.edges if a == name and b not in order]
    order += [k for k in graph.nodes if k not in order]
    graph.nodes = {k: graph.nodes[k] for k in order}
    return graph


def do_import(folder: Path) -> None:
    import nir

    dt = float((folder / "dt.txt").read_text()) if (folder / "dt.txt").exists() else 1e-3
    for path in sorted(folder.glob("*.nir")):
        case, lib = path.name.split(".")[:2]
        if lib not in ("snntorch", "norse"):
            continue
        x = torch.load(folder / f"{case}.x.pt")
        try:
            graph = _inputs_first(nir.read(path))
            with torch.no_grad():
                out = _run_snntorch(graph, x) if lib == "snntorch" else _run_norse(graph, x, dt)
            torch.save(out.detach(), folder / f"{case}.{lib}.out.pt")
        except Exception as exc:  # noqa: BLE001 - reported to the test, which decides
            (folder / f"{case}.{lib}.err.txt").write_text(
                f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")


def do_export(folder: Path) -> None:
    import nir
    import snntorch as snn
    from snntorch import utils as snn_utils
    from snntorch.export_nir import export_to_nir

    def leaky(shape, gen):
        beta = torch.empty(shape).uniform_(0.6, 0.97, generator=gen)
        return snn.Leaky(beta=beta, threshold=torch.full(shape, 0.8), init_hidden=True,
                         reset_mechanism="zero", reset_delay=False)

    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    nets = {
        "dense": (torch.nn.Sequential(torch.nn.Linear(12, 10), leaky((10,), gen),
                                      torch.nn.Linear(10, 6), leaky((6,), gen)), (12,)),
        "synaptic": (torch.nn.Sequential(torch.nn.Linear(12, 8), snn.Synaptic(
            alpha=torch.empty(8).uniform_(0.5, 0.9, generator=gen),
            beta=torch.empty(8).uniform_(0.6, 0.95, generator=gen),
            threshold=torch.full((8,), 0.8), init_hidden=True, reset_mechanism="zero",
            reset_delay=False)), (12,)),
        "recurrent": (torch.nn.Sequential(torch.nn.Linear(12, 8), snn.RLeaky(
            beta=torch.full((8,), 0.9), threshold=torch.full((8,), 0.8), linear_features=8,
            init_hidden=True, reset_mechanism="zero", reset_delay=False)), (12,)),
        "conv": (torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), leaky((3, 6, 6), gen),
                                     torch.nn.AvgPool2d(2), torch.nn.Flatten(),
                                     torch.nn.Linear(27, 5), leaky((5,), gen)), (1, 8, 8)),
    }
    for case, (net, shape) in nets.items():
        x = torch.rand(200, 3, *shape, generator=gen) * (0.6 if case != "conv" else 1.0)
        graph = _quiet(export_to_nir, net, torch.zeros(1, *shape), "snntorch", [], [0])
        nir.write(folder / f"{case}.snntorch-made.nir", graph)
        torch.save(x, folder / f"{case}.x.pt")
        outs = []
        with torch.no_grad():
            for b in range(x.shape[1]):
                snn_utils.reset(net)
                outs.append(torch.stack([net(x_t) for x_t in x[:, b:b + 1]]))
        torch.save(torch.cat(outs, dim=1), folder / f"{case}.snntorch-made.out.pt")


def do_all(folder: Path) -> None:
    do_export(folder)
    do_import(folder)


if __name__ == "__main__":
    {"import": do_import, "export": do_export, "all": do_all}[sys.argv[1]](Path(sys.argv[2]))
