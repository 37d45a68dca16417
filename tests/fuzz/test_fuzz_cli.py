"""Command lines as a careless or hostile user types them: exit status 0 (help, version,
list), or 2 with one line and no traceback, or the command reaches its work (stopped there,
see fuzz_targets.cli) -- never a Python traceback, never an empty output folder or a
half-written file left behind.

The cases run in this process: argument checking allocates nothing that needs a cap.
"""

import os

import fuzz_targets
from fuzz_harness import COUNTS, fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

LONG = "x" * 5000
OUTS = ["", " ", "run", "a/b/c", "/proc/spikewave", "/sys/x", "existing-file", "existing-file/x",
        LONG, "a\x00b", ".", "ok/" + "y" * 300]
NUMBERS = st.one_of(st.integers(-3, 2**33).map(str), st.sampled_from(
    ["nan", "inf", "-inf", "1e-300", "1e308", "0", "-0", "x", "", "1e12", "4294967296"]),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr))
DEVICES = ["cpu", "cuda", "cuda:7", "gpu", "GPU", "meta", "", "foo", "cpu:1", "cuda:-1", "mps"]


def opt(name, values):
    return st.tuples(st.just(name), values)


TRAIN = [opt("--seed", NUMBERS), opt("--device", st.sampled_from(DEVICES)),
         opt("--epochs", NUMBERS), opt("--lr", NUMBERS), opt("--batch-size", NUMBERS),
         opt("--time-steps", NUMBERS), opt("--out", st.sampled_from(OUTS)),
         opt("--dataset", st.sampled_from(["digits", "mnist", "mnsit", "shd", "imagenet"])),
         opt("--model", st.sampled_from(["dense", "conv", "delay", "lstm"])),
         opt("--data-dir", st.sampled_from(["/nonexistent", ".", "existing-file"])),
         st.just(("--resume",)), st.just(("--json",)), st.just(("--no-verify",)),
         st.just(("--epoch", "3"))]
REPRODUCE = {
    "lif": [opt("--dt-ms", NUMBERS)],
    "adaptive": [opt("--dt-ms", NUMBERS), opt("--current-na", NUMBERS)],
    "hh": [opt("--dt-ms", NUMBERS), opt("--scheme", st.sampled_from(["rk4", "euler"]))],
    "masquelier2008": [opt("--duration-s", NUMBERS), opt("--runs", NUMBERS),
                       opt("--jitter-ms", NUMBERS)],
    "kheradpisheh2018": [opt("--svm-c", NUMBERS), opt("--grid", NUMBERS),
                         opt("--labels-per-class", st.sampled_from(["10,all", "0", "ten"]))],
    "coincidence": [opt("--tau-ms", NUMBERS)],
    "all": [],
}
COMMON = [opt("--seed", NUMBERS), opt("--out", st.sampled_from(OUTS)), st.just(("--quick",)),
          st.just(("--json",)), st.just(("--strict",))]


@st.composite
def argvs(draw):
    command = draw(st.sampled_from(["train", "reproduce", "data", "list", "--version", "trian",
                                    "reproduce-typo"]))
    if command == "train":
        parts = draw(st.lists(st.sampled_from(TRAIN), max_size=4))
        argv = ["train"]
    elif command == "reproduce":
        name = draw(st.sampled_from([*REPRODUCE, "lfi", "masquelier"]))
        parts = draw(st.lists(st.sampled_from(REPRODUCE.get(name, []) + COMMON), max_size=4))
        argv = ["reproduce", name]
    elif command == "data":
        parts = draw(st.lists(st.sampled_from([
            opt("--base-url", st.sampled_from(["nonsense", "ftp://x/", "file:///nowhere/",
                                               "http://"])),
            opt("--data-dir", st.sampled_from(OUTS)), st.just(("--no-verify",))]), max_size=3))
        argv = ["data", "download", draw(st.sampled_from(["mnist", "fashion", "cifar"]))]
    else:
        parts, argv = [], [command]
    for part in parts:
        items = list(draw(part))
        if len(items) == 2 and items[1].startswith("-") and items[1] not in ("-0",):
            argv.append(f"{items[0]}={items[1]}")
        else:
            argv.extend(items)
    return argv


@fuzz_settings(quick=60)
@given(argv=argvs())
def test_command_lines(argv, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    (folder / "existing-file").write_text("not a folder")
    before = set(os.listdir(folder))
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        COUNTS["cli"] += 1
        result = fuzz_targets.cli(argv)
    finally:
        os.chdir(cwd)
    assert not result["traceback"], (argv, result["stderr"])
    if result["status"] == 2:
        assert result["stderr_lines"] == 1, (argv, result["stderr"])
        assert result["stderr"].startswith("spikewave"), (argv, result["stderr"])
    else:
        assert result["status"] in (0, "work"), (argv, result)
    left = set(os.listdir(folder)) - before
    assert not left, (argv, sorted(left))
