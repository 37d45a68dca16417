"""What a fuzz case runs inside the worker: write the case's bytes to a file, read it with
the package, and return a small summary for the test to check (never a large array)."""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

_TMP: Path | None = None


def warm_up(torch_too: bool = False) -> None:
    """Import what the cases use before the memory cap is set."""
    global _TMP
    import h5py  # noqa: F401

    import spikewave.data.idx  # noqa: F401
    import spikewave.data.mnist  # noqa: F401
    import spikewave.data.nmnist  # noqa: F401
    import spikewave.data.nmnist_full  # noqa: F401
    import spikewave.data.shd  # noqa: F401
    import spikewave.neurons  # noqa: F401
    import spikewave.sim.spiketrains  # noqa: F401
    if torch_too:
        import torch

        torch.set_num_threads(1)
        import spikewave.cli  # noqa: F401
        import spikewave.data.download  # noqa: F401
        import spikewave.report  # noqa: F401
        import spikewave.train.checkpoint  # noqa: F401
        import spikewave.train.loop  # noqa: F401
        import spikewave.train.recipes  # noqa: F401
        from spikewave.experiments import REPRODUCTIONS

        for name in REPRODUCTIONS:  # their imports happen before the memory cap
            REPRODUCTIONS[name]
    _TMP = Path(tempfile.mkdtemp(prefix="spikewave-fuzz-"))
    os.chdir(_TMP)  # relative output paths of the CLI cases land here


def _accepted(fn, **kwargs) -> dict:
    """The keyword arguments ``fn`` takes (the targets also run against older versions of
    the package, to show that a test fails there)."""
    import inspect

    names = inspect.signature(fn).parameters
    return {k: v for k, v in kwargs.items() if k in names}


def _fresh() -> Path:
    assert _TMP is not None
    case = _TMP / "case"
    shutil.rmtree(case, ignore_errors=True)
    case.mkdir()
    return case


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def idx(data: bytes, name: str = "case.idx") -> dict:
    from spikewave.data.idx import read_idx

    path = _fresh() / name
    path.write_bytes(data)
    arr = read_idx(path)
    return {"shape": arr.shape, "dtype": str(arr.dtype), "sha": _digest(arr),
            "native": arr.dtype.isnative}


def mnist(files: dict[str, bytes], verify: bool = False) -> dict:
    from spikewave.data.mnist import load_mnist

    folder = _fresh() / "mnist"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    split = load_mnist("mnist", folder.parent, **_accepted(load_mnist, verify=verify))
    return {"x_train": split.x_train.shape, "x_test": split.x_test.shape,
            "y_train": split.y_train.tolist(), "y_test": split.y_test.tolist(),
            "x_range": (float(split.x_train.min(initial=0.0)),
                        float(split.x_train.max(initial=0.0))),
            "sha": _digest(split.x_train)}


def _events_summary(ev: np.ndarray) -> dict:
    return {"n": len(ev), "x_max": int(ev["x"].max(initial=0)), "y_max": int(ev["y"].max(
        initial=0)), "t_sorted": bool(np.all(np.diff(ev["t"]) >= 0)),
        "p": sorted(set(ev["p"].tolist())), "sha": _digest(ev)}


def nmnist_bin(data: bytes) -> dict:
    from spikewave.data.nmnist import read_events

    path = _fresh() / "case.bin"
    path.write_bytes(data)
    return _events_summary(read_events(path))


def nmnist_archive(data: bytes, time_steps: int = 3) -> dict:
    from spikewave.data.nmnist import load_slayer_archive

    path = _fresh() / "case.tar.gz"
    path.write_bytes(data)
    x_tr, y_tr, x_te, y_te = load_slayer_archive(path, time_steps,
                                                 **_accepted(load_slayer_archive, verify=False))
    return {"x_train": x_tr.shape, "x_test": x_te.shape, "y_train": y_tr.tolist(),
            "y_test": y_te.tolist(), "events": float(x_tr.sum() + x_te.sum()),
            "sha": _digest(x_tr)}


def nmnist_zip(data: bytes) -> dict:
    """Every recording of a ``Train.zip`` read by :class:`NMNISTDataset`."""
    from spikewave.data.nmnist_full import NMNISTDataset

    path = _fresh() / "Train.zip"
    path.write_bytes(data)
    ds = NMNISTDataset(path, "train")
    try:
        summaries = [_events_summary(ds[i][0]) for i in range(len(ds))]
    finally:
        ds.close()
    return {"labels": ds.labels.tolist(), "events": summaries}


def _shd_summary(path: Path) -> dict:
    from spikewave.data.shd import read_shd

    times, units, labels = read_shd(path)
    return {"n": len(labels), "labels": labels.tolist(),
            "lengths": [len(t) for t in times],
            "units_ok": all(u.size == 0 or (u.min() >= 0 and u.max() < 700) for u in units),
            "times_ok": all(t.size == 0 or (np.isfinite(t).all() and t.min() >= 0 and
                                            np.all(np.diff(t) >= 0)) for t in times),
            "sha": hashlib.sha256(b"".join(t.tobytes() + u.tobytes() for t, u in
                                           zip(times, units, strict=True))).hexdigest()[:16]}


def shd(data: bytes) -> dict:
    path = _fresh() / "case.h5"
    path.write_bytes(data)
    return _shd_summary(path)


def shd_structured(spec: dict) -> dict:
    """Build an SHD-like file from ``spec`` (field -> kind, shape, values) and read it."""
    import h5py

    path = _fresh() / "case.h5"
    with h5py.File(path, "w") as f:
        for key, field in spec.items():
            kind = field["kind"]
            if kind == "missing":
                continue
            if kind == "group":
                f.create_group(key)
            elif kind == "softlink":
                f[key] = h5py.SoftLink("/nowhere")
            elif kind == "vlen":
                n = field["n"]
                ds = f.create_dataset(key, (n,), dtype=h5py.vlen_dtype(np.dtype(field["base"])))
                for i, values in enumerate(field["values"][:n]):
                    with np.errstate(all="ignore"), warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        ds[i] = np.asarray(values, dtype=np.float64).astype(field["base"])
            elif kind == "empty_vlen":
                f.create_dataset(key, (field["n"],), dtype=h5py.vlen_dtype(
                    np.dtype(field["base"])))
            elif kind == "array":
                values = np.asarray(field["values"], dtype=np.float64)
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    data = values.astype(field["dtype"])
                f.create_dataset(key, data=data)
            elif kind == "declared":
                f.create_dataset(key, shape=tuple(field["shape"]), dtype=field["dtype"])
            elif kind == "string":
                f.create_dataset(key, data=np.asarray(field["values"], dtype="S8"))
            elif kind == "compound":
                dt = np.dtype([("a", "i4"), ("b", "f4")])
                f.create_dataset(key, data=np.zeros(field["n"], dt))
            elif kind == "scalar":
                f.create_dataset(key, data=field["value"])
    return _shd_summary(path)


def checkpoint(data: bytes, epochs: int = 3) -> dict:
    """Load a (mutated) training checkpoint of :func:`tiny_training` as ``--resume`` does."""
    import torch

    from spikewave.train.loop import TrainConfig, _resume

    path = _fresh() / "checkpoint.pt"
    path.write_bytes(data)
    model = tiny_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    cfg = TrainConfig(epochs=epochs, batch_size=8, lr=1e-3, seed=0)
    start, history = _resume(path, model, opt, cfg)
    return {"start": start, "history": len(history),
            "weights": {k: _digest(v.numpy()) for k, v in model.state_dict().items()}}


def tiny_model():
    import torch

    gen = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return model


def cli(argv: list[str]) -> dict:
    """``spikewave ARGV`` up to the point where work would start (see :func:`_stop_work`):
    returns the exit status, the last line of standard error and whether work began."""
    import contextlib
    import io

    import spikewave.cli as cli_module

    err = io.StringIO()
    out = io.StringIO()
    reached = _stop_work()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                status = cli_module.main(list(argv))
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 2
            except _Work:
                status = "work"
    finally:
        _restore_work(reached)
    lines = err.getvalue().strip().splitlines()
    return {"status": status, "stderr_lines": len(lines), "stderr": err.getvalue()[-2000:],
            "traceback": "Traceback" in err.getvalue(), "work": reached["hit"]}


class _Work(Exception):
    """Raised where a command would start its real work (the fuzz stops there)."""


_SAVED: dict[str, Any] = {}


def _stop_work() -> dict:
    """Replace the functions where ``train``, ``reproduce`` and ``data download`` start
    working by ones that record the call and raise :class:`_Work`."""
    import spikewave.cli as cli_module

    state = {"hit": False}

    def stop(*args, **kwargs):
        state["hit"] = True
        raise _Work

    recipes = importlib.import_module("spikewave.train.recipes")
    registry = importlib.import_module("spikewave.experiments.registry")
    download = importlib.import_module("spikewave.data.download")
    _SAVED.update(build=recipes.build, execute=registry.Reproduction.execute,
                  download=download.download, main=cli_module.main)
    recipes.build = stop
    registry.Reproduction.execute = stop
    download.download = stop
    return state


def _restore_work(state: dict) -> None:
    recipes = importlib.import_module("spikewave.train.recipes")
    registry = importlib.import_module("spikewave.experiments.registry")
    download = importlib.import_module("spikewave.data.download")
    recipes.build = _SAVED["build"]
    registry.Reproduction.execute = _SAVED["execute"]
    download.download = _SAVED["download"]


def _params(name: str):
    from spikewave.neurons import ALIFParams, HHParams, LIFParams

    return {"lif_fast": lambda: LIFParams(tau_m_ms=1e-20, t_ref_ms=0),
            "alif_fast": lambda: ALIFParams(lif=LIFParams(tau_m_ms=1e-20, t_ref_ms=0),
                                            theta_jump_mv=0.0),
            "lif": LIFParams, "hh": HHParams}[name]()


def simulation(module: str, function: str, params: str | None, args: tuple) -> str:
    """``module.function(params, *args)`` (``params`` named in :func:`_params`, or none)."""
    fn = getattr(importlib.import_module(module), function)
    result = fn(_params(params), *args) if params else fn(*args)
    return type(result).__name__


def die() -> None:
    """The worker ends at once without a reply, as a crash in a C library would end it."""
    os._exit(139)
