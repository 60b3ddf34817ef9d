"""The status bar: scan progress (done/total, rate, cancel) while scanning, then whether the folder is
watched (and the latest new flagged image: click to show it), to review / decided / errors, the model
version and the reviewer (click to change)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from desktop import theme


WATCH_TEXT_MAX = 460  # px: the watch notice never pushes the counts, model and reader off a 1366 px window


class StatusBar(QStatusBar):
    cancel_requested = Signal()
    reviewer_clicked = Signal()
    watch_clicked = Signal(str)  # the row key of the last new flagged image ("" when none)

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
        self.watch = QToolButton()  # "Watching folder" / the last new flagged image (click: show it)
        self.watch.setAutoRaise(True)
        self.watch.setObjectName("watchStatus")
        self.watch.clicked.connect(self._watch_clicked)
        self.watch.hide()
        self._flagged_key = ""
        self._new_scored = 0
        self.addWidget(self.watch)
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
        # QProgressBar.setValue repaints at once (the window with it, ~5 ms per call while a scan runs):
        # set it with updates off; turning them back on asks for an ordinary, coalesced paint instead
        self.progress.setUpdatesEnabled(False)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.progress.setUpdatesEnabled(True)
        self.progress_label.setText(f"Scanning: {done:,} of {total:,} · {rate:.0f} images/s")

    def scan_ended(self, text: str) -> None:
        for w in (self.progress, self.cancel):
            w.hide()
        self.progress_label.setText(text)
        self.progress_label.setVisible(bool(text))

    def watching(self, root, pending: int = 0, scored: int = 0) -> None:  # noqa: ANN001
        """The open folder is watched; ``scored``: new/changed files just listed; ``pending``: being written."""
        self._new_scored += scored
        if self._flagged_key:
            return  # the flagged notice stays until it is clicked or the next folder is opened
        parts = ["Watching the folder for new images"]
        if self._new_scored:
            parts.append(f"{self._new_scored:,} added")
        if pending:
            parts.append(f"{pending:,} being written")
        self.watch.setText(" · ".join(parts))
        self.watch.setToolTip("New and changed files of the open folder are scored as they arrive")
        self.watch.setStyleSheet("")
        self.watch.show()

    def new_flagged(self, message: str, key: str) -> None:
        """A new image of the watched folder is flagged: say so here (no dialog); a click shows it."""
        self._flagged_key = key
        self.progress_label.hide()  # the finished scan's summary makes room for what is new
        text = message + " — show"
        self.watch.setText(self.watch.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, WATCH_TEXT_MAX))
        self.watch.setToolTip(f"{message}\nClick to show this image")
        self.watch.setStyleSheet(f"color: {theme.LABEL_COLOURS['fracture'].name()}; font-weight: 600;")
        self.watch.show()

    def _watch_clicked(self) -> None:
        key, self._flagged_key = self._flagged_key, ""
        self.watch_clicked.emit(key)
        self.watching(None, 0)

    def clear_watch(self) -> None:
        self._flagged_key = ""
        self._new_scored = 0
        self.watch.hide()

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
