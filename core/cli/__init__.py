"""The headless ``fracture-triage`` subcommands (scan, info, export, import-labels, db, agreement, readers,
performance, calibrate, models, train, evaluate).

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds a parser whose
``func(args) -> int`` runs it. Heavy imports (onnxruntime, torch) happen inside ``func`` only.
``desktop.launcher`` routes here when the first argument names a subcommand; otherwise it opens the GUI.
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
}


class CliError(Exception):
    """A condition that stops a command, reported as one clear line and exit status 2."""


class _Version(argparse.Action):
    """``--version``, reading the installed metadata only when asked (importlib.metadata is slow to load)."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        print(f"{APP_NAME} {app_version()}", flush=True)  # on stdout, as --version always was (argparse's exit message goes to stderr)
        parser.exit()


def build_parser(prog: str = "fracture-triage") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"{APP_NAME}: ranks X-rays by fracture probability for review. "
        "Without a subcommand it opens the desktop app.",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    seen: set[str] = set()
    for module in SUBCOMMAND_MODULES.values():
        if module in seen:
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
    parser = build_parser()
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
