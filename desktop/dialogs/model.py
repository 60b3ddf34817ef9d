"""The Model dialog: the clinic's own loop over ``core.evaluation`` and ``core.model.registry``.

Tabs: *Performance* (the report as text, its plain-language alarm, the ROC curve with both operating
points and the calibration plot), *Calibration* (proposal fitted on the confirmed labels, Apply,
Revert to the card's thresholds, the history of calibration events), *Models* (the registry: add,
activate, remove; compare a candidate in the background with progress, the most-disagreeing images
openable in a viewer). Every read and computation runs on the task runner; every change is a
recorded event written on the writer thread. No statistics are computed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel,
                               QMessageBox, QPlainTextEdit, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from desktop.charts import CalibrationPlot, RocPlot


def _text_box() -> QPlainTextEdit:
    t = QPlainTextEdit()
    t.setReadOnly(True)
    f = QFont("monospace")
    f.setStyleHint(QFont.StyleHint.Monospace)
    t.setFont(f)
    t.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
    return t


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class ModelDialog(QDialog):
    thresholds_changed = Signal()  # a calibration was applied or reverted
    model_activated = Signal(object)  # the newly activated core.model.Model
    report_ready = Signal(object)  # performance report dict (tests wait on it)
    proposal_ready = Signal(object)
    compare_done = Signal(object)  # compare report dict, or None after a failure/cancel

    def __init__(self, tasks, session, parent: QWidget | None = None, registry=None) -> None:
        super().__init__(parent)
        from core.model.registry import Registry

        self.setWindowTitle("Model: performance here, calibration, models")
        self.resize(980, 680)
        self.tasks, self.session = tasks, session
        self.registry = registry or Registry()
        self.report: Optional[dict] = None
        self.proposal = None
        self.compare_report: Optional[dict] = None
        self._cancel = None
        self._viewers: list[QDialog] = []
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget()
        lay.addWidget(self.tabs)
        self.tabs.addTab(self._performance_tab(), "Performance")
        self.tabs.addTab(self._calibration_tab(), "Calibration")
        self.tabs.addTab(self._models_tab(), "Models")
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        lay.addWidget(close)
        self.refresh()

    # ------------------------------------------------------------------ building
    def _performance_tab(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        top = QHBoxLayout()
        self.perf_title = QLabel("Reading the confirmed labels…")
        self.perf_title.setWordWrap(True)
        top.addWidget(self.perf_title, 1)
        self.perf_refresh = QPushButton("Refresh")
        self.perf_refresh.clicked.connect(self.refresh)
        top.addWidget(self.perf_refresh)
        v.addLayout(top)
        self.alarm = QLabel("")
        self.alarm.setWordWrap(True)
        self.alarm.setStyleSheet("QLabel { color: #ffffff; background: #9c2a31; padding: 8px; border-radius: 4px; }")
        self.alarm.hide()
        v.addWidget(self.alarm)
        plots = QHBoxLayout()
        self.roc = RocPlot()
        self.calibration_plot = CalibrationPlot()
        plots.addWidget(self.roc)
        plots.addWidget(self.calibration_plot)
        v.addLayout(plots, 3)
        self.perf_text = _text_box()
        v.addWidget(self.perf_text, 2)
        return w

    def _calibration_tab(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        intro = QLabel("Thresholds refitted on this clinic's confirmed labels with the model card's rule: "
                       "'suspicious' is the highest threshold at which the lower bound of the 95% interval of the "
                       "sensitivity still reaches 95%, 'definite' the lowest at which that of the specificity "
                       "still reaches 90%. Applying or reverting is "
                       "recorded (who, when, on which labels) and changes the flags in the worklist, its filters, "
                       "the disagreement queue, exports and scan CSVs.")
        intro.setWordWrap(True)
        v.addWidget(intro)
        self.active_label = QLabel("")
        self.active_label.setWordWrap(True)
        v.addWidget(self.active_label)
        self.cal_text = _text_box()
        v.addWidget(self.cal_text, 1)
        row = QHBoxLayout()
        self.apply_button = QPushButton("Apply these thresholds")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply_calibration)
        self.revert_button = QPushButton("Revert to the card's thresholds")
        self.revert_button.setEnabled(False)
        self.revert_button.clicked.connect(self.revert_calibration)
        row.addWidget(self.apply_button)
        row.addWidget(self.revert_button)
        row.addStretch(1)
        v.addLayout(row)
        return w

    def _models_tab(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        self.models_table = QTableWidget(0, 4)
        self.models_table.setHorizontalHeaderLabels(["Model", "Where", "State", "File"])
        self.models_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.models_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.models_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.models_table.horizontalHeader().setStretchLastSection(True)
        v.addWidget(self.models_table, 1)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add model…")
        self.add_button.clicked.connect(self.add_model)
        self.activate_button = QPushButton("Activate")
        self.activate_button.clicked.connect(self.activate_selected)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.compare_button = QPushButton("Compare with the current model")
        self.compare_button.clicked.connect(self.compare_selected)
        for b in (self.add_button, self.activate_button, self.remove_button, self.compare_button):
            row.addWidget(b)
        row.addStretch(1)
        v.addLayout(row)
        prog = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_compare)
        prog.addWidget(self.progress, 1)
        prog.addWidget(self.cancel_button)
        v.addLayout(prog)
        self.compare_text = _text_box()
        v.addWidget(self.compare_text, 1)
        self.disagree = QTableWidget(0, 4)
        self.disagree.setHorizontalHeaderLabels(["Label", "Current", "Candidate", "File (double-click to view)"])
        self.disagree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.disagree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.disagree.horizontalHeader().setStretchLastSection(True)
        self.disagree.cellDoubleClicked.connect(self.open_disagreement)
        v.addWidget(self.disagree, 1)
        return w

    # ------------------------------------------------------------------ loading
    @property
    def card(self):
        m = self.session.model
        return m.card if m is not None else None

    def refresh(self) -> None:
        """Re-read everything in the background: the report, the proposal and the registry."""
        self.fill_models()
        card = self.card
        if card is None:
            self.perf_title.setText("No model is installed, so there is nothing to evaluate.")
            return
        store = self.session.store
        self.perf_refresh.setEnabled(False)
        self.perf_title.setText(f"Computing how {card.name} {card.version} does on this clinic's labels…")

        def work():
            from core.evaluation.calibration import propose
            from core.evaluation.performance import report

            return report(store, card), propose(store, card)

        self.tasks.run_in_background(work, self._loaded, self._load_failed)

    def _loaded(self, result) -> None:
        from core.evaluation.performance import text_lines

        rep, prop = result
        self.report, self.proposal = rep, prop
        self.perf_refresh.setEnabled(True)
        c = rep["counts"]
        self.perf_title.setText(f"{rep['model']['name']} {rep['model']['version']} on {c['fracture']} confirmed "
                                f"fractures and {c['no_fracture']} non-fractures. Thresholds: {rep['thresholds_text']}")
        self.alarm.setText(rep.get("alarm") or "")
        self.alarm.setVisible(bool(rep.get("alarm")))
        self.roc.set_report(rep)
        self.calibration_plot.set_report(rep)
        self.perf_text.setPlainText("\n".join(text_lines(rep)))
        self._show_proposal(prop)
        self.report_ready.emit(rep)
        self.proposal_ready.emit(prop)

    def _load_failed(self, exc: BaseException) -> None:
        self.perf_refresh.setEnabled(True)
        self.perf_title.setText(f"The labels could not be read: {_message(exc)}")
        self.report_ready.emit(None)

    def _show_proposal(self, prop) -> None:
        self.active_label.setText(f"<b>Active now:</b> {prop.current.describe()}")
        lines = [f"Confirmed labels: {prop.counts['fracture']} fractures, {prop.counts['no_fracture']} non-fractures "
                 f"({prop.counts['doubt_excluded']} doubt excluded)"]
        if prop.enough:
            t, s, share = prop.thresholds, prop.in_sample, prop.flagged_share
            lines += [f"Proposed suspicious >= {t.suspicious:.6g}: sensitivity {s['suspicious']['sensitivity']:.1%}, "
                      f"specificity {s['suspicious']['specificity']:.1%} on these labels",
                      f"Proposed definite   >= {t.definite:.6g}: sensitivity {s['definite']['sensitivity']:.1%}, "
                      f"specificity {s['definite']['specificity']:.1%}"]
            if share.get("images"):
                lines.append(f"Of the {share['images']} scored images: flagged now "
                             f"{share['current']['suspicious_or_definite']:.1%}, with the proposal "
                             f"{share['proposed']['suspicious_or_definite']:.1%}")
        else:
            lines.append(prop.message[0].upper() + prop.message[1:] + ".")
        self.cal_text.setPlainText("\n".join(lines))
        self.apply_button.setEnabled(prop.enough)
        self.revert_button.setEnabled(prop.current.calibrated)

    # ------------------------------------------------------------------ calibration
    def _record(self, fn, done_text: str) -> None:
        def done(_event) -> None:
            self.thresholds_changed.emit()
            self.refresh()
            self.cal_text.appendPlainText(done_text)

        def failed(exc: BaseException) -> None:
            QMessageBox.warning(self, "Calibration", f"Not recorded: {_message(exc)}")
            self.refresh()

        self.apply_button.setEnabled(False)
        self.revert_button.setEnabled(False)
        self.tasks.run_on_writer(fn, done, failed)

    def apply_calibration(self) -> None:
        from core.evaluation.calibration import apply

        prop, store, who = self.proposal, self.session.store, self.session.reviewer
        if prop is None or not prop.enough:
            return
        self._record(lambda: apply(store, prop, who), "Applied.")

    def revert_calibration(self) -> None:
        from core.evaluation.calibration import revert

        card, store, who = self.card, self.session.store, self.session.reviewer
        self._record(lambda: revert(store, card, who), "Reverted to the card's thresholds.")

    # ------------------------------------------------------------------ registry
    def fill_models(self) -> None:
        entries = self.registry.entries()
        current = self.card
        self.entries = entries
        self.models_table.setRowCount(len(entries))
        for i, e in enumerate(entries):
            state = ("in use" if current is not None and e.usable and e.card.sha256 == current.sha256
                     else "usable" if e.usable else f"unusable: {e.problem}")
            for j, text in enumerate((e.key, "shipped" if e.shipped else "added", state, str(e.path))):
                self.models_table.setItem(i, j, QTableWidgetItem(text))
        self.models_table.resizeColumnsToContents()

    def _selected(self):
        rows = self.models_table.selectionModel().selectedRows()
        if not rows:
            QMessageBox.information(self, "Models", "Select a model in the list first.")
            return None
        return self.entries[rows[0].row()]

    def add_model(self, path: Optional[str] = None) -> None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Add a model (its .json card must be beside it)",
                                                  str(Path.home()), "ONNX models (*.onnx)")
        if not path:
            return
        reg = self.registry

        def failed(exc: BaseException) -> None:
            QMessageBox.warning(self, "Add model", f"Not added: {_message(exc)}")

        self.tasks.run_in_background(lambda: reg.add(Path(path)), lambda _e: self.fill_models(), failed)

    def activate_selected(self) -> None:
        e = self._selected()
        if e is None:
            return
        from core.model import load_model

        reg, store, who = self.registry, self.session.store, self.session.reviewer

        def work():
            model = load_model(reg.get(e.key).path)  # verified before the switch is recorded
            reg.activate(store, e.key, who)
            return model

        def failed(exc: BaseException) -> None:
            QMessageBox.warning(self, "Activate", f"Not activated: {_message(exc)}")

        self.tasks.run_on_writer(work, self._activated, failed)

    def _activated(self, model) -> None:
        self.model_activated.emit(model)
        self.refresh()

    def remove_selected(self) -> None:
        e = self._selected()
        if e is None:
            return
        reg, current = self.registry, self.card
        active = f"{current.name}-{current.version}" if current is not None else None

        def failed(exc: BaseException) -> None:
            QMessageBox.warning(self, "Remove", f"Not removed: {_message(exc)}")

        self.tasks.run_in_background(lambda: reg.remove(e.key, active), lambda _e: self.fill_models(), failed)

    # ------------------------------------------------------------------ compare
    def compare_selected(self, entry=None) -> None:
        e = entry or self._selected()
        if e is None or self.card is None:
            return
        from core.evaluation.compare import compare, score_labelled
        from core.model import load_model

        store, current, tasks = self.session.store, self.card, self.tasks
        self.compare_button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.compare_text.setPlainText(f"Scoring the confirmed-label images with {e.key}…")

        def progress(p) -> None:
            tasks.run_on_main(lambda: self._progress(p.done, p.total))

        def work(cancel):
            cand = load_model(e.path)
            scoring = score_labelled(store, cand, cancel=cancel, on_progress=progress)
            return compare(store, current, cand.card, scoring=scoring)

        self._cancel = tasks.run_long(work, self._compared, self._compare_failed)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} / {total} images")

    def cancel_compare(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def _compare_finished(self) -> None:
        self._cancel = None
        self.progress.hide()
        self.cancel_button.hide()
        self.compare_button.setEnabled(True)

    def _compared(self, rep: dict) -> None:
        from core.evaluation.compare import text_lines

        self._compare_finished()
        self.compare_report = rep
        self.compare_text.setPlainText("\n".join(text_lines(rep)))
        rows = rep.get("disagreements", [])
        self.disagree.setRowCount(len(rows))
        for i, r in enumerate(rows):
            for j, text in enumerate((r["label"], f"{r['current']:.3f}", f"{r['candidate']:.3f}", r["path"] or "")):
                self.disagree.setItem(i, j, QTableWidgetItem(text))
        self.disagree.resizeColumnsToContents()
        self.compare_done.emit(rep)

    def _compare_failed(self, exc: BaseException) -> None:
        self._compare_finished()
        self.compare_text.setPlainText(f"The comparison failed: {_message(exc)}")
        self.compare_done.emit(None)

    def open_disagreement(self, row: int, _col: int = 0) -> Optional[QDialog]:
        rows = (self.compare_report or {}).get("disagreements", [])
        if not 0 <= row < len(rows) or not rows[row]["path"]:
            return None
        r = rows[row]
        dlg = ImageDialog(self.tasks, r, self)
        self._viewers.append(dlg)
        dlg.finished.connect(lambda _res, d=dlg: self._viewers.remove(d) if d in self._viewers else None)
        dlg.show()
        return dlg


class ImageDialog(QDialog):
    """One image of the comparison in the app's viewer (window/level, zoom) with both models' scores."""

    loaded = Signal()

    def __init__(self, tasks, row: dict, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from desktop.viewer import ImageViewer

        self.setWindowTitle(Path(row["path"]).name)
        self.resize(720, 640)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(f"Confirmed: {row['label']} — current model {row['current']:.3f}, candidate "
                             f"{row['candidate']:.3f}"))
        self.viewer = ImageViewer()
        lay.addWidget(self.viewer, 1)
        self.viewer.set_image(None, "Loading…")

        def load():
            from desktop.prefetch import load_for_viewer

            return load_for_viewer(row["image_id"], Path(row["path"]))

        def done(img) -> None:
            self.viewer.set_image(img)
            self.loaded.emit()

        def failed(exc: BaseException) -> None:
            self.viewer.set_image(None, f"This file could not be read:\n\n{_message(exc)}")
            self.loaded.emit()

        tasks.run_in_background(load, done, failed)
