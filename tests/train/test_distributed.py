"""Data-parallel training (DistributedDataParallel, gloo, two CPU processes): the same
parameters as one process with the same global batch and sample order, a rank that dies
ends the run with a clear message, a two-process checkpoint resumed by one process; and
the sharding arithmetic."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from spikewave import ParameterError
from spikewave.train import distributed as ddp
from spikewave.train.checkpoint import load_checkpoint
from spikewave.train.loop import fit

sys.path.insert(0, str(Path(__file__).parent))
from ddp_run import config, small_recipe  # noqa: E402

SCRIPT = Path(__file__).with_name("ddp_run.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(out: Path, epochs: int, die_at: int = 0, world: int = 2):
    """The ranks of a run, each a subprocess with torchrun's environment."""
    src = str(Path(ddp.__file__).parents[2])
    port = str(_free_port())
    procs = []
    for rank in range(world):
        env = {**os.environ, "PYTHONPATH": src, "RANK": str(rank), "LOCAL_RANK": str(rank),
               "WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port,
               "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen([sys.executable, str(SCRIPT), str(out), str(epochs),
                                       str(die_at)], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    return procs


def _finish(procs, timeout_s: float = 120.0) -> list[tuple[int, str]]:
    done = []
    try:
        for p in procs:
            _, err = p.communicate(timeout=timeout_s)
            done.append((p.returncode, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return done


def test_two_processes_equal_one_and_resume_in_one(tmp_path):
    """After one epoch (seven steps, the last with one sample) two gloo processes hold the
    parameters of one process with the same global batches; their checkpoint, resumed by
    one process for a second epoch, ends where an uninterrupted one-process run ends."""
    procs = _launch(tmp_path / "two", epochs=1)
    recipe = small_recipe()
    after_first: dict = {}

    def keep(record):
        after_first.update({k: v.clone() for k, v in recipe.model.state_dict().items()})
        if record["epoch"] == 1:
            raise StopIteration

    with pytest.raises(StopIteration):
        fit(recipe.model, recipe.data, recipe.encode, config(2), tmp_path / "one",
            progress=False, on_epoch_end=keep)
    for code, err in _finish(procs):
        assert code == 0, err
    two = load_checkpoint(tmp_path / "two" / "checkpoint.pt")
    assert set(two["model"]) == set(after_first)
    for name, value in after_first.items():
        torch.testing.assert_close(two["model"][name], value, rtol=1e-5, atol=1e-6,
                                   msg=name)
    assert two["history"][0]["train_accuracy"] == pytest.approx(
        load_checkpoint(tmp_path / "one" / "checkpoint.pt")["history"][0]["train_accuracy"])

    # the single process continues the two-process checkpoint and the one-process one
    ends = []
    for name in ("two", "one"):
        r = small_recipe()
        fit(r.model, r.data, r.encode, config(2), tmp_path / name, resume=True,
            progress=False)
        ends.append(r.model.state_dict())
    moved = max(float((ends[1][k] - after_first[k]).abs().max()) for k in after_first)
    assert moved > 1e-3  # the second epoch changed the weights
    for k in ends[1]:
        torch.testing.assert_close(ends[0][k], ends[1][k], rtol=1e-5, atol=1e-6, msg=k)


@pytest.mark.slow
def test_a_rank_that_dies_ends_the_run_with_a_clear_message(tmp_path):
    start = time.monotonic()
    (code0, err0), (code1, _) = _finish(_launch(tmp_path / "run", epochs=1, die_at=3),
                                        timeout_s=90.0)
    assert code1 == 3
    assert code0 != 0
    assert "PeerFailure" in err0 and "another process of the data-parallel run" in err0, err0
    assert time.monotonic() - start < 90.0
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_share_splits_every_batch_into_contiguous_parts():
    for world in (1, 2, 3, 5):
        for n in (0, 1, 4, 7, 16):
            parts = [ddp.share(n, ddp.Distributed(r, world)) for r in range(world)]
            assert [i for p in parts for i in range(p.start, p.stop)] == list(range(n))
            assert max(p.stop - p.start for p in parts) - min(
                p.stop - p.start for p in parts) <= 1


def test_local_batch_weights_the_loss_to_the_global_mean():
    """sum over ranks of weight * (sum of the share's losses) / world = the global mean."""
    x = torch.arange(3 * 5, dtype=torch.float32).reshape(3, 5)  # [T, B]
    y = torch.arange(5)
    total = 0.0
    for rank in range(2):
        xs, ys, n, w = ddp.local_batch(x, y, ddp.Distributed(rank, 2))
        assert n == len(ys) and torch.equal(xs, x[:, ys])
        total += w * float(ys.float().sum()) / 2
    assert total == pytest.approx(float(y.float().mean()))
    xs, ys, n, w = ddp.local_batch(x[:, :1], y[:1], ddp.Distributed(1, 2))
    assert (n, w, xs.shape[1]) == (0, 0.0, 1)  # an empty share still runs, with weight 0


def test_a_global_batch_not_divisible_by_the_world_is_refused(tmp_path):
    recipe = small_recipe()
    with pytest.raises(ParameterError, match="batch_size.*multiple of the number of "
                                             "processes \\(3\\)"):
        fit(recipe.model, recipe.data, recipe.encode, config(1), tmp_path / "x",
            progress=False, dist=ddp.Distributed(0, 3))
    assert not (tmp_path / "x").exists()


def test_sync_batchnorm_is_refused_where_it_cannot_run():
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    two = ddp.Distributed(0, 2)
    with pytest.raises(ParameterError, match="sync_batchnorm.*--device cuda"):
        ddp.prepare_model(conv, two, "cpu", True)
    with pytest.raises(ParameterError, match="sync_batchnorm.*without BatchNorm"):
        ddp.prepare_model(torch.nn.Linear(2, 2), two, "cuda", True)
    assert ddp.prepare_model(conv, two, "cpu", False) is conv


def test_the_environment_of_a_bad_launch_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ParameterError, match="RANK must be in 0..1"):
        ddp.from_environment("cpu")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(ParameterError, match="MASTER_ADDR is not set"):
        ddp.from_environment("cpu")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert ddp.from_environment("cpu") == (ddp.SINGLE, "cpu")


@pytest.mark.slow
def test_torchrun_train_prints_one_json_line_from_rank_0(tmp_path):
    src = str(Path(ddp.__file__).parents[2])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "--master-port", str(_free_port()), "-m", "spikewave", "train", "--epochs", "1",
           "--time-steps", "4", "--batch-size", "32", "--out", str(tmp_path / "run"), "--json"]
    proc = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": src}, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert out["world_size"] == 2 and out["samples_per_s"] > 0
    assert out["config"]["batch_size"] == 32
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    bad = subprocess.run(cmd[:-5] + ["--batch-size", "33", "--out", str(tmp_path / "bad")],
                         env={**os.environ, "PYTHONPATH": src}, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode != 0
    assert "multiple of the number of processes (2)" in bad.stderr
    assert "spikewave: error: The 'batch_size' parameter" in bad.stderr
    assert not re.search(r'File ".*/spikewave/', bad.stderr)  # no traceback of ours
