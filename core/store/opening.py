"""``open_store``: from a URL to a ready ``Store`` — folder created, damaged file moved aside (never
overwritten), read-only and full disks reported clearly, schema migrated to the newest revision, and
the daily backup taken (SQLite; on PostgreSQL backups are the server's job, see ``BACKUPS_ON_SERVER``).
A URL is only ever shown redacted (``core.store.urls.redact``).
"""

from __future__ import annotations

import errno
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core.paths import app_dirs, default_db_url
from core.store import migrate
from core.store.backup import BACKUPS_ON_SERVER, daily_backup
from core.store.engine import make_engine, migration_connection
from core.store.errors import (StoreError, classify, disk_full_error, free_bytes, is_corrupt, on_read_only_media, plain,
                               read_only_error)
from core.store.store import Store
from core.store.urls import UrlError, normalise, redact, sqlite_path

log = logging.getLogger(__name__)


def _move_aside(path: Path) -> Path:
    """Rename a damaged database (and its -wal/-shm) to ``<name>.corrupt-<UTC time>``; never overwrites."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while any(Path(str(target) + s).exists() for s in ("", "-wal", "-shm")):
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    os.rename(path, target)
    for suffix in ("-wal", "-shm"):
        side = Path(str(path) + suffix)
        if side.exists():
            os.rename(side, Path(str(target) + suffix))
    return target


def _corrupt_error(path: Path, moved: Path) -> StoreError:
    return StoreError(
        f"The database {path} is damaged and cannot be read. It was moved aside to {moved} (nothing "
        "was deleted). Open the app again to start a new, empty database there. To get your earlier "
        "decisions back, restore an automatic backup (`fracture-triage db backups`, then `fracture-triage "
        "db restore BACKUP`) or rescue what can still be read from the damaged file (`fracture-triage db "
        f"salvage {moved} --to NEW.sqlite3`); the app offers both. Backups are in {app_dirs().backups}.",
        StoreError.CORRUPT,
        moved_to=moved,
    )


def _check_writable(path: Path) -> None:
    if on_read_only_media(path):
        raise read_only_error(str(path), path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise disk_full_error(str(path), free_bytes(path)) from exc
        raise StoreError(
            f"Cannot create the database folder {path.parent}: {exc.strerror or exc}. "
            "Choose another database location.",
            StoreError.READ_ONLY,
        ) from exc
    # SQLite's WAL journal needs the folder writable too (it creates -wal/-shm files beside the file)
    for target, what in ((path, "the file"), (path.parent, "its folder")):
        if target.exists() and not os.access(target, os.W_OK):
            raise StoreError(
                f"The database {path} cannot be written: {what} is read-only. "
                "Fix the permissions or choose another database location.",
                StoreError.READ_ONLY,
            )


def open_store(
    url: Optional[str] = None,
    *,
    backups_keep: Optional[int] = None,
    backup_dir: Optional[Path] = None,
    check: bool = True,
) -> Store:
    """Open (creating if needed) the label database at ``url`` (None: the default database in the user
    data directory) and return a ready ``Store``. Raises ``StoreError`` with a clear message.

    ``backups_keep``: daily backups kept (callers pass ``core.config.RunConfig.backups_keep``; None:
    the settings' default, 7; 0: no backup). Nothing here reads the settings file.
    ``check``: run SQLite's ``quick_check`` first (a damaged file is moved aside, see ``StoreError.moved_to``).
    """
    url = url or default_db_url()
    try:
        url = normalise(url)
    except UrlError as exc:
        raise StoreError(str(exc), StoreError.UNAVAILABLE) from exc
    path = sqlite_path(url)
    if path is not None:
        _check_writable(path)
    where = str(path) if path is not None else redact(url)
    try:
        engine = make_engine(url)
    except Exception as exc:  # a missing driver or a bad option
        raise StoreError(f"Cannot use the database {where}: {redact(plain(exc))}", StoreError.UNAVAILABLE) from exc
    full_check = check and path is not None and _check_due(path)
    try:
        with engine.connect() as conn:
            if full_check:
                rows = [r[0] for r in conn.exec_driver_sql("PRAGMA quick_check").fetchall()]
                if rows != ["ok"]:
                    raise _Corrupt("; ".join(str(r) for r in rows[:3]))
            elif path is not None:  # O(1): the header page ("file is not a database" shows here)
                conn.exec_driver_sql("PRAGMA schema_version").fetchall()
        with migration_connection(engine) as conn:
            migrate.upgrade(conn)
            conn.execute(text("SELECT 1"))
    except (_Corrupt, DBAPIError) as exc:
        engine.dispose()
        if path is not None and path.exists() and (isinstance(exc, _Corrupt) or is_corrupt(exc)):
            moved = _move_aside(path)
            log.error("database %s damaged (%s); moved aside to %s", path, exc, moved)
            raise _corrupt_error(path, moved) from exc
        raise classify(exc, where, path) from exc
    except StoreError:
        engine.dispose()
        raise
    except Exception as exc:  # e.g. a migration that failed: SQLite rolled it back
        engine.dispose()
        raise StoreError(
            f"The database {where} could not be prepared ({redact(plain(exc))}); it was left unchanged.",
            StoreError.UNAVAILABLE,
        ) from exc
    if full_check:
        _checked(path)
    if path is not None:
        _backup(path, backups_keep, backup_dir)
    else:
        log.info("database %s: backups are %s", where, BACKUPS_ON_SERVER)
    store = Store(engine)
    if path is not None and (full_check or not _check_due(path)):
        # the file was whole when opened; what this process writes is its own: after the last
        # checkpoint at close, the file's new size/mtime count as checked too
        store.on_close = lambda: _checked(path)
    return store


def _marker(path: Path) -> Path:
    return path.with_name(f".{path.name}.checked")


def _stamp_of(path: Path) -> str:
    st = path.stat()
    return f"{datetime.now(timezone.utc):%Y-%m-%d} {st.st_size} {st.st_mtime_ns}"


def _check_due(path: Path) -> bool:
    """SQLite's ``quick_check`` reads the whole file (O(database)); it runs on the first open of a UTC
    day and whenever the file changed since the last check (size or mtime: a checkpoint, a copy, a
    damage from outside); other opens check the header only. Damage found later by a query is still
    reported (``classify``: CORRUPT)."""
    try:
        return not path.exists() or _marker(path).read_text(encoding="utf-8").strip() != _stamp_of(path)
    except OSError:
        return True


def _checked(path: Path) -> None:
    try:
        if path.exists():
            _marker(path).write_text(_stamp_of(path), encoding="utf-8")
    except OSError:  # a read-only folder: check again next time
        pass


class _Corrupt(Exception):
    pass


def _backup(path: Path, keep: Optional[int], backup_dir: Optional[Path]) -> None:
    if keep is None:
        from core.settings import Settings

        keep = Settings.model_fields["backups_keep"].default
    try:
        made = daily_backup(path, backup_dir or app_dirs().backups, keep)
        if made is not None:
            log.info("database backed up to %s", made)
    except Exception as exc:  # a backup that fails must never stop the app
        log.warning("database backup failed: %s", exc)
