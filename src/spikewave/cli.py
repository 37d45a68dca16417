"""The ``spikewave`` command.

::

    spikewave --version
    spikewave list
    spikewave reproduce NAME [--quick] [--seed N] [--out DIR] [--json] [NAME's options]
    spikewave reproduce all  [--quick] [--seed N] [--out DIR] [--json]
    spikewave train --dataset digits --model dense [--epochs E] [--json] ...
    spikewave data download mnist|fashion [--data-dir DIR]

Without ``--json`` a reproduction prints a table (measured against reference) and writes its
figures under ``--out`` (default ``report/NAME/``); ``all`` also writes ``report/index.html``.
With ``--json`` the last line of standard output is one JSON object. Bad input and problems
of the environment (a missing or corrupt file, a full or read-only disk) give a one-line
message on standard error and exit status 2, before any work where they can be seen then.

Only what the command line asks for is imported: ``--help``, ``--version`` and ``list``
read the reproductions' titles from their source without importing them (no torch), and
``reproduce NAME`` imports NAME's module alone.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from spikewave import __version__
from spikewave._validation import DataError, ParameterError, check_int

EXIT_USAGE = 2
EXIT_FAILED_CHECK = 1
MAX_SEED = 2**32 - 1
COMMANDS = {
    "list": "list the reproductions",
    "reproduce": "run a reproduction (or all) and compare with the reference",
    "train": "train a spiking network with surrogate gradients",
    "data": "dataset helpers (download MNIST or Fashion-MNIST)",
}
# what ``spikewave train`` accepts; the recipes module checks the same names
TRAIN_DATASETS = ("digits", "mnist", "fashion", "nmnist", "shd")
TRAIN_MODELS = ("dense", "conv", "recurrent", "delay")
TRAIN_RESETS = ("subtract", "zero")
TRAIN_ENCODINGS = ("direct", "rate", "latency")  # spikewave.train.encodings.ENCODINGS
TRAIN_SPIKE_REGS = ("none", "l1", "l2")  # spikewave.train.penalties.SPIKE_REGS


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions as written and adds each option's default to its help."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or action.default is None or action.nargs == 0 \
                or action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``spikewave: error: ...``, with a
    suggestion for a misspelt choice or option."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        kwargs.setdefault("allow_abbrev", False)  # a misspelt option is an error, not a guess
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}{_suggestion(message)} "
                  "(see --help)\n")


_ALL_OPTIONS: set[str] = set()


def _suggestion(message: str) -> str:
    """" - did you mean 'x'?" for an invalid choice or an unknown option, else ''."""
    m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if m:
        choices = re.findall(r"'([^']*)'", m.group(2))
        close = difflib.get_close_matches(m.group(1), choices, n=1, cutoff=0.6)
        return f" - did you mean '{close[0]}'?" if close else ""
    m = re.search(r"unrecognized arguments: (.*)", message)
    if m:
        for arg in m.group(1).split():
            name = arg.split("=", 1)[0]
            if name.startswith("--"):
                close = difflib.get_close_matches(name, sorted(_ALL_OPTIONS), n=1, cutoff=0.7)
                if close:
                    return f" - did you mean '{close[0]}'?"
    return ""


def _add_option(parser: argparse.ArgumentParser, *names: str, **kwargs: Any) -> argparse.Action:
    _ALL_OPTIONS.update(n for n in names if n.startswith("--"))
    return parser.add_argument(*names, **kwargs)


# ----------------------------------------------------------------------------- titles


def _peek_title(module: str) -> str | None:
    """The ``title=`` of ``REPRODUCTION = Reproduction(...)`` in ``module``'s source, read
    without importing it; None when it is not a plain string there."""
    try:
        spec = importlib.util.find_spec(module)
        origin = spec.origin if spec is not None else None
        if origin is None:
            return None
        tree = ast.parse(Path(origin).read_text(encoding="utf-8"))
    except (ImportError, OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id ==
                                                "REPRODUCTION" for t in node.targets):
            call = node.value
            if isinstance(call, ast.Call):
                for kw in call.keywords:
                    if kw.arg == "title" and isinstance(kw.value, ast.Constant) \
                            and isinstance(kw.value.value, str):
                        return kw.value.value
    return None


def reproduction_titles() -> dict[str, str]:
    """Each reproduction's one-line title, from its source (imported only as a fallback)."""
    from spikewave.experiments import REPRODUCTIONS

    modules = getattr(REPRODUCTIONS, "_modules", {})
    titles = {}
    for name in REPRODUCTIONS:
        title = _peek_title(modules[name]) if name in modules else None
        titles[name] = title if title is not None else REPRODUCTIONS[name].title
    return titles


# ----------------------------------------------------------------------------- parsers


def _common_options(quick_help: str) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _add_option(common, "--quick", action="store_true", help=quick_help)
    _add_option(common, "--seed", type=int, default=0,
                help=f"seed of every random generator, 0..{MAX_SEED}")
    _add_option(common, "--out", type=str, default=None,
                help="folder for figures and results (default: report/NAME/; "
                     "report/ for all)")
    _add_option(common, "--json", action="store_true",
                help="print one JSON object as the last line of standard output")
    _add_option(common, "--strict", action="store_true",
                help="exit with status 1 when a check against the reference fails "
                     "(a documented known-partial result does not count; 'all' "
                     "always exits 1 on a failure)")
    return common


def _wanted(argv: Sequence[str] | None) -> tuple[str | None, str | None]:
    """The command and the reproduction name that ``argv`` asks for (None: build all)."""
    if argv is None:
        return None, None
    args = list(argv)
    i = next((k for k, a in enumerate(args) if not a.startswith("-")), None)
    if i is None:
        return "", ""
    name = args[i + 1] if args[i] == "reproduce" and i + 1 < len(args) else ""
    return args[i], name


def build_parser(argv: Sequence[str] | None = None
                 ) -> tuple[argparse.ArgumentParser, dict[str, list[str]]]:
    """The parser, and for each reproduction the names of its own options.

    With ``argv``, only what it asks for is built in full (the other commands and
    reproductions get their one-line help only): ``--help`` and ``list`` import nothing
    heavy. Without it, everything is built (every reproduction module is imported).
    """
    command, wanted_name = _wanted(argv)
    full = command is None
    parser = _Parser(prog="spikewave", description="Spiking neural networks: reproductions "
                     "of the classic results, checked against the papers, and training of "
                     "spiking networks with surrogate gradients.")
    parser.add_argument("--version", action="version", version=f"spikewave {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    commands.add_parser("list", help=COMMANDS["list"], description=COMMANDS["list"] + ".")
    option_names: dict[str, list[str]] = {}
    if full or command == "reproduce":
        _add_reproduce_parser(commands, None if full else wanted_name, option_names)
    else:
        commands.add_parser("reproduce", help=COMMANDS["reproduce"])
    if full or command == "train":
        _add_train_parser(commands)
    else:
        commands.add_parser("train", help=COMMANDS["train"])
    if full or command == "data":
        _add_data_parser(commands)
    else:
        commands.add_parser("data", help=COMMANDS["data"])
    return parser, option_names


def _add_reproduce_parser(commands, wanted: str | None,
                          option_names: dict[str, list[str]]) -> None:
    from spikewave.experiments import REPRODUCTIONS

    titles = reproduction_titles()
    rep = commands.add_parser(
        "reproduce", help=COMMANDS["reproduce"],
        description="Run a reproduction and compare its figures of merit with the paper's "
                    "or the closed form's. NAME is one of: " + ", ".join(REPRODUCTIONS)
                    + ", or all.")
    names = rep.add_subparsers(dest="name", metavar="NAME", parser_class=_Parser)
    names.required = True
    common = _common_options("a shorter run with the same checks (used by the demo)")
    for name in REPRODUCTIONS:
        if wanted is not None and name != wanted:
            names.add_parser(name, help=titles[name], add_help=False)
            continue
        repro = REPRODUCTIONS[name]
        sub = names.add_parser(name, parents=[common], help=titles[name],
                               description=repro.description)
        before = {a.dest for a in sub._actions}
        if repro.add_arguments is not None:
            repro.add_arguments(sub)
        _ALL_OPTIONS.update(s for a in sub._actions for s in a.option_strings)
        option_names[name] = [a.dest for a in sub._actions if a.dest not in before]
    names.add_parser("all", parents=[common], help="run every reproduction and write "
                     "report/index.html")


def _add_train_parser(commands) -> None:
    """``spikewave train``: its options in groups, one ``_add_option`` line each."""
    tr = commands.add_parser(
        "train", help=COMMANDS["train"],
        description="Train a spiking network by backprop through time with surrogate "
                    "gradients (or by e-prop: --method eprop); writes metrics.jsonl, "
                    "checkpoint.pt (every epoch, atomically, with a content hash) and "
                    "training_curve.png to --out, and one line per epoch on standard error.")
    data = tr.add_argument_group("data")
    _add_option(data, "--dataset", choices=TRAIN_DATASETS, default="digits",
                help="digits (embedded), mnist and fashion (IDX files), nmnist (SLAYER's "
                     "archive), shd (HDF5)")
    _add_option(data, "--data-dir", type=Path, default=None,
                help="folder of the dataset files (default: $SPIKEWAVE_DATA; not needed for "
                     "digits)")
    _add_option(data, "--no-verify", dest="verify", action="store_false",
                help="skip the published-checksum check of the dataset files (for custom "
                     "data in the same format)")
    _add_option(data, "--encoding", choices=TRAIN_ENCODINGS, default="direct",
                help="how images become input: direct current, rate (Bernoulli spikes, "
                     "probability = intensity per step) or latency (one spike per pixel, "
                     "the brighter the earlier); event datasets take direct only")
    model = tr.add_argument_group("model")
    _add_option(model, "--model", choices=TRAIN_MODELS, default="dense",
                help="network: dense, conv (images), recurrent or delay (learned delays)")
    _add_option(model, "--time-steps", type=int, default=16,
                help="simulation steps per sample, 1..10000")
    _add_option(model, "--reset", choices=TRAIN_RESETS, default="subtract",
                help="the LIF neurons' reset after a spike: subtract the threshold, or set "
                     "the potential to zero (what NIR can express: spikewave.nir.export "
                     "refuses the subtract reset)")
    _add_option(model, "--method", choices=("bptt", "eprop"), default="bptt",
                help="bptt: backprop through time (default); eprop: e-prop, forward in "
                     "time with eligibility traces (dense and recurrent models)")
    optim = tr.add_argument_group("optimisation")
    _add_option(optim, "--epochs", type=int, default=30,
                help="passes over the training set (the cosine learning-rate schedule spans "
                     "them)")
    _add_option(optim, "--batch-size", type=int, default=64,
                help="samples per step (under torchrun: the global batch, split evenly "
                     "over the processes)")
    _add_option(optim, "--lr", type=float, default=2e-3,
                help="peak learning rate of Adam (decays to 0 along a cosine)")
    _add_option(optim, "--spike-reg", choices=TRAIN_SPIKE_REGS, default="none",
                help="penalty on the hidden layers' spike counts added to the loss: l1 (total "
                     "count) or l2 (squared count per neuron), per sample")
    _add_option(optim, "--spike-reg-weight", type=float, default=0.0,
                help="weight of --spike-reg's penalty in the loss (> 0 with --spike-reg)")
    _add_option(optim, "--decision-reg-weight", type=float, default=0.0,
                help="weight of the early-decision term: the cross-entropy of the running "
                     "mean of the readout at every step, averaged over the steps")
    run = tr.add_argument_group("run")
    _add_option(run, "--seed", type=int, default=0,
                help=f"seed of initialisation, shuffling and encoding, 0..{MAX_SEED}")
    _add_option(run, "--device", default="cpu", help="cpu, cuda or cuda:N")
    _add_option(run, "--sync-batchnorm", action="store_true",
                help="under torchrun with --device cuda: BatchNorm statistics over the "
                     "global batch (conv model)")
    _add_option(run, "--dist-timeout-s", type=float, default=600.0,
                help="under torchrun: how long a process waits for the others before it "
                     "stops with an error")
    _add_option(run, "--out", type=str, default="runs/train",
                help="folder for the checkpoint, metrics and figure (locked while the run "
                     "writes)")
    _add_option(run, "--resume", action="store_true",
                help="continue from --out's checkpoint (--epochs may be larger)")
    _add_option(run, "--json", action="store_true",
                help="print one JSON object as the last line of standard output")


def _add_data_parser(commands) -> None:
    data = commands.add_parser("data", help=COMMANDS["data"], description=COMMANDS["data"] + ".")
    data_cmds = data.add_subparsers(dest="data_command", metavar="ACTION", parser_class=_Parser)
    data_cmds.required = True
    dl = data_cmds.add_parser("download", help="download MNIST or Fashion-MNIST (needs internet)",
                              description="Download the four IDX files into DATA_DIR/mnist or "
                              "DATA_DIR/fashion-mnist (DATA_DIR: --data-dir, else "
                              "$SPIKEWAVE_DATA, else ./data), each checked against its "
                              "published checksum and as IDX before it is kept.")
    dl.add_argument("dataset", choices=("mnist", "fashion"), help="which dataset")
    _add_option(dl, "--data-dir", type=str, default=None,
                help="root folder (default: $SPIKEWAVE_DATA, else ./data)")
    _add_option(dl, "--base-url", default=None,
                help="an http(s):// or file:// mirror (default: the usual one)")
    _add_option(dl, "--no-verify", dest="verify", action="store_false",
                help="skip the published-checksum check (for a mirror of custom data)")


# ----------------------------------------------------------------------------- commands


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")


def _list() -> int:
    titles = reproduction_titles()
    width = max(len(n) for n in titles)
    for name, title in titles.items():
        print(f"{name.ljust(width)}  {title}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from spikewave.train import distributed as ddp

    ctx, device = ddp.from_environment(args.device, args.dist_timeout_s)
    finished = False
    try:
        code = _train_process(args, ctx, device)
        finished = True
        return code
    finally:
        ddp.shutdown(ctx, finished)


def _train_process(args: argparse.Namespace, ctx, device: str) -> int:
    """One process of ``spikewave train`` (rank ``ctx.rank`` of ``ctx.world_size``)."""
    import contextlib
    from dataclasses import asdict

    from spikewave._io import check_output_dir
    from spikewave.train import distributed as ddp
    from spikewave.train.loop import TrainConfig, fit, prepared_output
    from spikewave.train.recipes import build

    out = check_output_dir(args.out, "out")
    check_int("time_steps", args.time_steps, 1, 10_000)
    if args.spike_reg != "none" and not args.spike_reg_weight > 0:
        raise ParameterError(f"The 'spike_reg_weight' parameter must be above 0 with "
                             f"--spike-reg {args.spike_reg}. Got {args.spike_reg_weight!r}.")
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      seed=args.seed, device=device, encoding=args.encoding,
                      spike_reg=args.spike_reg, spike_reg_weight=args.spike_reg_weight,
                      decision_reg_weight=args.decision_reg_weight,
                      time_steps=args.time_steps)
    if args.method == "eprop" and cfg.penalty() is not None:
        raise ParameterError("The 'method' parameter must be 'bptt' with --spike-reg or "
                             "--decision-reg-weight (e-prop computes its own gradients of "
                             "the task loss only). Got 'eprop'.")
    ddp.check_batch_size(args.batch_size, ctx)
    if ctx.active and args.method == "eprop":
        raise ParameterError("The 'method' parameter must be 'bptt' in a data-parallel run "
                             "(e-prop computes its own gradients). Got 'eprop'.")
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise ParameterError(f"The 'data_dir' parameter must be an existing folder. Got "
                             f"{str(args.data_dir)!r}.")
    if args.method == "eprop" and args.model not in ("dense", "recurrent"):
        raise ParameterError(f"The 'model' parameter must be 'dense' or 'recurrent' with "
                             f"--method eprop. Got {args.model!r}.")
    with (prepared_output(out, resume=args.resume, lock=True) if ctx.is_main
          else contextlib.nullcontext()):
        recipe = build(args.dataset, args.model, args.time_steps, args.seed, args.data_dir,
                       verify=args.verify, reset=args.reset, encoding=args.encoding)
        model = ddp.prepare_model(recipe.model, ctx, device, args.sync_batchnorm)
        if args.method == "eprop":
            from spikewave.train.eprop import EProp

            model = EProp(model, seed=args.seed)
        result = fit(model, recipe.data, recipe.encode, cfg, out, resume=args.resume,
                     augment=recipe.augment, lock=False, dist=ctx)
    if not ctx.is_main:
        return 0
    summary = {"test_accuracy": result.test_accuracy, "epochs": result.epochs,
               "epoch_s": result.epoch_s, "spikes_per_sample": result.spikes_per_sample,
               "params": result.params, "dataset": args.dataset, "model": args.model,
               "time_steps": args.time_steps, "config": asdict(cfg), "out": str(out),
               "reset": args.reset, "method": args.method, "encoding": args.encoding,
               "spike_reg": args.spike_reg, "spike_reg_weight": args.spike_reg_weight,
               "decision_reg_weight": args.decision_reg_weight,
               "world_size": result.world_size, "samples_per_s": result.samples_per_s}
    counts, summary["decision_step"] = _test_set_measures(recipe, args)
    summary |= counts.as_json()
    if args.json:
        _print_json(summary)
    else:
        print(f"{recipe.description}\ntest accuracy {100 * result.test_accuracy:.2f} % after "
              f"{result.epochs} epochs ({result.epoch_s:.2f} s/epoch, "
              f"{result.spikes_per_sample:.0f} hidden spikes/sample); results in {out}")
        print(f"test set, {counts.describe()}")
        print(f"mean decision step {summary['decision_step']:.2f} of 0..{args.time_steps - 1} "
              f"(the first step from which the running prediction stays the same)")
    return 0


def _test_set_measures(recipe, args: argparse.Namespace):
    """NeuroBench's counts per sample of the trained model on the test set and its mean
    decision step (:mod:`spikewave.train.decision`), in one pass over the test set."""
    import torch

    from spikewave.metrics import measure_dataset
    from spikewave.train.datasets import inputs_of_test_set
    from spikewave.train.decision import decision_steps

    steps = []
    x = inputs_of_test_set(recipe.data)
    counts = measure_dataset(recipe.model, x, recipe.encode, batch_size=args.batch_size,
                             seed=args.seed, device=args.device,
                             on_output=lambda out: steps.append(decision_steps(out[0])))
    return counts, float(torch.cat(steps).sum()) / len(x)


def _reproduce(args: argparse.Namespace, option_names: dict[str, list[str]]) -> int:
    from spikewave._io import check_output_dir, removed_if_left_empty
    from spikewave.experiments import REPRODUCTIONS, RunContext
    from spikewave.report import format_table, write_html_report

    seed = check_int("seed", args.seed, 0, MAX_SEED)
    run_all = args.name == "all"
    names = list(REPRODUCTIONS) if run_all else [args.name]
    base = check_output_dir(args.out if args.out is not None else Path("report"), "out")
    results = []
    for name in names:
        out_dir = (base / name) if (run_all or args.out is None) else base
        ctx = RunContext(quick=args.quick, seed=seed, out_dir=out_dir)
        # "all" runs each reproduction with its own defaults
        options = {k: getattr(args, k) for k in option_names.get(name, []) if hasattr(args, k)}
        if run_all:
            print(f"[{len(results) + 1}/{len(names)}] {name} ...", file=sys.stderr, flush=True)
        with removed_if_left_empty(out_dir):
            results.append(REPRODUCTIONS[name].execute(ctx, **options))
    if run_all:
        index = write_html_report(results, base, args.quick)
    if args.json:
        if run_all:
            statuses = {r.status for r in results}
            _print_json({"passed": all(r.passed for r in results), "report": str(index),
                         "status": ("fail" if "fail" in statuses else
                                    "partial" if "partial" in statuses else "pass"),
                         "results": {r.name: r.to_json() for r in results}})
        else:
            _print_json(results[0].to_json())
    else:
        print(format_table(results))
        if run_all:
            print(f"report: {index}")
        else:
            print("figures: " + ", ".join(str(p) for p in results[0].figures))
    if (args.strict or run_all) and any(r.status == "fail" for r in results):
        return EXIT_FAILED_CHECK
    return 0


def _download(args: argparse.Namespace) -> int:
    from spikewave._io import check_output_dir
    from spikewave.data.download import check_base_url, download

    if args.base_url is not None:
        check_base_url(args.base_url)
    root = args.data_dir or os.environ.get("SPIKEWAVE_DATA") or "data"
    check_output_dir(root, "data_dir")
    for path in download(args.dataset, root, args.base_url, verify=args.verify):
        print(path)
    return 0


def _error(message: str) -> int:
    print(f"spikewave: error: {' '.join(str(message).split())}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, option_names = build_parser(argv)
    args = parser.parse_args(argv)
    handlers: dict[str, Callable[[], int]] = {
        "list": _list,
        "train": lambda: _train(args),
        "data": lambda: _download(args),
        "reproduce": lambda: _reproduce(args, option_names),
    }
    try:
        return handlers[args.command]()
    except (ParameterError, DataError) as exc:
        return _error(str(exc))
    except OSError as exc:
        from spikewave._io import os_error_message

        return _error(os_error_message(exc, "cannot access" if exc.filename else "I/O error"))
    except MemoryError:
        return _error("out of memory: use a smaller problem (fewer samples, time steps or a "
                      "shorter duration)")
    except FloatingPointError as exc:
        loop = sys.modules.get("spikewave.train.loop")
        if loop is None or not isinstance(exc, loop.TrainingDiverged):
            raise
        print(f"spikewave: error: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        # a data-parallel peer or a cluster task failed: the message says which and why
        known = [getattr(sys.modules.get(m), c, None) for m, c in (
            ("spikewave.train.distributed", "PeerFailure"),
            ("spikewave.experiments.seeds", "SeedsFailed"))]
        if not isinstance(exc, tuple(k for k in known if k is not None)):
            raise
        print(f"spikewave: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("spikewave: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
