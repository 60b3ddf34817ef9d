"""``run_app(argv)``: the desktop app's entry (called by ``desktop.launcher`` for the GUI path).

``fracture-triage [FOLDER] [--db URL] [--reviewer NAME] [--demo] [--model PATH] [--quit-after-scan]``.
Sets up logging and the exception hook, high-DPI, the theme, opens the store and the model (a missing
model is not fatal: the window says so), asks the reviewer once, and shows the main window.
``--quit-after-scan`` (packaging smoke test) scans FOLDER and exits: 0 when the scan completed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from core import APP_NAME, app_version

log = logging.getLogger("fracture_triage.desktop.app")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fracture-triage", description=f"{APP_NAME}: open a folder of X-rays and triage "
                                "them by fracture probability (desktop app). Subcommands: scan, info, export, …")
    p.add_argument("folder", nargs="?", help="folder of X-rays to open (scanned in the background)")
    p.add_argument("--db", metavar="URL", help="database URL (default: $FRACTURE_TRIAGE_DB, else the settings' "
                   "database, else the one in the user data directory)")
    p.add_argument("--reviewer", metavar="NAME", help="reviewer name or initials (otherwise asked once)")
    p.add_argument("--demo", action="store_true", help="open the demo radiographs (needs the pydicom-data package)")
    p.add_argument("--model", metavar="PATH", help="an .onnx model with its card (default: $FRACTURE_TRIAGE_MODEL, "
                   "else the settings' model, else the installed one)")
    p.add_argument("--quit-after-scan", action="store_true",
                   help="scan FOLDER, print a summary and exit (0 when the scan completed): for smoke tests")
    p.add_argument("--version", action="version", version=f"{APP_NAME} {app_version()}")
    return p


def load_model_or_reason(path: Path | str | None):
    """(model, '') or (None, a one-line reason shown in the window). ``path`` None: the installed model."""
    from core.model import ModelError, load_model

    try:
        return load_model(Path(path) if path else None), ""
    except ModelError as exc:
        return None, str(exc)
    except OSError as exc:
        return None, f"the model file cannot be read ({exc.strerror or exc})"


def run_app(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv if argv is not None else sys.argv[1:])
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication, QMessageBox

    from core.config import resolve
    from core.store import StoreError, open_store
    from desktop import gc_guard, theme
    from desktop.errors import ErrorReporter, setup_logging

    log_file = setup_logging()
    log.info("starting %s %s", APP_NAME, app_version())
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "fracture-triage"])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(app_version())
    app.setOrganizationName("fracture-triage")
    app.setDesktopFileName("fracture-triage")
    app.setWindowIcon(theme.app_icon())
    theme.apply_theme(app)
    gc_guard.install(app)  # cycles freed on the GUI thread, never on a worker (desktop.gc_guard)
    reporter = ErrorReporter(log_file, app)
    reporter.install()

    config = resolve(db=args.db, model=args.model)
    settings = config.settings
    if args.reviewer:
        settings.reviewer = " ".join(args.reviewer.split())
    headless = args.quit_after_scan
    try:
        store = open_store(config.db_url, backups_keep=config.backups_keep)
    except StoreError as exc:
        log.error("database unusable: %s", exc)
        store = None if headless else _recover(exc, config.db_url, config.backups_keep)
        if store is None:
            if headless:
                print(f"{APP_NAME}: {exc}", file=sys.stderr)
            elif exc.kind != StoreError.CORRUPT:
                QMessageBox.critical(None, APP_NAME, f"The label database cannot be used.\n\n{exc}\n\n"
                                     "Choose another location with --db, or in settings.json (db_url).")
            reporter.uninstall()
            return 2
    from core.model.registry import Registry

    try:
        resolved = Registry().resolve(config.model_path, config.model_source, store)
        model_path, model_note = resolved.path, resolved.note
    except Exception as exc:  # noqa: BLE001 - e.g. no shipped model: load_model_or_reason says why
        model_path, model_note = config.model_path, f"{exc}"
    model, problem = load_model_or_reason(model_path)
    if model_note:
        log.warning("model: %s", model_note)
    if model is None:
        log.warning("no model: %s", problem)
    if headless and model is None:
        print(f"{APP_NAME}: no usable model: {problem}", file=sys.stderr)

    from desktop.main_window import MainWindow

    window = MainWindow(store=store, model=model, settings=settings, reviewer=settings.reviewer, model_problem=problem)
    window.quit_after_scan = headless
    window.show()
    if not headless and not settings.reviewer:
        window.open_reader_dialog()  # remembered on this machine afterwards (Review › Reader… changes it)
    if args.demo:
        window.open_demo()
    elif args.folder:
        if not window.open_folder(args.folder) and headless:
            window.exit_code = 2
            window.close()
            return _finish(app, window, store, reporter)
        if headless and model is None:
            window.exit_code = 3
            window.close()
            return _finish(app, window, store, reporter)
    elif headless:
        print(f"{APP_NAME}: --quit-after-scan needs a FOLDER", file=sys.stderr)
        window.exit_code = 2
        window.close()
        return _finish(app, window, store, reporter)
    app.exec()
    return _finish(app, window, store, reporter)


def _recover(exc, db_url: str, backups_keep: int):
    """A damaged database: the recovery dialog (restore a backup, salvage, or start anew), then open
    the database again. None when the user closes it or the database still cannot be opened."""
    from PySide6.QtWidgets import QMessageBox

    from core.store import StoreError, open_store
    from core.store.engine import sqlite_path
    from desktop.dialogs.recover import QUIT, RecoverDialog

    path = sqlite_path(db_url)
    if exc.kind != StoreError.CORRUPT or path is None:
        return None
    dialog = RecoverDialog(str(exc), path, exc.moved_to)
    dialog.exec()
    if dialog.chosen == QUIT:
        return None
    try:
        store = open_store(db_url, backups_keep=backups_keep)
    except StoreError as again:
        QMessageBox.critical(None, APP_NAME, f"The label database cannot be used.\n\n{again}")
        return None
    if dialog.result_text:
        log.info("database recovery: %s", dialog.result_text)
        QMessageBox.information(None, APP_NAME, dialog.result_text)
    return store


def _finish(app, window, store, reporter) -> int:
    code = window.exit_code
    try:
        store.close()
    except Exception:  # noqa: BLE001 - closing must not turn a clean exit into a crash
        log.exception("closing the store")
    reporter.uninstall()
    if os.environ.get("FRACTURE_TRIAGE_DEBUG_ERRORS") and reporter.count:
        code = code or 4
    log.info("exit %s", code)
    return code
