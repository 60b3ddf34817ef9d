"""Logging and unexpected-error handling for the desktop app.

Owns: the desktop's log file (one per process, see ``core.logfile``), the ``sys.excepthook`` /
``threading.excepthook`` that log unexpected exceptions, and the one-time, plain-language report of
them (never a traceback dialog). Expected failures (a corrupt file, an unusable database) are shown by
the code that expects them; this module is only for bugs.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QMessageBox


log = logging.getLogger("fracture_triage.desktop")
LOG_KIND = "desktop"  # this process's log: <logs>/desktop-<UTC time>-<pid>.log (core.logfile)


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Send the app's log records to this process's own file in the logs folder (``core.logfile``:
    one file per process, so two windows never share or rotate one file). Returns the file, or None
    when the logs folder cannot be written (the app still runs; records go to stderr)."""
    from core.logfile import open_log

    return open_log(LOG_KIND, level)


class ErrorReporter(QObject):
    """Logs unexpected exceptions from any thread and tells the user once, in plain words."""

    _show = Signal(str)
    reported = Signal(str)  # the message shown (tests and the status bar listen)

    def __init__(self, log_file: Path | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_file = log_file
        self.count = 0
        self._told = False
        self._prev_hook = None
        self._prev_thread_hook = None
        self._show.connect(self._show_message, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        self._prev_hook = sys.excepthook
        self._prev_thread_hook = threading.excepthook
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook

    def uninstall(self) -> None:
        if self._prev_hook is not None:
            sys.excepthook = self._prev_hook
            threading.excepthook = self._prev_thread_hook  # type: ignore[assignment]
            self._prev_hook = None

    def _excepthook(self, etype, value, tb) -> None:
        if issubclass(etype, KeyboardInterrupt):
            QApplication.quit()
            return
        self.report(value, tb)

    def _thread_excepthook(self, args) -> None:
        self.report(args.exc_value, args.exc_traceback, where=getattr(args.thread, "name", "thread"))

    def report(self, exc: BaseException | None, tb=None, where: str = "") -> None:
        """Log ``exc`` with its traceback; show one short message per session."""
        self.count += 1
        log.error("unexpected error%s", f" in {where}" if where else "",
                  exc_info=(type(exc), exc, tb or getattr(exc, "__traceback__", None)) if exc else None)
        if self._told:
            return
        self._told = True
        where_log = f"\n\nDetails were written to:\n{self.log_file}" if self.log_file else ""
        self._show.emit(
            "Something unexpected went wrong inside Fracture Triage. Decisions already recorded are safe. "
            "If the app behaves oddly, close and reopen it." + where_log)

    def _show_message(self, text: str) -> None:
        self.reported.emit(text)
        parent = QApplication.activeWindow()
        box = QMessageBox(QMessageBox.Icon.Warning, "Fracture Triage", text, QMessageBox.StandardButton.Ok, parent)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setModal(False)
        box.show()
