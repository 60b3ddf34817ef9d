"""Start-up of the headless commands (issue 15): which modules a command imports, checked in a new
process through ``sys.modules`` — never timings (those are ``tests/benchmarks/bench_startup.py``'s).

What must stay out: ``--help`` imports no command module's heavy dependencies at all; ``scan`` of a
folder without files needs the settings and the model card (pydantic) and the store (SQLAlchemy and
the SQLModel tables), but never Qt, onnxruntime (no file, no session), Alembic (an up-to-date schema
is one query), PostgreSQL's dialect on SQLite, or torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import cli

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, sys
from desktop.launcher import main
try:
    rc = main(sys.argv[1:])
except SystemExit as exc:  # --help
    rc = exc.code
print("\nMODULES " + json.dumps({"rc": rc, "modules": sorted(sys.modules)}))
"""

NEVER = ("PySide6", "shiboken6", "onnxruntime", "alembic", "torch", "desktop.app")
HEAVY = NEVER + ("pydantic", "sqlalchemy", "sqlmodel", "numpy", "PIL", "pydicom", "core.store", "core.scan",
                 "core.config")


def _imported(args: list[str], home: Path) -> tuple[int, set[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FRACTURE_TRIAGE_HOME": str(home)}
    env.pop("FRACTURE_TRIAGE_DB", None)
    env.pop("FRACTURE_TRIAGE_MODEL", None)
    out = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("MODULES ")), None)
    assert line is not None, out.stdout[-2000:] + out.stderr[-2000:]
    got = json.loads(line[len("MODULES "):])
    return got["rc"], set(got["modules"])


def _loaded(modules: set[str], roots) -> list[str]:  # noqa: ANN001
    return sorted(m for m in modules if any(m == r or m.startswith(r + ".") for r in roots))


@pytest.mark.parametrize("args", [["--help"], ["scan", "--help"], ["--version"]])
def test_help_imports_nothing_heavy(tmp_path, args):
    rc, modules = _imported(args, tmp_path / "home")
    assert rc == 0
    # the top-level --help is the app's (desktop.app parses the GUI's options, without Qt)
    assert _loaded(modules, [m for m in HEAVY if not (args == ["--help"] and m == "desktop.app")]) == []
    # only the chosen command's module (none for the top-level help)
    chosen = {cli.SUBCOMMAND_MODULES[args[0]]} if args[0] in cli.SUBCOMMAND_MODULES else set()
    assert {m for m in modules if m.startswith("core.cli.") and m.endswith("_cmd")} == chosen


def test_scan_of_an_empty_folder_imports_only_what_it_needs(tmp_path, test_model):
    empty = tmp_path / "empty"
    empty.mkdir()
    db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    args = ["scan", str(empty), "--db", db, "--model", str(test_model)]
    rc, first = _imported(args, tmp_path / "home")  # creates the database: migrations run (Alembic)
    assert rc == 0 and "alembic" in first
    rc, modules = _imported(args, tmp_path / "home")
    assert rc == 0
    assert _loaded(modules, NEVER + ("sqlalchemy.dialects.postgresql", "psycopg")) == []
    assert {m for m in modules if m.startswith("core.cli.") and m.endswith("_cmd")} == {"core.cli.scan_cmd"}
    assert {"sqlalchemy", "sqlmodel", "core.store"} <= modules  # it did open the database


def test_scan_creates_the_session_when_there_is_a_file(tmp_path, test_model):
    """The other side: a folder with an image does create the onnxruntime session (the image is scored)."""
    from PIL import Image

    folder = tmp_path / "one"
    folder.mkdir()
    Image.new("L", (80, 96), 120).save(folder / "a.png")
    rc, modules = _imported(["scan", str(folder), "--no-store", "--model", str(test_model)], tmp_path / "home")
    assert rc == 0 and "onnxruntime" in modules


def test_the_help_table_is_what_each_command_registers():
    full = cli.build_parser()
    sub = next(a for a in full._actions if isinstance(a, type(full._subparsers._group_actions[0])))
    registered = {a.dest: a.help for a in sub._choices_actions}
    assert registered == cli.SUBCOMMAND_HELP
    assert list(registered) == list(cli.SUBCOMMAND_MODULES)


def test_a_command_parser_has_every_command_listed_and_its_own_arguments():
    p = cli.build_parser(command="scan")
    sub = p._subparsers._group_actions[0]
    assert list(sub.choices) == list(cli.SUBCOMMAND_MODULES)
    args = p.parse_args(["scan", "/x", "--no-store", "--batch-size", "4"])
    assert args.func is not None and args.batch_size == 4 and args.no_store
