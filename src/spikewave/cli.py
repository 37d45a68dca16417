"""The ``spikewave`` command.

::

    spikewave --version
    spikewave list
    spikewave reproduce NAME [--quick] [--seed N] [--out DIR] [--json] [NAME's options]
    spikewave reproduce all  [--quick] [--seed N] [--out DIR] [--json]
    spikewave train --dataset digits --model dense [--epochs E] [--json] ...

Without ``--json`` a reproduction prints a table (measured against reference) and writes its
figures under ``--out`` (default ``report/NAME/``); ``all`` also writes ``report/index.html``.
With ``--json`` the last line of standard output is one JSON object. Bad input gives a
one-line message on standard error and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from spikewave import __version__
from spikewave._validation import ParameterError, check_int
from spikewave.experiments import REPRODUCTIONS, RunContext
from spikewave.train.loop import TrainingDiverged

EXIT_USAGE = 2
EXIT_FAILED_CHECK = 1


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``spikewave: error: ...``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _common_options(quick_help: str) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quick", action="store_true", help=quick_help)
    common.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    common.add_argument("--out", type=Path, default=None,
                        help="folder for figures (default report/NAME/)")
    common.add_argument("--json", action="store_true",
                        help="print one JSON object as the last line of standard output")
    common.add_argument("--strict", action="store_true",
                        help="exit with status 1 when a check against the reference fails "
                             "(a documented known-partial result does not count; 'all' "
                             "always exits 1 on a failure)")
    return common


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, list[str]]]:
    """The parser, and for each reproduction the names of its own options."""
    parser = _Parser(prog="spikewave", description="Spiking neural networks: reproductions "
                     "of the classic results, checked against the papers.")
    parser.add_argument("--version", action="version", version=f"spikewave {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    commands.add_parser("list", help="list the reproductions")
    rep = commands.add_parser(
        "reproduce", help="run a reproduction (or all) and compare with the reference",
        description="Run a reproduction and compare its figures of merit with the paper's "
                    "or the closed form's. NAME is one of: "
                    + ", ".join(REPRODUCTIONS) + ", or all.")
    names = rep.add_subparsers(dest="name", metavar="NAME", parser_class=_Parser)
    names.required = True
    option_names: dict[str, list[str]] = {}
    common = _common_options("a shorter run with the same checks (used by the demo)")
    for name in REPRODUCTIONS:
        repro = REPRODUCTIONS[name]
        sub = names.add_parser(name, parents=[common], help=repro.title,
                               description=repro.description,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        before = {a.dest for a in sub._actions}
        if repro.add_arguments is not None:
            repro.add_arguments(sub)
        option_names[name] = [a.dest for a in sub._actions if a.dest not in before]
    names.add_parser("all", parents=[common], help="run every reproduction and write "
                     "report/index.html")
    _add_train_parser(commands)
    data = commands.add_parser("data", help="dataset helpers")
    data_cmds = data.add_subparsers(dest="data_command", metavar="ACTION", parser_class=_Parser)
    data_cmds.required = True
    dl = data_cmds.add_parser("download", help="download MNIST or Fashion-MNIST (needs internet)",
                              description="Download the four IDX files into DATA_DIR/mnist or "
                              "DATA_DIR/fashion-mnist (DATA_DIR: --data-dir, else "
                              "$SPIKEWAVE_DATA, else ./data), each checked before it is kept.")
    dl.add_argument("dataset", choices=("mnist", "fashion"))
    dl.add_argument("--data-dir", type=Path, default=None)
    dl.add_argument("--base-url", default=None, help="a mirror (default: the usual one)")
    return parser, option_names


def _add_train_parser(commands) -> None:
    from spikewave.train.recipes import DATASETS, MODELS

    tr = commands.add_parser("train", help="train a spiking network with surrogate gradients",
                             description="Train a spiking network by backprop through time "
                             "with surrogate gradients; writes metrics.jsonl, checkpoint.pt "
                             "(every epoch, atomically) and training_curve.png to --out.")
    tr.add_argument("--dataset", choices=DATASETS, default="digits")
    tr.add_argument("--data-dir", type=Path, default=None,
                    help="folder of the dataset files (default $SPIKEWAVE_DATA; not needed "
                         "for digits)")
    tr.add_argument("--model", choices=MODELS, default="dense")
    tr.add_argument("--epochs", type=int, default=30)
    tr.add_argument("--batch-size", type=int, default=64)
    tr.add_argument("--lr", type=float, default=2e-3)
    tr.add_argument("--time-steps", type=int, default=16)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--device", default="cpu", help="cpu or cuda")
    tr.add_argument("--out", type=Path, default=Path("runs/train"))
    tr.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    tr.add_argument("--json", action="store_true",
                    help="print one JSON object as the last line of standard output")


def _train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from spikewave.train.loop import TrainConfig, fit
    from spikewave.train.recipes import build

    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      seed=args.seed, device=args.device)
    recipe = build(args.dataset, args.model, args.time_steps, args.seed, args.data_dir)
    result = fit(recipe.model, recipe.data, recipe.encode, cfg, args.out, resume=args.resume,
                 augment=recipe.augment)
    summary = {"test_accuracy": result.test_accuracy, "epochs": result.epochs,
               "epoch_s": result.epoch_s, "spikes_per_sample": result.spikes_per_sample,
               "params": result.params, "dataset": args.dataset, "model": args.model,
               "time_steps": args.time_steps, "config": asdict(cfg), "out": str(args.out)}
    counts = _test_set_counts(recipe, args)
    summary |= counts.as_json()
    if args.json:
        _print_json(summary)
    else:
        print(f"{recipe.description}\ntest accuracy {100 * result.test_accuracy:.2f} % after "
              f"{result.epochs} epochs ({result.epoch_s:.2f} s/epoch, "
              f"{result.spikes_per_sample:.0f} hidden spikes/sample); results in {args.out}")
        print(f"test set, {counts.describe()}")
    return 0


def _test_set_counts(recipe, args: argparse.Namespace):
    """NeuroBench's counts of the trained model on the test set, per sample."""
    from spikewave.metrics import measure_dataset

    return measure_dataset(recipe.model, recipe.data.x_test, recipe.encode,
                           batch_size=args.batch_size, seed=args.seed, device=args.device)


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")


def _reproduce(args: argparse.Namespace, option_names: dict[str, list[str]]) -> int:
    from spikewave.report import format_table, write_html_report

    seed = check_int("seed", args.seed, 0, 2**32 - 1)
    run_all = args.name == "all"
    names = list(REPRODUCTIONS) if run_all else [args.name]
    base = args.out if args.out is not None else Path("report")
    results = []
    for name in names:
        out_dir = (base / name) if (run_all or args.out is None) else base
        ctx = RunContext(quick=args.quick, seed=seed, out_dir=out_dir)
        # "all" runs each reproduction with its own defaults
        options = {k: getattr(args, k) for k in option_names.get(name, []) if hasattr(args, k)}
        if run_all:
            print(f"[{len(results) + 1}/{len(names)}] {name} ...", file=sys.stderr, flush=True)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser, option_names = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            width = max(len(n) for n in REPRODUCTIONS)
            for name in REPRODUCTIONS:
                print(f"{name.ljust(width)}  {REPRODUCTIONS[name].title}")
            return 0
        if args.command == "train":
            return _train(args)
        if args.command == "data":
            from spikewave.data.download import download

            for path in download(args.dataset, args.data_dir, args.base_url):
                print(path)
            return 0
        return _reproduce(args, option_names)
    except ParameterError as exc:
        print(f"spikewave: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingDiverged as exc:
        print(f"spikewave: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("spikewave: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
