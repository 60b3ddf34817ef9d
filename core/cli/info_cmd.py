"""``fracture-triage info``: versions (app, Python, onnxruntime, pydicom, ...), the model card summary
(or the clear reason there is no usable model), and where the database, settings, logs and resources
live. Never creates anything and opens no connection; reading the card verifies the model's sha256.
The database URL is shown without its password; for a PostgreSQL server it says where it is and
that backups are the server's job.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

from core import APP_NAME, app_version

_PACKAGES = ("onnxruntime", "pydicom", "numpy", "pillow", "pylibjpeg", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg",
             "pylibjpeg-rle", "SQLAlchemy", "alembic", "psycopg", "psycopg-binary", "PySide6-Essentials")


def register(sub) -> None:
    p = sub.add_parser(
        "info",
        help="show versions, the model card and where data and settings live",
        description="Print the app and library versions, the installed model's card (checked against the "
        "model file), and the locations of the database, settings, logs and bundled resources.",
    )
    p.add_argument("--db", metavar="URL", help="report this database instead of the one the app would use")
    p.add_argument("--model", metavar="PATH", type=Path, help="describe this model instead of the default one")
    p.set_defaults(func=run)


def _version(dist: str) -> str:
    try:
        from importlib import metadata  # here, not at import: building the CLI parser must stay cheap

        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _exists(path: Path) -> str:
    return "" if path.exists() else "  (not created yet)"


def run(args: argparse.Namespace) -> int:
    from core.cli.scan_cmd import _say, display
    from core.config import DEFAULT, resolve
    from core.model import ModelError, find_default_model, load_verified_card
    from core.paths import app_dirs
    from core.resources import models_dir, resources_dir
    from core.store.backup import BACKUPS_ON_SERVER
    from core.store.urls import redact, server_of

    _say(f"{APP_NAME} {app_version()}")
    _say(f"Python {platform.python_version()} ({sys.executable}) on {platform.platform()}")
    for dist in _PACKAGES:
        _say(f"  {dist} {_version(dist)}")

    config = resolve(db=args.db, model=args.model)
    _say("")
    try:
        path = config.model_path or find_default_model()
        card = load_verified_card(path)
    except ModelError as exc:
        _say(f"Model: none usable: {exc}")
    else:
        source = "" if config.model_source == DEFAULT else f", from the {config.model_source}"
        _say(f"Model file: {display(path)} (matches its card{source})")
        for line in card.summary_lines():
            _say(f"  {line}")

    dirs = app_dirs()
    _say("")
    where = _exists(dirs.database) if config.db_source == DEFAULT else f"  (from the {config.db_source})"
    server = server_of(config.db_url)
    _say(f"Database: {redact(config.db_url)}{where}")
    if server is None:
        _say(f"Backups:  {display(dirs.backups)}{_exists(dirs.backups)} (daily, newest {config.backups_keep} kept)")
    else:
        _say(f"  PostgreSQL server at {server}; the password, if any, comes from ~/.pgpass or a service file")
        _say(f"Backups:  {BACKUPS_ON_SERVER}")
    _say(f"Settings: {display(dirs.settings_file)}{_exists(dirs.settings_file)}")
    _say(f"Logs:     {display(dirs.logs)}{_exists(dirs.logs)}")
    _say(f"Resources: {display(resources_dir())} (models in {display(models_dir())})")
    return 0
