"""The dialogs the main window opens (Export, Model, Settings, Reader, Agreement, the demo folder) and
what their answers change in the session: a mixin of ``MainWindow`` (``desktop.main_window``), which
assembles the parts these methods use (``session``, ``tasks``, ``settings``, ``review``, ``worklist``,
``actions``, ``status``). The dialogs themselves live in ``desktop.dialogs``.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from core import APP_NAME
from core.config import resolve
from core.reading import Reading
from desktop.dialogs.export import ExportDialog
from desktop.dialogs.reviewer import ReaderDialog
from desktop.dialogs.settings import SettingsDialog

log = logging.getLogger("fracture_triage.desktop.window")


class WindowDialogs:
    """Opening the window's dialogs and applying what they return (mixed into ``MainWindow``)."""

    def open_export(self) -> ExportDialog:
        store = self.session.store
        dlg = ExportDialog(self.tasks, store, self.session.thresholds if self.session.model else None, [],
                           parent=self, study_grouping=self.session.study_grouping)
        self.export_dialog = dlg
        # the reviewer list is a convenience: read it in the background; a failure leaves "All reviewers"
        self.tasks.run_in_background(store.reviewers, dlg.set_reviewers, lambda exc: None)
        dlg.open()
        return dlg

    def open_model_dialog(self, registry=None):
        """The Model dialog (performance here, calibration, registry, compare); see desktop.dialogs.model."""
        from desktop.dialogs.model import ModelDialog

        dlg = ModelDialog(self.tasks, self.session, self, registry=registry)
        dlg.thresholds_changed.connect(self._thresholds_changed)
        dlg.model_activated.connect(self._model_activated)
        self.model_dialog = dlg
        dlg.open()
        return dlg

    def _thresholds_changed(self) -> None:
        self.session.thresholds_changed()
        self._refresh_status_static()

    def _model_activated(self, model) -> None:
        self.session.switch_model(model)
        self.model_problem = ""
        self._refresh_status_static()

    def open_settings(self) -> None:
        dlg = SettingsDialog(self.settings, self, tasks=self.tasks)
        self.settings_dialog = dlg
        if dlg.exec():
            self.apply_shortcuts()
            self.session.set_reviewer(self.settings.reviewer)
            run = resolve(settings=self.settings)
            self.session.set_study_rules(run.study_grouping, run.study_score)
            self.save_settings()
            self._refresh_status_static()

    # -- readers ---------------------------------------------------------------------------------------
    def open_reader_dialog(self) -> ReaderDialog:
        """Who reads here, their role and mode, the clinic's double reading (Review › Reader…)."""
        current = self.session.reading
        if current.reader != self.session.reviewer:
            current = Reading(self.session.reviewer, mode=self.session.mode)
        dlg = ReaderDialog(current, self)
        self.reader_dialog = dlg
        store = self.session.store
        self.tasks.run_in_background(lambda: (store.readers(), store.double_reading()), dlg.set_known,
                                     lambda exc: log.warning("readers not read: %s", type(exc).__name__))
        dlg.chosen.connect(lambda reading, d=dlg: self._reader_chosen(reading, d.role_known()))
        dlg.open()
        return dlg

    def _reader_chosen(self, reading: Reading, role_known: bool) -> None:
        self.settings.reviewer, self.settings.reading_mode = reading.reader, reading.mode
        self.save_settings()
        store, policy_changed = self.session.store, reading.double_reading != self.session.reading.double_reading

        def write() -> None:  # the writer thread: before any decision of the new reader
            if not role_known:
                store.set_reader(reading.reader, reading.role)
            if policy_changed:
                store.set_double_reading(reading.double_reading)

        def done(_=None) -> None:
            self.session.set_reviewer(reading.reader, reading.mode, reload=not role_known or policy_changed)
            self._refresh_status_static()

        self.tasks.run_on_writer(write, done, lambda exc: QMessageBox.warning(
            self, APP_NAME, f"The reader's role could not be saved: {exc}"))

    def _reading_changed(self, reading: Reading) -> None:
        self.review.set_blinded(reading.blinded)
        self.worklist.set_blinded(reading.blinded)
        enabled = self.actions["next"].isEnabled()
        self.actions["heatmap"].setEnabled(enabled and not reading.blinded)
        self.opacity.setEnabled(enabled and not reading.blinded)
        self._refresh_status_static()

    def open_agreement(self):
        """The agreement page (Review › Agreement between readers…); see desktop.dialogs.agreement."""
        from desktop.dialogs.agreement import AgreementDialog

        dlg = AgreementDialog(self.tasks, self.session.store, self)
        self.agreement_dialog = dlg
        dlg.open()
        dlg.refresh()
        return dlg

    def open_demo(self) -> None:
        from core.demo import DemoUnavailable, build_demo_folder

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, (DemoUnavailable, OSError)):
                raise exc
            text = str(exc) if isinstance(exc, DemoUnavailable) else f"The demo folder could not be made: {exc}"
            if self.quit_after_scan:
                print(text, flush=True)
                self.exit_code = 2
                QTimer.singleShot(0, self.close)
            else:
                QMessageBox.information(self, APP_NAME, text)

        self.tasks.run_in_background(build_demo_folder, self.open_folder, failed)
