"""Settings dialog: reviewer, keyboard shortcuts (a key profile — the app's own or OHIF Viewer's —
then single keys remapped; conflicts refused), thresholds display, database location (with Password… for
a PostgreSQL address: the password into the OS keyring, ``dialogs.db_password``), model file, and how
studies are formed and scored (``core.studies``). Persisted through ``core.settings.Settings`` (never QSettings)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QHeaderView, QKeySequenceEdit, QLabel, QLineEdit, QPushButton, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from core.config import key_profile
from core.paths import app_dirs
from core.settings import Settings
from core.store.urls import UrlError, check_storable, has_password, is_postgres
from core.studies import GROUPINGS
from desktop import shortcuts

KEY_COLUMNS = 3


def db_url_from_text(text: str) -> str:
    """A file path or an SQLAlchemy URL typed by the user → the URL stored in settings ('' = default)."""
    text = text.strip()
    if not text:
        return ""
    if "://" in text:
        return text
    return "sqlite:///" + str(Path(text).expanduser().absolute())


def db_text_from_url(url: str) -> str:
    return url[len("sqlite:///"):] if url.startswith("sqlite:///") else url


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None, tasks=None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.resize(860, 600)
        self.settings = settings
        self.tasks = tasks  # desktop.tasks.TaskRunner: the keyring is called off the GUI thread
        self.password_dialog = None
        lay = QVBoxLayout(self)
        tabs = QTabWidget()
        lay.addWidget(tabs, 1)

        general = QWidget()
        form = QFormLayout(general)
        self.reviewer = QLineEdit(settings.reviewer)
        self.reviewer.setPlaceholderText("your name or initials")
        form.addRow("Reviewer:", self.reviewer)
        self.show_thresholds = QCheckBox("Show the model's flag thresholds in the status bar")
        self.show_thresholds.setChecked(settings.show_thresholds)
        form.addRow("", self.show_thresholds)
        db_row = QHBoxLayout()
        self.database = QLineEdit(db_text_from_url(settings.db_url))
        self.database.setPlaceholderText(f"default: {app_dirs().database}  (or postgresql://user@server/db)")
        self.database.setToolTip("A SQLite file, or a PostgreSQL server shared by several readers: "
                                 "postgresql://user@host/database?sslmode=verify-full. The password is never "
                                 "saved here: use Password… (the OS keyring), ~/.pgpass or a PostgreSQL service file.")
        browse_db = QPushButton("Choose…")
        browse_db.clicked.connect(self._browse_db)
        self.password_button = QPushButton("Password…")
        self.password_button.setToolTip("Keep this PostgreSQL database's password in the OS keyring "
                                        "(never shown or saved in the settings)")
        self.password_button.clicked.connect(self.open_password)
        self.password_button.setVisible(tasks is not None)
        db_row.addWidget(self.database, 1)
        db_row.addWidget(browse_db)
        db_row.addWidget(self.password_button)
        self.database.textChanged.connect(lambda _t: self._password_state())
        self._password_state()
        form.addRow("Database:", db_row)
        model_row = QHBoxLayout()
        self.model_path = QLineEdit(settings.model_path)
        self.model_path.setPlaceholderText("default: the model installed with the app")
        browse_model = QPushButton("Choose…")
        browse_model.clicked.connect(self._browse_model)
        model_row.addWidget(self.model_path, 1)
        model_row.addWidget(browse_model)
        form.addRow("Model file:", model_row)
        self.grouping = QComboBox()
        for g, text in (("folder", "One study per folder (default)"),
                        ("name_prefix", "Files sharing a name prefix in a folder (0042_AP, 0042_LAT)"),
                        ("file", "Every file is its own study")):
            self.grouping.addItem(text, g)
        self.grouping.setCurrentIndex(GROUPINGS.index(settings.study_grouping))
        self.grouping.setToolTip("How images other than DICOM are grouped into studies (DICOM images always "
                                 "by their StudyInstanceUID). $FRACTURE_TRIAGE_STUDY_GROUPING overrides it.")
        form.addRow("Studies:", self.grouping)
        self.study_score = QComboBox()
        self.study_score.addItem("Highest view score (default)", "max")
        self.study_score.addItem("Noisy-OR of the view scores", "noisy_or")
        self.study_score.setCurrentIndex(0 if settings.study_score == "max" else 1)
        self.study_score.setToolTip("How a study's score is made from its views' scores; the model's "
                                    "thresholds were set on single images, so the highest view score keeps "
                                    "their meaning.")
        form.addRow("Study score:", self.study_score)
        note = QLabel("A new database or model location takes effect the next time the app starts; a new "
                      "study rule lists the open folder again at once.")
        note.setObjectName("muted")
        note.setWordWrap(True)
        form.addRow("", note)
        tabs.addTab(general, "General")

        keys = QWidget()
        kl = QVBoxLayout(keys)
        prow = QHBoxLayout()
        prow.addWidget(QLabel("Key profile:"))
        self.profile = QComboBox()
        self.profile.setObjectName("key_profile")
        for name, title in shortcuts.PROFILE_TITLES.items():
            self.profile.addItem(title, name)
        self.profile.setCurrentIndex(max(0, self.profile.findData(key_profile(settings))))
        self.profile.setToolTip("OHIF Viewer: Space reset, R / L rotate, H / V flip, I invert, = fit, + / − zoom, "
                                "Down / Up next / previous image, 1–9 window presets; the heatmap moves to Shift+H "
                                "and the loupe to M. F / N / D decisions stay the same.")
        self.profile.activated.connect(lambda _i: self._show_keys(shortcuts.profile_keys(self.current_profile())))
        prow.addWidget(self.profile)
        prow.addStretch(1)
        kl.addLayout(prow)
        kl.addWidget(QLabel("Choosing a profile sets every key to that profile's. Click a cell and press a new key; "
                            "clear a cell with its ✕ button."))
        self.table = QTableWidget(len(shortcuts.DEFAULT_ACTIONS), 1 + KEY_COLUMNS)
        self.table.setHorizontalHeaderLabels(["Action", "Key", "Alternative", "Alternative"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, 1 + KEY_COLUMNS):  # wide enough for "Ctrl+Shift+Z" and "Backspace"
            self.table.setColumnWidth(col, 136)
        self._editors: dict[str, list[QKeySequenceEdit]] = {}
        for row, spec in enumerate(shortcuts.DEFAULT_ACTIONS):
            item = QTableWidgetItem(spec.label)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.table.setItem(row, 0, item)
            eds = []
            for col in range(KEY_COLUMNS):
                ed = QKeySequenceEdit()
                ed.setClearButtonEnabled(True)
                ed.setMaximumSequenceLength(1)
                self.table.setCellWidget(row, 1 + col, ed)
                eds.append(ed)
            self._editors[spec.name] = eds
        self._show_keys(shortcuts.effective_shortcuts(settings.shortcuts, key_profile(settings)))
        self.table.resizeRowsToContents()
        kl.addWidget(self.table, 1)
        reset = QPushButton("Reset all to the profile's keys")
        reset.clicked.connect(self._reset_keys)
        kl.addWidget(reset, 0, Qt.AlignmentFlag.AlignLeft)
        tabs.addTab(keys, "Keyboard")

        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff8a7a;")
        self.error.setWordWrap(True)
        lay.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def _browse_db(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Database file", str(app_dirs().database),
                                              "SQLite database (*.sqlite3 *.db)",
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.database.setText(path)

    def _password_state(self) -> None:
        url = db_url_from_text(self.database.text())
        try:
            ok = is_postgres(url) and not has_password(url)
        except UrlError:
            ok = False
        self.password_button.setEnabled(ok)

    def open_password(self):  # noqa: ANN201
        """The keyring dialog for the PostgreSQL address typed (``dialogs.db_password``); None when the
        address is not a PostgreSQL one without a password of its own."""
        from desktop.dialogs.db_password import DbPasswordDialog

        url = db_url_from_text(self.database.text())
        if self.tasks is None or not self.password_button.isEnabled():
            return None
        dlg = DbPasswordDialog(url, self.tasks, self)
        self.password_dialog = dlg
        dlg.open()
        return dlg

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model file", "", "ONNX model (*.onnx)")
        if path:
            self.model_path.setText(path)

    def current_profile(self) -> str:
        return str(self.profile.currentData() or "default")

    def _show_keys(self, mapping: dict[str, list[str]]) -> None:
        for name, eds in self._editors.items():
            keys = mapping.get(name, [])
            for col, ed in enumerate(eds):
                ed.setKeySequence(QKeySequence(keys[col]) if col < len(keys) else QKeySequence())

    def _reset_keys(self) -> None:
        self._show_keys(shortcuts.profile_keys(self.current_profile()))

    def key_mapping(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, eds in self._editors.items():
            keys = [shortcuts.normalize(ed.keySequence().toString(QKeySequence.SequenceFormat.PortableText)) for ed in eds]
            out[name] = [k for k in keys if k]
        return out

    def accept(self) -> None:
        mapping = self.key_mapping()
        clashes = shortcuts.conflicts(mapping)
        if clashes:
            key, names = next(iter(clashes.items()))
            labels = [shortcuts.ACTIONS_BY_NAME[n].label for n in names]
            self.error.setText(f"The key {shortcuts.display([key])} is used for more than one action: "
                               f"{' and '.join(labels)}. Give each key one action.")
            return
        try:
            db_url = check_storable(db_url_from_text(self.database.text()))
        except UrlError as exc:
            self.error.setText(str(exc))
            return
        s = self.settings
        s.reviewer = " ".join(self.reviewer.text().split()) or s.reviewer
        s.show_thresholds = self.show_thresholds.isChecked()
        s.db_url = db_url
        s.model_path = self.model_path.text().strip()
        s.key_profile = self.current_profile()
        s.shortcuts = shortcuts.overrides_from(mapping, s.key_profile)
        s.study_grouping = self.grouping.currentData()
        s.study_score = self.study_score.currentData()
        super().accept()
