"""What the window shows before a folder is open: what to do, in one glance (open a folder, drop one
here, a recent folder, or the demo)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop import theme


class EmptyState(QWidget):
    open_requested = Signal()
    demo_requested = Signal()
    recent_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        outer = QVBoxLayout(self)
        outer.addStretch(2)
        icon = QLabel()
        icon.setPixmap(theme.app_icon().pixmap(QSize(96, 96)))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        outer.addWidget(icon)
        title = QLabel("<span style='font-size:20pt; font-weight:600'>Open a folder of X-rays to start</span>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        outer.addWidget(title)
        hint = QLabel("Choose <b>File › Open Folder…</b> (Ctrl+O) or drag a folder onto this window. "
                      "Every image in it (JPEG, PNG, TIFF, BMP, DICOM — subfolders too) is scored, and the worklist "
                      "puts the most likely fractures first. Press <b>?</b> at any time for the keys.")
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setFixedWidth(600)
        hint.setObjectName("muted")
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(hint)
        row.addStretch(1)
        outer.addLayout(row)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.open_button = QPushButton(theme.icon("open-folder"), "  Open Folder…")
        self.open_button.setObjectName("primary")
        self.open_button.setIconSize(QSize(20, 20))
        self.open_button.clicked.connect(self.open_requested)
        self.demo_button = QPushButton(theme.icon("demo"), "  Try the demo images")
        self.demo_button.setIconSize(QSize(20, 20))
        self.demo_button.clicked.connect(self.demo_requested)
        buttons.addWidget(self.open_button)
        buttons.addSpacing(12)
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)
        outer.addSpacing(12)
        outer.addLayout(buttons)
        self._recent_box = QVBoxLayout()
        self._recent_box.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        outer.addSpacing(18)
        outer.addLayout(self._recent_box)
        outer.addStretch(3)

    def set_recent(self, folders: list[str]) -> None:
        while self._recent_box.count():
            w = self._recent_box.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        if not folders:
            return
        head = QLabel("Recent folders")
        head.setObjectName("muted")
        head.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._recent_box.addWidget(head)
        for f in folders[:5]:
            link = QPushButton(theme.icon("recent"), f"  {Path(f).name or f}   —   {f}")
            link.setFlat(True)
            link.setStyleSheet("QPushButton { border: none; color: #6fb3ec; text-align: left; padding: 3px; }"
                               " QPushButton:hover { text-decoration: underline; }")
            link.clicked.connect(lambda _=False, folder=f: self.recent_requested.emit(folder))
            self._recent_box.addWidget(link)
