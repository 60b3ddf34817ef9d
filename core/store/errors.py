"""``StoreError``: every way the database can be unusable, as one exception with a clinician-readable
message and a machine-readable kind, plus the one place that turns raw driver errors into it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional


class StoreError(Exception):
    """The label database cannot be used. ``str(err)`` is the message to show."""

    CORRUPT = "corrupt"
    READ_ONLY = "read_only"
    DISK_FULL = "disk_full"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"

    def __init__(self, message: str, kind: str = UNAVAILABLE, *, moved_to: Optional[Path] = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.moved_to = moved_to


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
    text = _text(exc)
    return "readonly database" in text or "read-only" in text


def classify(exc: BaseException, where: str) -> StoreError:
    """A clear ``StoreError`` for a driver error (corruption is handled at open, see ``open_store``)."""
    if is_disk_full(exc):
        return StoreError(
            f"The disk holding the database ({where}) is full: the last change was NOT saved. "
            "Free some space and try again.",
            StoreError.DISK_FULL,
        )
    if is_read_only(exc):
        return StoreError(
            f"The database ({where}) cannot be written: the file or its folder is read-only "
            "(or on a read-only disk). Choose another database location in the settings or fix the permissions.",
            StoreError.READ_ONLY,
        )
    if "unable to open database" in _text(exc):
        return StoreError(
            f"The database file {where} cannot be opened: its folder is missing or not accessible. "
            "Choose another database location in the settings.",
            StoreError.UNAVAILABLE,
        )
    if is_locked(exc):
        return StoreError(
            f"The database ({where}) stayed busy (another program kept it locked); the change was NOT saved. "
            "Try again.",
            StoreError.BUSY,
        )
    if is_corrupt(exc):
        return StoreError(
            f"The database ({where}) is damaged. Close the app and open it again: the damaged file "
            "will be moved aside and a new database started.",
            StoreError.CORRUPT,
        )
    return StoreError(f"The database ({where}) cannot be used: {exc}", StoreError.UNAVAILABLE)
