"""The reader dialog: who is reading at this workstation (name or initials, stored with every decision),
their role (reader / adjudicator, kept in the database), the reading mode (aided / blinded) and the
clinic's double-reading policy (kept in the database, for every workstation using it). Shown at the
first start and from Review › Reader…; the choice is remembered on this machine (settings.json).

The known readers and the policy are read from the store by the caller, off the GUI thread, and
handed in with ``set_known``; the dialog itself never touches the database. ``chosen`` carries a
``core.reading.Reading``.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout,
                               QLabel, QRadioButton, QVBoxLayout, QWidget)

from core.reading import ADJUDICATOR, AIDED, BLINDED, READER, Reading


class ReaderDialog(QDialog):
    chosen = Signal(object)  # core.reading.Reading

    def __init__(self, current: Reading, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fracture Triage — Reader")
        self.setMinimumWidth(560)
        self._roles: dict[str, str] = {}
        self._auto_role = False  # the role buttons show a known reader's role (not the user's own pick)
        lay = QVBoxLayout(self)
        intro = QLabel("Who is reading at this workstation? Your name or initials is stored with every decision "
                       "you make (the audit trail), with your role and the reading mode.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.name.lineEdit().setPlaceholderText("e.g. Dr A. Mensah or AM")
        self.name.lineEdit().setMaxLength(80)
        self.name.setEditText(current.reader)
        form.addRow("Reader:", self.name)
        self.reader_role = QRadioButton("Reader")
        self.adjudicator_role = QRadioButton("Adjudicator")
        self.adjudicator_role.setToolTip("Settles the images where readers disagree, and sees every reader's label")
        self.role_group = _group(self, self.reader_role, self.adjudicator_role)
        (self.adjudicator_role if current.adjudicator else self.reader_role).setChecked(True)
        self.role_group.buttonClicked.connect(lambda _b: setattr(self, "_auto_role", False))
        form.addRow("Role:", _row(self.reader_role, self.adjudicator_role))
        self.aided = QRadioButton("Aided — the model's score, flag and heatmap are shown")
        self.blinded = QRadioButton("Blinded — the model is hidden, images in random order")
        self.mode_group = _group(self, self.aided, self.blinded)
        (self.blinded if current.blinded else self.aided).setChecked(True)
        mode_box = QVBoxLayout()
        mode_box.setContentsMargins(0, 0, 0, 0)
        mode_box.addWidget(self.aided)
        mode_box.addWidget(self.blinded)
        holder = QWidget()
        holder.setLayout(mode_box)
        form.addRow("Reading:", holder)
        self.double = QCheckBox("Double reading")
        self.double.setChecked(current.double_reading)
        self.double.setToolTip("The clinic's policy, kept in the database: it applies to every workstation using it.")
        double_help = QLabel("Every image is read by two readers. Off: one reading per image, shared out between "
                             "the readers. Either way no reader sees another's label; this applies to every "
                             "workstation using this database.")
        double_help.setWordWrap(True)
        double_help.setObjectName("dialogNote")
        double_box = QVBoxLayout()
        double_box.setContentsMargins(0, 0, 0, 0)
        double_box.addWidget(self.double)
        double_box.addWidget(double_help)
        double_holder = QWidget()
        double_holder.setLayout(double_box)
        form.addRow("Clinic:", double_holder)
        lay.addLayout(form)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setObjectName("dialogNote")
        lay.addWidget(self.note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.name.editTextChanged.connect(self._name_changed)
        self._validate()

    # -- what the store knows (read by the caller off the GUI thread) ------------------------------------
    def set_known(self, known: tuple[list[tuple[str, str]], bool]) -> None:
        """(readers as (name, role), the double-reading policy) from the store."""
        readers, double = known
        text = self.name.currentText()
        self._roles = dict(readers)
        self.name.blockSignals(True)
        self.name.clear()
        self.name.addItems([n for n, _ in readers])
        self.name.setEditText(text)
        self.name.blockSignals(False)
        self.double.setChecked(bool(double))
        self._name_changed(text)

    def _name_changed(self, text: str) -> None:
        role = self._roles.get(" ".join(text.split()))
        if role is not None:
            (self.adjudicator_role if role == ADJUDICATOR else self.reader_role).setChecked(True)
            self._auto_role = True
        elif self._auto_role:  # the role shown was a known reader's: a new reader starts as a reader
            self.reader_role.setChecked(True)
            self._auto_role = False
        if role is not None:
            what = "an adjudicator (settles disagreements, sees every reader's label)" if role == ADJUDICATOR else "a reader"
            self.note.setText(f"{self.name_text()} is known in this database as {what}.")
        else:
            self.note.setText("A new reader is added to the database with their first decision." if text.strip() else "")
        self._validate()

    def _validate(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.name_text()))

    # -- the choice --------------------------------------------------------------------------------------
    def name_text(self) -> str:
        return " ".join(self.name.currentText().split())

    def reading(self) -> Reading:
        return Reading(self.name_text(), ADJUDICATOR if self.adjudicator_role.isChecked() else READER,
                       BLINDED if self.blinded.isChecked() else AIDED, self.double.isChecked())

    def role_known(self) -> bool:
        """The chosen role is what the database records already (nothing to write)."""
        return self._roles.get(self.name_text()) == self.reading().role

    def _accept(self) -> None:
        if not self.name_text():
            return
        self.chosen.emit(self.reading())
        self.accept()


def _group(parent: QWidget, *buttons: QRadioButton) -> QButtonGroup:
    g = QButtonGroup(parent)
    for b in buttons:
        g.addButton(b)
    return g


def _row(*widgets: QWidget) -> QWidget:
    w = QWidget()
    h = QHBoxLayout(w)
    h.setContentsMargins(0, 0, 0, 0)
    for x in widgets:
        h.addWidget(x)
    h.addStretch(1)
    return w
