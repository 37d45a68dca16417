"""The spikewave command: --json contract, report, one-line errors with exit status 2."""

import json
import subprocess
import sys

import pytest

from spikewave import __version__
from spikewave.cli import main
from spikewave.experiments import REPRODUCTIONS


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("lif", "coincidence", "hh", "adaptive", "rate-vs-spike", "stdp-window",
                 "masquelier2008", "masquelier2009"):
        assert name in out


def test_json_is_the_last_line(tmp_path, capsys):
    assert main(["reproduce", "coincidence", "--quick", "--json", "--out", str(tmp_path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    js = json.loads(last)
    assert js["name"] == "coincidence" and js["passed"] is True
    assert "boundary_max_abs_error_ms" in js
    assert (tmp_path / "coincidence_boundary.png").exists()


def test_table_without_json(tmp_path, capsys):
    assert main(["reproduce", "adaptive", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "first_isi_ms" in out and "pass" in out


def test_reproduce_all_writes_the_report(tmp_path, capsys):
    # exit status 0 even though a check fails (masquelier2009's successive coding): only
    # --strict turns failed checks into an error
    assert main(["reproduce", "all", "--quick", "--json", "--out", str(tmp_path)]) == 0
    js = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(js["results"]) == set(REPRODUCTIONS)
    html = (tmp_path / "index.html").read_text()
    n_figures = sum(len(r["figures"]) for r in js["results"].values())
    assert n_figures >= 7 and html.count("data:image/png;base64,") == n_figures
    for name in js["results"]:
        assert f'id="{name}"' in html


def test_strict_exit_status_on_a_failed_check(tmp_path, capsys):
    argv = ["reproduce", "lif", "--quick", "--dt-ms", "0.1", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert main([*argv, "--strict"]) == 1


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["reproduce", "nonsense"], "invalid choice"),
        (["reproduce", "lif", "--seed", "-3"], "'seed'"),
        (["reproduce", "lif", "--dt-ms", "-1"], "'dt_ms'"),
        (["reproduce", "coincidence", "--tau-ms", "nan"], "'tau_ms'"),
        (["reproduce", "adaptive", "--current-na", "0.5"], "'current_na'"),
        (["reproduce", "hh", "--scheme", "euler"], "invalid choice"),
        (["reproduce", "lif", "--seed", "x"], "invalid int"),
        (["reproduce", "kheradpisheh2018", "--grid", "0"], "'grid'"),
        (["reproduce", "kheradpisheh2018", "--labels-per-class", "ten"], "'labels_per_class'"),
        (["reproduce", "kheradpisheh2018", "--dataset", "mnist", "--data-dir", "/nonexistent"],
         "mnist files not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, needle, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "spikewave", *argv, "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert needle in err and "Traceback" not in err


def test_train_json_contract(tmp_path, capsys):
    argv = ["train", "--dataset", "digits", "--model", "dense", "--epochs", "2",
            "--time-steps", "4", "--out", str(tmp_path), "--json"]
    assert main(argv) == 0
    js = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("test_accuracy", "epochs", "epoch_s", "spikes_per_sample", "params"):
        assert key in js
    assert js["epochs"] == 2 and 0.0 <= js["test_accuracy"] <= 1.0
    assert main([*argv[:5], "--epochs", "3", "--time-steps", "4", "--out", str(tmp_path),
                 "--resume", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["epochs"] == 3


@pytest.mark.parametrize(
    ("argv", "needle"),
    [(["train", "--epochs", "0"], "'epochs'"), (["train", "--lr", "-1"], "'lr'"),
     (["train", "--device", "cuda"], "'device'"), (["train", "--resume"], "'resume'"),
     (["train", "--dataset", "imagenet"], "invalid choice")],
)
def test_train_bad_input(argv, needle, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "spikewave", *argv, "--out",
                           str(tmp_path / "x")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
