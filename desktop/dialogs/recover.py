"""The damaged-database dialog: what happened, and the way back — restore an automatic backup, salvage
what can still be read from the damaged file (moved aside by ``open_store``), or start a new empty
database. The same operations as ``fracture-triage db backups|restore|salvage`` (``core.store.recovery``),
run on the task runner's long-job thread; the dialog closes with ``chosen`` set to what was done.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QVBoxLayout, QWidget)

from core.store import recovery
from desktop.tasks import TaskRunner

RESTORED, SALVAGED, NEW, QUIT = "restored", "salvaged", "new", "quit"


class RecoverDialog(QDialog):
    finished_job = Signal(str)  # RESTORED / SALVAGED, when the job has finished (tests wait on it)

    def __init__(self, message: str, db_path: Path, damaged: Optional[Path], parent: QWidget | None = None,
                 backup_dir: Optional[Path] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("The label database is damaged")
        self.resize(720, 460)
        self.db_path, self.damaged = Path(db_path), damaged
        self.chosen = QUIT
        self.result_text = ""
        self.tasks = TaskRunner(self, workers=1)
        lay = QVBoxLayout(self)
        text = QLabel(html.escape(message))
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(text)
        lay.addWidget(QLabel("<b>Automatic backups of this database</b> (newest first):"))
        self.list = QListWidget(self)
        self.backups = recovery.backups_of(self.db_path, backup_dir)
        for b in self.backups:
            when = b.taken_at.strftime("%Y-%m-%d %H:%M UTC") if b.taken_at else b.path.name
            what = f"{b.decisions} decisions, {b.images} images" if b.decisions is not None else f"unusable: {b.problem}"
            item = QListWidgetItem(f"{when} — {what}")
            item.setData(Qt.ItemDataRole.UserRole, str(b.path))
            if b.decisions is None:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            self.list.addItem(item)
        if not self.backups:
            self.list.addItem("No backups yet (one is taken each day the database is opened).")
            self.list.setEnabled(False)
        else:
            self.list.setCurrentRow(0)
        lay.addWidget(self.list, 1)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        row = QHBoxLayout()
        self.restore_button = QPushButton("Restore selected backup")
        self.restore_button.setEnabled(bool(self.backups))
        self.restore_button.clicked.connect(self.restore_selected)
        self.salvage_button = QPushButton("Salvage from the damaged file")
        self.salvage_button.setEnabled(damaged is not None and Path(damaged).is_file())
        self.salvage_button.setToolTip(str(damaged) if damaged else "")
        self.salvage_button.clicked.connect(self.salvage)
        self.new_button = QPushButton("Start a new, empty database")
        self.new_button.clicked.connect(lambda: self._close_with(NEW))
        for b in (self.restore_button, self.salvage_button, self.new_button):
            row.addWidget(b)
        lay.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(lambda: self._close_with(QUIT))
        lay.addWidget(buttons)

    def _close_with(self, what: str) -> None:
        self.chosen = what
        self.tasks.shutdown()
        self.accept() if what != QUIT else self.reject()

    def _busy(self, text: str) -> None:
        for b in (self.restore_button, self.salvage_button, self.new_button):
            b.setEnabled(False)
        self.status.setText(text)

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(f"<span style='color:#f0a58f'>{html.escape(str(exc))}</span>")
        self.restore_button.setEnabled(bool(self.backups))
        self.salvage_button.setEnabled(self.damaged is not None)
        self.new_button.setEnabled(True)

    def restore_selected(self) -> None:
        item = self.list.currentItem()
        if item is None or not item.data(Qt.ItemDataRole.UserRole):
            return
        backup = Path(item.data(Qt.ItemDataRole.UserRole))
        self._busy(f"Restoring {backup.name}…")

        def done(moved) -> None:
            self.result_text = f"Restored {backup.name}." + (f" The previous file was moved to {moved}." if moved else "")
            self.finished_job.emit(RESTORED)
            self._close_with(RESTORED)

        self.tasks.run_long(lambda _cancel: recovery.restore(self.db_path, backup), done, self._failed)

    def salvage(self) -> None:
        if self.damaged is None:
            return
        target = self.db_path
        self._busy(f"Reading what can still be read from {Path(self.damaged).name}…")

        def work(_cancel):
            staged = target.with_name(target.name + ".salvaged")
            if staged.exists():
                staged.unlink()
            report = recovery.salvage(Path(self.damaged), staged)
            moved = recovery.move_aside(target, "before-salvage")  # a new empty file started meanwhile
            staged.rename(target)
            return report, moved

        def done(result) -> None:
            report, _moved = result
            lost = f", {report.unreadable} rows could not be read" if report.unreadable else ", nothing was lost"
            self.result_text = (f"Salvaged {report.decisions} decisions and {report.predictions} predictions"
                                f"{lost}.")
            self.finished_job.emit(SALVAGED)
            self._close_with(SALVAGED)

        self.tasks.run_long(work, done, self._failed)
