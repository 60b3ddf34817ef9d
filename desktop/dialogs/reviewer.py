"""Asks who is reviewing (name or initials), once; stored with every decision."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget


class ReviewerDialog(QDialog):
    def __init__(self, current: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fracture Triage — Reviewer")
        self.setMinimumWidth(380)
        lay = QVBoxLayout(self)
        intro = QLabel("Who is reviewing? Your name or initials is stored with every decision you make "
                       "(the audit trail). You can change it later in Settings.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.edit = QLineEdit(current)
        self.edit.setPlaceholderText("e.g. Dr A. Mensah or AM")
        self.edit.setMaxLength(80)
        lay.addWidget(self.edit)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.edit.textChanged.connect(self._validate)
        self._validate()

    def _validate(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.name()))

    def name(self) -> str:
        return " ".join(self.edit.text().split())
