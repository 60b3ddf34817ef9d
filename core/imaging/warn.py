"""Library warnings while decoding one file: captured per file, never printed raw on the console.

pydicom warns (``UserWarning``, often with hundreds of raw header bytes) and logs through its
``pydicom`` logger; Pillow warns "Corrupt EXIF data" and the like. ``collect()`` gathers, for the
calling thread only, every such warning and log record into a list of short, sanitised texts that
``read_image`` adds to the image's notes (so the scan CSV's ``note`` column, the store and the
viewer's info line carry them). Outside ``collect()`` they go to the app's log (logger
``fracture_triage.warnings``) — never to stderr unless the command was asked to be verbose.

Sanitised: quoted values and byte strings are replaced by ``…`` (a warning may quote a patient's
name from a damaged header), control characters dropped, each text at most ``MAX_CHARS`` long.

``install()`` (idempotent, called on first use) routes ``warnings.showwarning`` through this module,
makes warnings from the decoding libraries ``always`` shown (so every file gets its own, not only
the first of a run) and attaches a handler to the ``pydicom`` logger that stops propagation (no
"last resort" print to stderr).
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from contextlib import contextmanager
from typing import Iterator

MAX_CHARS = 160
MAX_PER_FILE = 5
_LIB_MODULES = r"(pydicom|PIL|pylibjpeg|openjpeg|libjpeg|rle|core)(\..*)?$"
log = logging.getLogger("fracture_triage.warnings")

_local = threading.local()
_lock = threading.Lock()
_installed = False

_QUOTED = re.compile(r"b?'[^']*'|b?\"[^\"]*\"")
_BYTES_ESC = re.compile(r"(\\x[0-9a-fA-F]{2})+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_URL = re.compile(r"(please see )?<?https?://\S+>?( for [^.]*\.?)?", re.IGNORECASE)
PREFIX = "decoder warning: "


def sanitise(text: str) -> str:
    """A warning's text without quoted values, raw bytes or control characters, shortened."""
    text = _URL.sub("", str(text))
    text = _QUOTED.sub("…", text)
    text = _BYTES_ESC.sub("…", text)
    text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def _sink() -> list[str] | None:
    return getattr(_local, "sink", None)


def _add(text: str) -> bool:
    """Into the current thread's collector; False when none is active."""
    sink = _sink()
    if sink is None:
        return False
    if text not in sink and len(sink) < MAX_PER_FILE:
        sink.append(text)
    return True


def _showwarning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    text = PREFIX + sanitise(message)
    if not _add(text):
        log.warning("%s (%s:%s)", text, filename.rsplit("/", 1)[-1] if filename else "?", lineno)


class _PydicomHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING:
            return
        try:
            text = PREFIX + sanitise(record.getMessage())
        except Exception:  # noqa: BLE001 - a malformed record must not break decoding
            return
        if not _add(text):
            log.warning("%s", text)


def install() -> None:
    """Route warnings through this module (cheap to call again: a test harness or another library's
    ``catch_warnings`` may have swapped the hook or the filters back meanwhile)."""
    global _installed
    if warnings.showwarning is not _showwarning:
        warnings.showwarning = _showwarning
    if not any(f[0] == "always" and getattr(f[3], "pattern", None) == _LIB_MODULES for f in warnings.filters[:50]):
        warnings.filterwarnings("always", module=_LIB_MODULES)
    if _installed:
        return
    with _lock:
        if not _installed:
            plog = logging.getLogger("pydicom")
            plog.addHandler(_PydicomHandler())
            plog.propagate = False
            _installed = True


@contextmanager
def collect() -> Iterator[list[str]]:
    """Collect this thread's library warnings while the block runs (nested blocks share the outer list)."""
    install()
    outer = _sink()
    if outer is not None:
        yield outer
        return
    sink: list[str] = []
    _local.sink = sink
    try:
        yield sink
    finally:
        _local.sink = None
