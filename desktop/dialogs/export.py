"""Export dialog over ``core.export.export_labels``: destination, with images or not, filters (reviewer,
decided since, labels). The export runs on the task runner; the dialog shows progress and the result."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDateEdit, QDialog, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from core.export import ExportCancelled, ExportError, export_labels
from core.store import StoreError

ALL_REVIEWERS = "All reviewers"


def default_destination() -> Path:
    return Path.home() / f"fracture-labels-{date.today().isoformat()}"


class ExportDialog(QDialog):
    finished_export = Signal(object)  # ExportSummary, or None after a failure/cancel

    def __init__(self, tasks, store, thresholds=None, reviewers: list[str] | None = None,
                 destination: Path | None = None, parent: QWidget | None = None, *,
                 study_grouping: str = "folder") -> None:
        super().__init__(parent)
        self._study_grouping = study_grouping  # the study column's rule (core.config's, via the session)
        self.setWindowTitle("Export labels for retraining")
        self.setMinimumWidth(560)
        self._tasks, self._store, self._thresholds = tasks, store, thresholds
        self._cancel = None
        self.summary = None
        lay = QVBoxLayout(self)
        intro = QLabel("Writes labels.csv and labels.json (pseudonymous ids, no patient identifiers) and, if "
                       "chosen, the images as PNG in fracture/, no_fracture/ and doubt/ folders — ready for "
                       "<code>fracture-triage train --data</code>.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        dest_row = QHBoxLayout()
        self.destination = QLineEdit(str(destination or default_destination()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        dest_row.addWidget(self.destination, 1)
        dest_row.addWidget(browse)
        form.addRow("New folder:", dest_row)
        self.with_images = QCheckBox("Include the images (8-bit greyscale PNG, no metadata)")
        form.addRow("", self.with_images)
        self.reviewer = QComboBox()
        self.reviewer.addItem(ALL_REVIEWERS)
        self.set_reviewers(reviewers or [])
        form.addRow("Decided by:", self.reviewer)
        since_row = QHBoxLayout()
        self.use_since = QCheckBox("Only decided since")
        self.since = QDateEdit(QDate.currentDate().addMonths(-1))
        self.since.setCalendarPopup(True)
        self.since.setDisplayFormat("yyyy-MM-dd")
        self.since.setEnabled(False)
        self.use_since.toggled.connect(self.since.setEnabled)
        since_row.addWidget(self.use_since)
        since_row.addWidget(self.since)
        since_row.addStretch(1)
        form.addRow("Date:", since_row)
        labels_row = QHBoxLayout()
        self.label_boxes = {}
        for name, text in (("fracture", "Fracture"), ("no_fracture", "No fracture"), ("doubt", "Doubt")):
            box = QCheckBox(text)
            box.setChecked(True)
            self.label_boxes[name] = box
            labels_row.addWidget(box)
        labels_row.addStretch(1)
        form.addRow("Labels:", labels_row)
        lay.addLayout(form)
        self.progress = QProgressBar()
        self.progress.hide()
        lay.addWidget(self.progress)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        lay.addWidget(self.result)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.export_button = QPushButton("Export")
        self.export_button.setObjectName("primary")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self._close_or_cancel)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)
        lay.addLayout(buttons)

    def set_reviewers(self, reviewers: list[str]) -> None:
        """Offer these reviewers (read off the GUI thread by the caller), keeping the current choice."""
        current = self.reviewer.currentText()
        for r in reviewers:
            if self.reviewer.findText(r) < 0:
                self.reviewer.addItem(r)
        self.reviewer.setCurrentIndex(max(0, self.reviewer.findText(current)))

    def _browse(self) -> None:
        parent = QFileDialog.getExistingDirectory(self, "Where to create the export folder", str(Path.home()))
        if parent:
            self.destination.setText(str(Path(parent) / default_destination().name))

    def options(self) -> dict:
        reviewer = self.reviewer.currentText()
        return {
            "out": Path(self.destination.text().strip()).expanduser(),
            "images": self.with_images.isChecked(),
            "reviewer": None if reviewer == ALL_REVIEWERS else reviewer,
            "since": self.since.date().toPython() if self.use_since.isChecked() else None,
            "labels": [k for k, b in self.label_boxes.items() if b.isChecked()],
        }

    def start(self) -> None:
        opts = self.options()
        if not self.destination.text().strip():
            self.result.setText("Choose a destination folder.")
            return
        if not opts["labels"]:
            self.result.setText("Choose at least one label to export.")
            return
        self.export_button.setEnabled(False)
        self.close_button.setText("Cancel")
        self.progress.setRange(0, 0)
        self.progress.show()
        self.result.setText("Exporting…")
        store, thresholds, tasks, grouping = self._store, self._thresholds, self._tasks, self._study_grouping

        def progress(done: int, total: int) -> None:
            tasks.run_on_main(lambda: (self.progress.setRange(0, max(total, 1)), self.progress.setValue(done)))

        def job(cancel):
            return export_labels(store, opts["out"], images=opts["images"], reviewer=opts["reviewer"],
                                 since=opts["since"], labels=opts["labels"], thresholds=thresholds,
                                 study_grouping=grouping, on_progress=progress, cancel=cancel)

        self._cancel = tasks.run_long(job, self._done, self._failed)

    def _done(self, summary) -> None:
        self._cancel = None
        self.summary = summary
        self.progress.hide()
        self.export_button.setEnabled(True)
        self.close_button.setText("Close")
        counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in summary.counts.items() if n) or "no labels"
        text = f"Exported {summary.rows} decided image(s) ({counts}) to {summary.out}."
        if summary.images_written:
            text += f" {summary.images_written} image(s) written."
        if summary.missing:
            text += f" {len(summary.missing)} image(s) could not be exported (their files are missing or unreadable)."
        self.result.setText(text)
        self.finished_export.emit(summary)

    def _failed(self, exc: BaseException) -> None:
        self._cancel = None
        self.progress.hide()
        self.export_button.setEnabled(True)
        self.close_button.setText("Close")
        if isinstance(exc, ExportCancelled):
            self.result.setText("Export cancelled; nothing was written.")
        elif isinstance(exc, (ExportError, StoreError)):
            self.result.setText(f"Export failed: {exc}")
        elif isinstance(exc, OSError):
            self.result.setText(f"Export failed: {exc.strerror or exc}. Nothing was written.")
        else:
            self.finished_export.emit(None)
            raise exc
        self.finished_export.emit(None)

    def _close_or_cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            return
        self.accept()

    def reject(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            return
        super().reject()
