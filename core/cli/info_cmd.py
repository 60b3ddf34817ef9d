"""``fracture-triage info``: versions (app, Python, onnxruntime, pydicom, ...), the model card summary
(or the clear reason there is no usable model), and where the database, settings, logs and resources
live, which model the database has activated and which thresholds are active (the card's or a
calibration on the clinic's labels). Never creates or upgrades anything, and opens no connection to a
database server (the activation and calibration are read from an existing SQLite file only); reading
the card verifies the model's sha256. The database URL is shown without its password; for a PostgreSQL
server it says where it is and that backups are the server's job.
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


def _existing_store(db_url: str):
    """The database as it is (no migration, no backup, nothing created), or None when there is none
    yet or it has no model events table (an older schema) or cannot be read."""
    from core.store import Store, make_engine
    from core.store.engine import sqlite_path

    try:
        path = sqlite_path(db_url)
        if path is None or not Path(path).is_file():  # no file yet, or a server: info opens no connection
            return None
        store = Store(make_engine(db_url))
    except Exception:  # noqa: BLE001 - info never fails for the database's sake
        return None
    try:
        store.model_events(kinds=("activate",))  # the table exists and can be read
        return store
    except Exception:  # noqa: BLE001
        store.close()
        return None


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
    from core.model import ModelError, load_verified_card
    from core.paths import app_dirs
    from core.resources import models_dir, resources_dir
    from core.store.backup import BACKUPS_ON_SERVER
    from core.store.urls import redact, server_of

    _say(f"{APP_NAME} {app_version()}")
    _say(f"Python {platform.python_version()} ({sys.executable}) on {platform.platform()}")
    for dist in _PACKAGES:
        _say(f"  {dist} {_version(dist)}")

    config = resolve(db=args.db, model=args.model)
    store = _existing_store(config.db_url)
    _say("")
    try:
        from core.model.registry import Registry

        res = Registry().resolve(config.model_path, config.model_source, store)
        path = res.path
        card = load_verified_card(path)
    except ModelError as exc:
        _say(f"Model: none usable: {exc}")
    else:
        source = {"shipped": "", "activated": ", activated in the database"}.get(res.how, f", from the {res.how}")
        _say(f"Model file: {display(path)} (matches its card{source})")
        if res.note:
            _say(f"  note: {res.note}")
        for line in card.summary_lines():
            _say(f"  {line}")
        from core.evaluation.calibration import active_thresholds

        if store is not None:
            _say(f"Active thresholds: {active_thresholds(store, card).describe()}")
        else:
            _say("Active thresholds: the model card's unless calibrated (no SQLite database with model events "
                 "to read; `fracture-triage calibrate --history` asks a server)")
    if store is not None:
        store.close()

    dirs = app_dirs()
    _say("")
    where = _exists(dirs.database) if config.db_source == DEFAULT else f"  (from the {config.db_source})"
    server = server_of(config.db_url)
    _say(f"Database: {redact(config.db_url)}{where}")
    if server is None:
        _say(f"Backups:  {display(dirs.backups)}{_exists(dirs.backups)} (daily, newest {config.backups_keep} kept)")
    else:
        from core.store import passwords

        _say(f"  PostgreSQL server at {server}; the password, if any, comes from ~/.pgpass, a service file or "
             f"the OS keyring (keyring: {passwords.status()})")
        _say(f"Backups:  {BACKUPS_ON_SERVER}")
    _say(f"Settings: {display(dirs.settings_file)}{_exists(dirs.settings_file)}")
    _say(f"Logs:     {display(dirs.logs)}{_exists(dirs.logs)}")
    _say(f"Thumbnails: {display(dirs.thumbnails)}{_exists(dirs.thumbnails)} (this computer only; the app's "
         "View menu clears them)")
    _say(f"Resources: {display(resources_dir())} (models in {display(models_dir())})")
    return 0
