"""Verified checkpoints and the output folder of a training run: content hash, structure,
finite weights, the schedule of a resumed run, orphan temporary files, the folder lock,
file modes, and what a failed run leaves behind."""

import io
import os
import pickle
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from spikewave import ParameterError
from spikewave._io import FolderLock
from spikewave._validation import DataError
from spikewave.data.digits import Split
from spikewave.train.checkpoint import load_checkpoint, save_checkpoint
from spikewave.train.loop import TrainConfig, fit


class Tiny(nn.Module):
    """A linear readout over two identical steps: ``(potentials [T, B, C], spikes)``."""

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.fc = nn.Linear(4, 3)
        with torch.no_grad():
            for p in self.fc.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)

    def forward(self, x):
        v = self.fc(x)
        return v, v.new_tensor(1.0)


def _data() -> Split:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1).astype(np.int64)
    return Split(x[:64], y[:64], x[64:], y[64:], 3)


def _encode(x, gen):
    return x.unsqueeze(0).expand(2, -1, -1)


def train(out, epochs, resume=False, on_epoch_end=None, lr=0.05):
    model = Tiny()
    result = fit(model, _data(), _encode, TrainConfig(epochs=epochs, batch_size=16, lr=lr,
                                                      seed=3), out, resume=resume,
                 progress=False, on_epoch_end=on_epoch_end)
    return model, result


# ----------------------------------------------------------------------------- schedule


def test_resume_with_more_epochs_continues_the_longer_schedule(tmp_path):
    _, straight = train(tmp_path / "four", 4)
    train(tmp_path / "cut", 2)
    weights = []
    model, resumed = train(tmp_path / "cut", 4, resume=True,
                           on_epoch_end=lambda r: weights.append(None))
    lrs = [h["lr"] for h in resumed.history]
    assert lrs[2:] == [h["lr"] for h in straight.history][2:]
    assert lrs[2] > 0.0 and lrs == sorted(lrs, reverse=True)
    assert len(weights) == 2 and resumed.epochs == 4


def test_epoch_three_of_a_resumed_run_learns(tmp_path):
    """The bug this guards against: the 2-epoch cosine reached 0, so epoch 3 of the
    resumed 4-epoch run did not move the weights at all."""
    train(tmp_path, 2)
    snapshots = []
    model = Tiny()

    def keep(record):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})

    before = load_checkpoint(tmp_path / "checkpoint.pt")["model"]
    fit(model, _data(), _encode, TrainConfig(epochs=4, batch_size=16, lr=0.05, seed=3),
        tmp_path, resume=True, progress=False, on_epoch_end=keep)
    assert not torch.equal(snapshots[0]["fc.weight"], before["fc.weight"])


def test_fewer_epochs_than_made_is_refused(tmp_path):
    train(tmp_path, 3)
    with pytest.raises(ParameterError, match="'epochs'.*at least the 3 epochs"):
        train(tmp_path, 2, resume=True)



class TinyLIF(nn.Module):
    """:class:`Tiny`'s readout after a LIF layer of the given reset."""

    def __init__(self, reset: str) -> None:
        super().__init__()
        from spikewave.nn import LIF

        self.lif = LIF(reset=reset)
        self.tiny = Tiny()

    def forward(self, x):
        return self.tiny(self.lif(3 * x))


def _fit_lif(out, reset, epochs, resume=False):
    return fit(TinyLIF(reset), _data(), _encode, TrainConfig(epochs=epochs, batch_size=16,
                                                            lr=0.05, seed=3),
               out, resume=resume, progress=False)


def test_resume_with_other_neurons_is_refused(tmp_path):
    """The weights alone do not show the neurons' reset: a run made with the zero reset
    is not continued with the subtract reset."""
    _fit_lif(tmp_path, "zero", 1)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["model_specs"][0][0] == "lif"
    with pytest.raises(ParameterError, match="'resume'.*layer 'lif' has .*reset='zero'.*"
                                             "reset='subtract'"):
        _fit_lif(tmp_path, "subtract", 2, resume=True)
    assert _fit_lif(tmp_path, "zero", 2, resume=True).epochs == 2


def _fit_steps(out, steps, epochs, resume=False, record=True):
    return fit(Tiny(), _data(), lambda x, gen: x.unsqueeze(0).expand(steps, -1, -1),
               TrainConfig(epochs=epochs, batch_size=16, lr=0.05, seed=3,
                           time_steps=steps if record else None), out,
               resume=resume, progress=False)


def test_resume_with_other_time_steps_is_refused(tmp_path):
    """The weights do not show the number of steps the run was trained on: a run of 2
    steps is not continued on 5 (nothing written); a run or a checkpoint that does not
    record its steps resumes whatever the other's."""
    _fit_steps(tmp_path, 2, 1)
    path = tmp_path / "checkpoint.pt"
    assert load_checkpoint(path)["config"]["time_steps"] == 2
    before = path.read_bytes()
    with pytest.raises(ParameterError, match=r"'resume'.*time_steps=2"):
        _fit_steps(tmp_path, 5, 2, resume=True)
    assert path.read_bytes() == before
    assert _fit_steps(tmp_path, 2, 2, resume=True).epochs == 2
    assert _fit_steps(tmp_path, 5, 3, resume=True, record=False).epochs == 3
    _rewrite(path, lambda s: s["config"].pop("time_steps"))  # of an earlier version
    assert _fit_steps(tmp_path, 5, 4, resume=True).epochs == 4


def test_checkpoint_without_neuron_specs_still_resumes(tmp_path):
    """A checkpoint of a version that did not record the specs resumes as before."""
    _fit_lif(tmp_path, "zero", 1)
    _rewrite(tmp_path / "checkpoint.pt", lambda s: s.pop("model_specs"))
    assert _fit_lif(tmp_path, "zero", 2, resume=True).epochs == 2


# ----------------------------------------------------------------------------- damaged files


def _rewrite(path: Path, change) -> None:
    """Load, change, and save again with a fresh (valid) content hash."""
    state = load_checkpoint(path)
    change(state)
    state.pop("checkpoint_format", None)
    save_checkpoint(path, state)


def _flip_tensor_byte(path: Path) -> None:
    state = torch.load(path, weights_only=True)
    needle = state["model"]["fc.weight"].numpy().tobytes()
    data = bytearray(path.read_bytes())
    at = bytes(data).find(needle)
    assert at > 0
    data[at + 5] ^= 0x01
    path.write_bytes(bytes(data))


def _write_raw(obj):
    def write(path: Path) -> None:
        buf = io.BytesIO()
        torch.save(obj, buf)
        path.write_bytes(buf.getvalue())
    return write


DAMAGE = {
    "garbage": lambda p: p.write_bytes(b"\x80\x04garbage" * 10),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    "empty": lambda p: p.write_bytes(b""),
    "a list": _write_raw([1, 2, 3]),
    "no hash": _write_raw({"model": {}, "epoch": 0}),
    "flipped tensor byte": _flip_tensor_byte,
    "no config": lambda p: _rewrite(p, lambda s: s.pop("config")),
    "no optimizer": lambda p: _rewrite(p, lambda s: s.pop("optimizer")),
    "epoch 'four'": lambda p: _rewrite(p, lambda s: s.update(epoch="four")),
    "epoch -3": lambda p: _rewrite(p, lambda s: s.update(epoch=-3)),
    "epoch beyond the run": lambda p: _rewrite(p, lambda s: s.update(epoch=7)),
    "short history": lambda p: _rewrite(p, lambda s: s.update(history=[])),
    "wrong shape": lambda p: _rewrite(p, lambda s: s["model"].update(
        {"fc.weight": torch.zeros(5, 4)})),
    "wrong dtype": lambda p: _rewrite(p, lambda s: s["model"].update(
        {"fc.weight": s["model"]["fc.weight"].double()})),
    "NaN weights": lambda p: _rewrite(p, lambda s: s["model"]["fc.weight"].fill_(float("nan"))),
    "inf in Adam's state": lambda p: _rewrite(p, lambda s: next(iter(
        s["optimizer"]["state"].values()))["exp_avg"].fill_(float("inf"))),
    "optimizer of another model": lambda p: _rewrite(p, lambda s: s["optimizer"].update(
        param_groups=[])),
    "config of another run": lambda p: _rewrite(p, lambda s: s["config"].update(seed=9)),
    "specs not pairs": lambda p: _rewrite(p, lambda s: s.update(model_specs=[["fc", 3]])),
    "specs of another model": lambda p: _rewrite(p, lambda s: s.update(
        model_specs=[["fc", "LIFSpec()"]])),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_checkpoint_is_refused_with_one_clear_error(tmp_path, damage):
    train(tmp_path, 1)
    path = tmp_path / "checkpoint.pt"
    DAMAGE[damage](path)
    with pytest.raises((DataError, ParameterError)) as err:
        train(tmp_path, 2, resume=True)
    assert "checkpoint" in str(err.value) or "resume" in str(err.value)


def test_crafted_pickle_runs_no_code(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"model": Evil()}, protocol=2))
        zf.writestr("archive/version", "3\n")
    (tmp_path / "checkpoint.pt").write_bytes(buf.getvalue())
    (tmp_path / "legacy.pt").write_bytes(pickle.dumps(Evil(), protocol=2))
    for name in ("checkpoint.pt", "legacy.pt"):
        with pytest.raises(DataError, match=name):
            load_checkpoint(tmp_path / name)
    assert not marker.exists()


def test_hash_covers_every_value(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"a": torch.arange(4.0), "b": {"c": [1, 2.5, "x", None, True]}})
    assert load_checkpoint(path)["b"]["c"] == [1, 2.5, "x", None, True]
    state = torch.load(path, weights_only=True)
    state["b"]["c"][1] = 2.5000001
    buf = io.BytesIO()
    torch.save(state, buf)
    path.write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="does not match its hash"):
        load_checkpoint(path)


# ----------------------------------------------------------------------------- the folder


def test_orphan_temporary_files_are_removed_on_the_next_write(tmp_path):
    train(tmp_path, 1)
    orphans = [tmp_path / ".checkpoint.pt.999999999.deadbeef.tmp",
               tmp_path / ".checkpoint.pt.k3j4_x9q.tmp", tmp_path / ".metrics.jsonl.abc.tmp"]
    for o in orphans:
        o.write_bytes(b"half a checkpoint")
    other = tmp_path / "notes.tmp"
    other.write_text("mine")
    train(tmp_path, 2, resume=True)
    assert not any(o.exists() for o in orphans) and other.exists()


def test_a_second_run_on_the_same_folder_is_refused(tmp_path):
    with FolderLock(tmp_path), pytest.raises(ParameterError, match="in use by another"):
        train(tmp_path, 1)
    assert not (tmp_path / "checkpoint.pt").exists()
    train(tmp_path, 1)  # released


def test_a_folder_locked_by_another_process(tmp_path):
    code = ("import sys, time; sys.path.insert(0, sys.argv[2]); from spikewave._io import "
            "FolderLock; lock = FolderLock(sys.argv[1]); lock.acquire(); print('held', "
            "flush=True); time.sleep(60)")
    src = str(Path(__import__("spikewave").__file__).parents[1])
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), src],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(ParameterError, match=rf"process {proc.pid}"):
            train(tmp_path, 1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    train(tmp_path, 1)  # the lock died with its process


def test_resume_without_a_checkpoint_creates_nothing(tmp_path):
    out = tmp_path / "a" / "b"
    with pytest.raises(ParameterError, match="'resume'"):
        train(out, 1, resume=True)
    assert not (tmp_path / "a").exists()


def test_a_run_failing_before_its_first_checkpoint_leaves_no_folder(tmp_path):
    out = tmp_path / "x" / "y"

    def broken(x, gen):
        raise RuntimeError("encoder failed")

    with pytest.raises(RuntimeError, match="encoder failed"):
        fit(Tiny(), _data(), broken, TrainConfig(epochs=1, batch_size=16), out, progress=False)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("out", ["", " "])
def test_empty_output_path_is_refused(out):
    with pytest.raises(ParameterError, match="'out_dir'"):
        train(out, 1)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_output_files_have_the_usual_mode(tmp_path, umask):
    old = os.umask(umask)
    try:
        train(tmp_path, 1)
    finally:
        os.umask(old)
    for name in ("checkpoint.pt", "metrics.jsonl", "training_curve.png"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


@pytest.mark.slow
def test_sigkill_at_any_moment_leaves_a_checkpoint_that_resumes_bit_identically(tmp_path):
    """A run killed at random moments (mid-epoch, mid-write) and resumed each time ends
    with exactly the weights of an uninterrupted run."""
    script = Path(__file__).with_name("checkpoint_run.py")
    src = str(Path(__import__("spikewave").__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": src}

    def run(out, resume, kill_after=None):
        args = [sys.executable, str(script), str(out), "1" if resume else "0"]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
        if kill_after is None:
            assert proc.wait(timeout=600) == 0
            return True
        try:
            proc.wait(timeout=kill_after)
            return proc.returncode == 0
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return False

    run(tmp_path / "straight", False)
    rng = np.random.default_rng(0)
    out = tmp_path / "killed"
    done = run(out, False, kill_after=float(rng.uniform(4, 8)))
    for _ in range(30):
        if done:
            break
        resume = (out / "checkpoint.pt").exists()
        done = run(out, resume, kill_after=float(rng.uniform(4, 9)))
    if not done:
        run(out, (out / "checkpoint.pt").exists())
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = load_checkpoint(out / "checkpoint.pt")
    assert a["epoch"] == b["epoch"]
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_the_lock_file_goes_with_the_run(tmp_path):
    train(tmp_path, 1)
    assert not (tmp_path / ".spikewave.lock").exists()
    (tmp_path / ".spikewave.lock").write_text("12345")  # left by a killed run
    train(tmp_path, 2, resume=True)
    assert not (tmp_path / ".spikewave.lock").exists()
