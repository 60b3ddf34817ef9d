"""Automatic backups of a SQLite label database with SQLite's online backup API.

Schedule: when the database is opened (``open_store``), at most once per calendar day (UTC): if the
backup folder has no backup of this database from today, one is written; then only the newest
``keep`` backups of this database are kept (``Settings.backups_keep``, default 7; 0 turns backups off).
Folder: ``core.paths.app_dirs().backups``. File name: ``<db stem>-<8 hex of the db path>-<UTC time>.sqlite3``
(the hex keeps backups of different databases apart). The backup is consistent even while another
process writes (online backup API) and is written under a temporary name, then renamed, so a backup
file is always complete. To restore: close the app and copy a backup over the database file (and
delete the ``-wal``/``-shm`` files beside it). A PostgreSQL database is never backed up by the app
(``BACKUPS_ON_SERVER``): that is the server's job.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

_STAMP = "%Y%m%dT%H%M%SZ"

# what ``info`` and the log say instead of staying silent: the app backs up SQLite files only
BACKUPS_ON_SERVER = (
    "not made by the app on a PostgreSQL server: backing it up is the server's job "
    "(pg_dump or the server's own backup, run by whoever runs the server)"
)


def _prefix(db_path: Path) -> str:
    digest = hashlib.sha256(str(db_path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{db_path.stem}-{digest}-"


def list_backups(db_path: Path, backup_dir: Path) -> list[Path]:
    """This database's backups, oldest first."""
    if not backup_dir.is_dir():
        return []
    prefix = _prefix(db_path)
    return sorted(p for p in backup_dir.iterdir() if p.name.startswith(prefix) and p.suffix == ".sqlite3")


def backup_now(db_path: Path, backup_dir: Path, *, now: Optional[datetime] = None) -> Path:
    """Write a consistent copy of ``db_path`` into ``backup_dir`` and return its path."""
    now = now or datetime.now(timezone.utc)
    backup_dir.mkdir(parents=True, exist_ok=True)
    target = backup_dir / f"{_prefix(db_path)}{now.strftime(_STAMP)}.sqlite3"
    n = 1
    while target.exists():
        target = backup_dir / f"{_prefix(db_path)}{now.strftime(_STAMP)}-{n}.sqlite3"
        n += 1
    tmp = target.with_name("." + target.name + ".partial")
    src = sqlite3.connect(str(db_path), timeout=10)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return target


def daily_backup(db_path: Path, backup_dir: Path, keep: int, *, now: Optional[datetime] = None) -> Optional[Path]:
    """Back up once per UTC day and prune to the newest ``keep``; returns the new backup or None."""
    if keep <= 0 or not db_path.exists():
        return None
    now = now or datetime.now(timezone.utc)
    existing = list_backups(db_path, backup_dir)
    today = _prefix(db_path) + now.strftime("%Y%m%d")
    made = None
    if not any(p.name.startswith(today) for p in existing):
        made = backup_now(db_path, backup_dir, now=now)
        existing = list_backups(db_path, backup_dir)
    for old in existing[: max(0, len(existing) - keep)]:
        try:
            old.unlink()
        except OSError:
            pass
    return made
