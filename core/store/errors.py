"""``StoreError``: every way the database can be unusable, as one exception with a clinician-readable
message and a machine-readable kind, plus the one place that turns raw driver errors into it and
decides which of them are worth retrying (``is_transient``).

SQLite errors are recognised by their message text (the driver has no codes); PostgreSQL errors by
their SQLSTATE (``exc.orig.sqlstate``): 40001 serialization failure, 40P01 deadlock, 55P03 lock not
available, class 08 and 57P01-57P03 connection lost or server shutting down are transient; 23505 (a
unique key taken by a concurrent writer) is retried as well, since every write re-runs whole.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Optional


class StoreError(Exception):
    """The label database cannot be used. ``str(err)`` is the message to show."""

    CORRUPT = "corrupt"
    READ_ONLY = "read_only"
    DISK_FULL = "disk_full"
    BUSY = "busy"
    IO_ERROR = "io_error"
    UNAVAILABLE = "unavailable"

    def __init__(self, message: str, kind: str = UNAVAILABLE, *, moved_to: Optional[Path] = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.moved_to = moved_to


# SQLSTATEs after which re-running the whole transaction can succeed
_TRANSIENT_STATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "23505", "25P03"}
_CONNECTION_CLASS = "08"
_SERVER_DOWN_STATES = {"57P01", "57P02", "57P03"}


def sqlstate(exc: BaseException) -> Optional[str]:
    """The PostgreSQL SQLSTATE of a driver error (None for SQLite and for errors without one)."""
    orig = getattr(exc, "orig", exc)
    state = getattr(orig, "sqlstate", None)
    return str(state) if state else None


def is_connection_lost(exc: BaseException) -> bool:
    """The server could not be reached, or the connection broke (PostgreSQL)."""
    state = sqlstate(exc)
    if state is not None:
        return state.startswith(_CONNECTION_CLASS) or state in _SERVER_DOWN_STATES
    if getattr(exc, "connection_invalidated", False):
        return True
    orig = getattr(exc, "orig", None)
    return type(orig).__name__ == "OperationalError" and type(orig).__module__.startswith("psycopg")


def is_transient(exc: BaseException) -> bool:
    """Worth re-running the whole transaction: SQLite busy, or a PostgreSQL SQLSTATE listed above."""
    state = sqlstate(exc)
    if state is not None:
        return state in _TRANSIENT_STATES or state.startswith(_CONNECTION_CLASS)
    return is_locked(exc) or is_connection_lost(exc)


def _text(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).lower()


def is_locked(exc: BaseException) -> bool:
    text = _text(exc)
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def is_corrupt(exc: BaseException) -> bool:
    text = _text(exc)
    return "file is not a database" in text or "malformed" in text or "file is encrypted" in text


def is_disk_full(exc: BaseException) -> bool:
    text = _text(exc)
    return "database or disk is full" in text or "no space left" in text


def is_read_only(exc: BaseException) -> bool:
    if sqlstate(exc) == "25006":  # read_only_sql_transaction (a standby server)
        return True
    text = _text(exc)
    return "readonly database" in text or "read-only" in text


_URL = re.compile(r"\(?\s*background on this error at:[^)]*\)?|https?://\S+", re.IGNORECASE)
_SQL = re.compile(r"\[(SQL|parameters):.*", re.IGNORECASE | re.DOTALL)
NEARLY_FULL_BYTES = 32 * 2**20  # a disk I/O error with less free than this is a full disk


def plain(exc: BaseException) -> str:
    """A driver error in one line, without SQLAlchemy's "Background on this error" URL, the SQL
    statement, its parameters or the exception class prefix."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc)
    text = _SQL.sub("", text)
    text = _URL.sub("", text)
    text = re.sub(r"^\(\S+\)\s*", "", " ".join(text.split()))
    return text.strip(" .;:") or type(exc).__name__


def _existing(path: Path) -> Optional[Path]:
    for p in (path, *path.parents):
        if p.exists():
            return p
    return None


def free_bytes(path: Optional[Path]) -> Optional[int]:
    """Free space on the disk holding ``path`` (None when it cannot be told)."""
    if path is None:
        return None
    try:
        at = _existing(Path(path).absolute())
        return shutil.disk_usage(at).free if at is not None else None
    except OSError:
        return None


def on_read_only_media(path: Optional[Path]) -> bool:
    """The file system holding ``path`` is mounted read-only (a CD/DVD, a write-protected stick)."""
    if path is None or not hasattr(os, "statvfs"):
        return False
    try:
        at = _existing(Path(path).absolute())
        return at is not None and bool(os.statvfs(at).f_flag & getattr(os, "ST_RDONLY", 1))
    except OSError:
        return False


def _mb(n: int) -> str:
    mb = n / 2**20
    return f"{mb:.0f} MB" if mb >= 10 else f"{mb:.1f} MB"


def disk_full_error(where: str, free: Optional[int]) -> StoreError:
    left = f" ({_mb(free)} free)" if free is not None else ""
    return StoreError(
        f"The disk holding the database ({where}) is full{left}: the last change was NOT saved. "
        "Free some space on that disk, or choose another database location in the settings, and try again.",
        StoreError.DISK_FULL,
    )


def read_only_error(where: str, path: Optional[Path]) -> StoreError:
    if on_read_only_media(path):
        return StoreError(
            f"The database ({where}) is on read-only media (a CD or DVD, a write-protected USB stick or a "
            "read-only network share), so nothing can be saved there. Copy it to a writable disk, or choose "
            "another database location in the settings.",
            StoreError.READ_ONLY,
        )
    return StoreError(
        f"The database ({where}) cannot be written: the file or its folder is read-only. "
        "Choose another database location in the settings or fix the permissions.",
        StoreError.READ_ONLY,
    )


def busy_error(where: str) -> StoreError:
    return StoreError(
        f"The database ({where}) is held by another program, which kept it locked for too long; the change "
        "was NOT saved. Close the other program (a database viewer, a sync or backup tool, a stuck Fracture "
        "Triage) and try again.",
        StoreError.BUSY,
    )


def classify(exc: BaseException, where: str, path: Optional[Path] = None) -> StoreError:
    """A clear ``StoreError`` for a driver error (corruption is handled at open, see ``open_store``);
    ``path``: the SQLite file, to tell a full disk (free space) and read-only media apart. The message
    never carries a library's URL or SQL. ``where`` must already be redacted (``core.store.urls.redact``);
    PostgreSQL errors are told apart by their SQLSTATE."""
    state = sqlstate(exc)
    if state == "53100":  # disk_full on the server
        return StoreError(
            f"The database server ({where}) has no disk space left: the last change was NOT saved. "
            "Ask whoever runs the server to free some space, then try again.",
            StoreError.DISK_FULL,
        )
    if state in ("28P01", "28000"):
        return StoreError(
            f"The database server ({where}) refused the login: the user name or password is wrong or "
            "missing. Put the password in ~/.pgpass (host:port:database:user:password) or a service file.",
            StoreError.UNAVAILABLE,
        )
    if state in ("3D000",):
        return StoreError(
            f"The database server ({where}) has no such database. Ask whoever runs the server to create it.",
            StoreError.UNAVAILABLE,
        )
    if state in ("42501",):
        return StoreError(
            f"The database server ({where}) does not allow this user to make that change. Ask whoever "
            "runs the server for the right permissions.",
            StoreError.READ_ONLY,
        )
    if state in ("57014",):
        return StoreError(
            f"The database server ({where}) took too long to answer and the request was stopped; "
            "the change was NOT saved. Try again.",
            StoreError.BUSY,
        )
    if is_connection_lost(exc):
        return StoreError(
            f"The database server ({where}) cannot be reached: it may be down, or the network is "
            "interrupted. The last change was NOT saved; try again when it is back.",
            StoreError.UNAVAILABLE,
        )
    if state is not None and state in _TRANSIENT_STATES:
        return StoreError(
            f"The database server ({where}) stayed busy with other readers' changes; the change was NOT "
            "saved. Try again.",
            StoreError.BUSY,
        )
    text = _text(exc)
    if path is None and where and not re.match(r"^\w+(\+\w+)?://", where):
        path = Path(where)
    free = free_bytes(path)
    if is_disk_full(exc) or ("disk i/o error" in text and free is not None and free < NEARLY_FULL_BYTES):
        return disk_full_error(where, free)
    if is_read_only(exc) or ("unable to open database" in text and on_read_only_media(path)):
        return read_only_error(where, path)
    if "disk i/o error" in text:
        return StoreError(
            f"The disk holding the database ({where}) reported a read or write error: the last change was NOT "
            "saved. If it is a USB or network disk, check that it is still connected, then try again.",
            StoreError.IO_ERROR,
        )
    if "unable to open database" in text:
        return StoreError(
            f"The database file {where} cannot be opened: its folder is missing or not accessible. "
            "Choose another database location in the settings.",
            StoreError.UNAVAILABLE,
        )
    if is_locked(exc):
        return busy_error(where)
    if is_corrupt(exc):
        return StoreError(
            f"The database ({where}) is damaged. Close the app and open it again: the damaged file "
            "will be moved aside and a new database started.",
            StoreError.CORRUPT,
        )
    return StoreError(f"The database ({where}) cannot be used: {plain(exc)}.", StoreError.UNAVAILABLE)
