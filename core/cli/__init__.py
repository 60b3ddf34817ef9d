"""The headless ``fracture-triage`` subcommands (scan, info, export, import-labels, db, agreement, readers,
performance, calibrate, models, train, evaluate, card).

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds a parser whose
``func(args) -> int`` runs it. Heavy imports (onnxruntime, torch) happen inside ``func`` only.
``desktop.launcher`` routes here when the first argument names a subcommand; otherwise it opens the GUI.

Start-up (issue 15): a run imports only the module of the command it runs. The other commands appear
in ``--help`` from ``SUBCOMMAND_HELP`` (the one-line help each module registers, kept equal to it by
``tests/core/test_cli_startup.py``); a command missing from that table is imported to list it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from core import APP_NAME, app_version

# subcommand name -> module that registers it (order = order in --help)
SUBCOMMAND_MODULES: dict[str, str] = {
    "scan": "core.cli.scan_cmd",
    "info": "core.cli.info_cmd",
    "export": "core.cli.export_cmd",
    "import-labels": "core.cli.import_cmd",
    "db": "core.cli.db_cmd",
    "agreement": "core.cli.agreement_cmd",
    "readers": "core.cli.readers_cmd",
    "performance": "core.cli.performance_cmd",
    "calibrate": "core.cli.calibrate_cmd",
    "models": "core.cli.models_cmd",
    "train": "core.cli.train_cmd",
    "evaluate": "core.cli.train_cmd",
    "card": "core.cli.train_cmd",
}


# the one-line help each command's module registers (see the module docstring)
SUBCOMMAND_HELP: dict[str, str] = {
    "scan": "score every X-ray under a folder and store the results (no GUI)",
    "info": "show versions, the model card and where data and settings live",
    "export": "export the current labels (and images) for retraining",
    "import-labels": "record labels from a CSV (path or file name, label) as decisions",
    "db": "list and restore the database's backups; salvage a damaged database; copy it to another database",
    "agreement": "agreement between readers (Cohen's and Fleiss' kappa) and each reader against the reference",
    "readers": "list readers and their roles, or set one's role (reader / adjudicator)",
    "performance": "how the model does on this clinic's confirmed labels",
    "calibrate": "refit the 'suspicious'/'definite' thresholds on this clinic's confirmed labels",
    "models": "add, list, activate, remove and compare models",
    "train": "cross-validate and train the fracture model, write ONNX + card",
    "evaluate": "metrics and plots of a model on a labelled folder",
    "card": "carry earlier models' figures and 'what was tried' into a model card",
}


class CliError(Exception):
    """A condition that stops a command, reported as one clear line and exit status 2."""


class _Version(argparse.Action):
    """``--version``, reading the installed metadata only when asked (importlib.metadata is slow to load)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        print(f"{APP_NAME} {app_version()}", flush=True)  # on stdout, as --version always was (argparse's exit message goes to stderr)
        parser.exit()


def build_parser(prog: str = "fracture-triage", command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``command``, only that command's module is imported (the others are
    listed in ``--help`` by name and help, and are never run by this parser)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"{APP_NAME}: ranks X-rays by fracture probability for review. "
        "Without a subcommand it opens the desktop app.",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = SUBCOMMAND_MODULES.get(command) if command is not None else None
    seen: set[str] = set()
    for name, module in SUBCOMMAND_MODULES.items():
        if module in seen:
            continue
        if command is not None and module != wanted and name in SUBCOMMAND_HELP:
            sub.add_parser(name, help=SUBCOMMAND_HELP[name], add_help=False)  # listed only
            continue
        seen.add(module)
        importlib.import_module(module).register(sub)
    return parser


def _echo_warnings() -> None:
    """``-v``: library warnings (sanitised) and the app's warnings also go to stderr."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger("fracture_triage").addHandler(handler)


def is_subcommand(argv: list[str]) -> bool:
    return bool(argv) and argv[0] in SUBCOMMAND_MODULES


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command=argv[0] if argv and not argv[0].startswith("-") else "")
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from core.logfile import open_log

    open_log(args.command.replace("-", "_"))  # this process's own log file (stderr if the folder is unwritable)
    if getattr(args, "verbose", False):
        _echo_warnings()
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"fracture-triage {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
