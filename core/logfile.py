"""The app's log files: one file per process, so two app windows (or the app and a ``scan``) never
write or rotate one shared file (renaming an open log fails on Windows, and two rotating handlers on
one file lose records everywhere).

``open_log(kind)`` adds a handler for the ``fracture_triage`` logger hierarchy writing to
``<logs>/<kind>-<UTC time>-<pid>.log`` (``core.paths.app_dirs().logs``) and returns that path; at
most ``KEEP`` files per kind are kept (the oldest are removed when a process starts; a file another
process still holds open is left alone). Nothing here imports Qt.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

ROOT_LOGGER = "fracture_triage"
KEEP = 20
MAX_BYTES = 5_000_000  # one process writes at most this much; then it stops writing (never rotates)
_FORMAT = "%(asctime)s %(levelname)s %(process)d %(threadName)s %(name)s: %(message)s"


class _CappedFileHandler(logging.FileHandler):
    """A plain file handler that stops writing past ``MAX_BYTES`` (one line says so): no rotation,
    so no rename of a file that may be open elsewhere."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=False)
        self._written = 0
        self._full = False

    def emit(self, record: logging.LogRecord) -> None:
        if self._full:
            return
        msg_len = len(self.format(record)) + 1
        if self._written + msg_len > MAX_BYTES:
            self._full = True
            record = logging.makeLogRecord({"name": ROOT_LOGGER, "levelno": logging.WARNING,
                                            "levelname": "WARNING", "msg": "log file full: later records dropped"})
        self._written += msg_len
        super().emit(record)


def log_name(kind: str, when: Optional[datetime] = None, pid: Optional[int] = None) -> str:
    when = when or datetime.now(timezone.utc)
    return f"{kind}-{when.strftime('%Y%m%dT%H%M%SZ')}-{pid or os.getpid()}.log"


def _prune(folder: Path, kind: str, keep: int) -> None:
    files = sorted(folder.glob(f"{kind}-*.log"), key=lambda p: p.name)
    for old in files[: max(0, len(files) - keep)]:
        try:
            old.unlink()
        except OSError:  # still open in another process (Windows) or not ours to remove
            pass


def open_log(kind: str, level: int = logging.INFO, *, folder: Optional[Path] = None, keep: int = KEEP) -> Optional[Path]:
    """Send ``fracture_triage.*`` records to this process's own log file; returns its path, or None
    when the logs folder cannot be written (records then go to stderr, warnings and up only)."""
    from core.paths import app_dirs

    root = logging.getLogger(ROOT_LOGGER)
    root.setLevel(level)
    for h in list(root.handlers):
        if getattr(h, "_fracture_triage", False):
            root.removeHandler(h)
            h.close()
    path: Optional[Path]
    try:
        folder = Path(folder) if folder is not None else app_dirs().logs
        folder.mkdir(parents=True, exist_ok=True)
        _prune(folder, kind, max(1, keep) - 1)
        path = folder / log_name(kind)
        handler: logging.Handler = _CappedFileHandler(path)
    except OSError:
        path = None
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler._fracture_triage = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    return path


def current_log() -> Optional[Path]:
    """The file this process logs to (None before ``open_log`` or without a writable folder)."""
    for h in logging.getLogger(ROOT_LOGGER).handlers:
        if getattr(h, "_fracture_triage", False) and isinstance(h, logging.FileHandler):
            return Path(h.baseFilename)
    return None
