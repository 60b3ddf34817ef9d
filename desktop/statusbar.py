"""The status bar: scan progress (done/total, rate, cancel) while scanning, then to review / decided /
errors, the model version and the reviewer (click to change)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from desktop import theme


class StatusBar(QStatusBar):
    cancel_requested = Signal()
    reviewer_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setFormat("%v / %m")
        self.progress_label = QLabel("")
        self.cancel = QToolButton()
        self.cancel.setIcon(theme.icon("cancel"))
        self.cancel.setText("Cancel scan")
        self.cancel.setToolTip("Stop the scan (results so far are kept)")
        self.cancel.setAutoRaise(True)
        self.cancel.clicked.connect(self.cancel_requested)
        for w in (self.progress, self.progress_label, self.cancel):
            self.addWidget(w)
            w.hide()
        self.counts = QLabel("")
        self.thresholds = QLabel("")
        self.model = QLabel("")
        self.reviewer = QToolButton()
        self.reviewer.setAutoRaise(True)
        self.reviewer.setToolTip("Change the reviewer")
        self.reviewer.clicked.connect(self.reviewer_clicked)
        self.addPermanentWidget(self.counts)
        self.addPermanentWidget(self.thresholds)
        self.addPermanentWidget(self.model)
        self.addPermanentWidget(self.reviewer)

    def scan_started(self) -> None:
        self.progress.setRange(0, 0)
        self.progress_label.setText("Scanning…")
        for w in (self.progress, self.progress_label, self.cancel):
            w.show()

    def scan_progress(self, done: int, total: int, rate: float) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.progress_label.setText(f"Scanning: {done:,} of {total:,} · {rate:.0f} images/s")

    def scan_ended(self, text: str) -> None:
        for w in (self.progress, self.cancel):
            w.hide()
        self.progress_label.setText(text)
        self.progress_label.setVisible(bool(text))

    def set_counts(self, counts: dict[str, int]) -> None:
        parts = [f"To review <b>{counts.get('to_review', 0):,}</b>", f"Decided <b>{counts.get('decided', 0):,}</b>"]
        errors = counts.get("errors", 0)
        parts.append(f"<span style='color:#f0a58f'>Errors <b>{errors:,}</b></span>" if errors else "Errors 0")
        self.counts.setText(" · ".join(parts))

    def set_model(self, text: str, ok: bool) -> None:
        self.model.setText(text if ok else f"<span style='color:#f3c46b'>{text}</span>")

    def set_thresholds(self, text: str) -> None:
        self.thresholds.setText(text)
        self.thresholds.setVisible(bool(text))

    def set_reviewer(self, name: str) -> None:
        self.reviewer.setText(f"Reviewer: {name}" if name else "Reviewer: (not set)")
