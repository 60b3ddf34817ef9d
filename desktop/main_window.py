"""The main window: assembles the parts (worklist panel, review pane, toolbar and menus, status bar,
empty state, shortcut help, dialogs) and routes named actions to them. Logic lives in the parts:
``session`` (scan + triage over core objects), ``review_pane`` (viewer + prefetch), ``worklist_view``.
"""

from __future__ import annotations

import html
import logging
import time
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtWidgets import (QFileDialog, QFrame, QHBoxLayout, QLabel, QMainWindow, QMenu, QMessageBox, QSplitter,
                               QStackedWidget, QVBoxLayout, QWidget)

from core import APP_NAME
from core.config import key_profile, resolve
from core.order import row_key
from core.settings import Settings
from core.thumbnails import ThumbnailCache
from core.triage import DECISION_ACTIONS, STUDY_ACTIONS, TRIAGE_ACTIONS
from core.worklist import FILTER_TITLES
from desktop import shortcuts, theme
from desktop.after_paint import after_next_paint
from desktop.actions import Actions, opacity_slider, preset_combo
from desktop.decision_messages import decision_message
from desktop.dialogs.about import AboutDialog
from desktop.dialogs.shortcut_help import ShortcutHelp
from desktop.empty_state import EmptyState
from desktop.find_bar import FindBar
from desktop.review_pane import ReviewPane
from desktop.session import ReviewSession
from desktop.statusbar import StatusBar
from desktop.study_part import StudyPart
from desktop.view_controls import ViewControls
from desktop.tasks import TaskRunner
from desktop.thumbnails import ThumbnailLoader
from desktop.window_dialogs import WindowDialogs
from desktop.worklist_view import WorklistPanel

log = logging.getLogger("fracture_triage.desktop.window")


class MainWindow(WindowDialogs, QMainWindow):
    scan_done = Signal(object)  # ScanSummary (tests and --quit-after-scan wait on it)
    latency_measured = Signal(str, float)  # image_id, ms from the key to the image painted
    thumbnails_cleared = Signal(object)  # core.thumbnails.CacheUsage deleted (or None)

    def __init__(self, *, store, model, settings: Settings, reviewer: str = "", model_problem: str = "",
                 settings_path: Optional[Path] = None, tasks: Optional[TaskRunner] = None,
                 thumbnails: Optional[ThumbnailCache] = None) -> None:
        super().__init__()
        self.settings = settings
        self.settings_path = settings_path
        self.model_problem = model_problem
        self.quit_after_scan = False
        self.exit_code = 0
        self._state_before_full_screen = Qt.WindowState.WindowNoState
        self.latencies: list[float] = []
        self.tasks = tasks or TaskRunner(self)
        run = resolve(settings=settings)  # the one settings resolver: the study grouping (flag > env > settings)
        self.session = ReviewSession(self.tasks, store, model, reviewer or settings.reviewer, self,
                                     mode=settings.reading_mode, study_grouping=run.study_grouping,
                                     study_score=run.study_score, by_study=settings.worklist_by_study)
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(theme.app_icon())
        self.setAcceptDrops(True)
        self.setMinimumSize(1000, 600)

        self.banner = QFrame()
        self.banner.setObjectName("banner")
        bl = QHBoxLayout(self.banner)
        bl.setContentsMargins(12, 6, 12, 6)
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        bl.addWidget(self.banner_text, 1)
        self.banner.setVisible(model is None)
        if model is None:
            reason = f" ({html.escape(model_problem.rstrip('.'))})" if model_problem else ""
            self.banner_text.setText(
                f"<b>No fracture model is installed</b> — new images are listed but not scored{reason}. "
                "Install a model in resources/models, or choose one in Settings › Model file.")
        self.empty = EmptyState()
        self.empty.set_recent(settings.recent_folders)
        self.worklist = WorklistPanel()
        self.worklist.model.set_tasks(self.tasks)  # column sorts worked out on the pool
        self.thumb_cache = thumbnails or ThumbnailCache.default(settings.thumbnail_cache_mb)
        self.thumbnails = ThumbnailLoader(self.tasks, self.thumb_cache, parent=self)
        self.worklist.set_thumbnails(self.thumbnails)
        self.find_bar = FindBar()
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(0)
        ll.addWidget(self.find_bar)
        ll.addWidget(self.worklist, 1)
        self.review = ReviewPane(self.tasks, lambda: self.session.model)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.review)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.splitter)
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.banner)
        cl.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self.help_overlay = ShortcutHelp(self)

        self.actions = Actions(self, self.on_action)
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.actions.build_menus(self.recent_menu)
        self.presets = preset_combo()
        self.opacity = opacity_slider(settings.heatmap_opacity)
        self.addToolBar(self.actions.build_toolbar(self.presets, self.opacity))
        self.apply_shortcuts()
        self.set_thumbnails_shown(settings.show_thumbnails)
        self._set_review_enabled(False)
        self.studies = StudyPart(self)
        self.view_controls = ViewControls(self)
        self._wire()
        self._refresh_status_static()
        self._restore_geometry()
        if model is not None:  # create the inference session while the user picks a folder
            self.tasks.run_in_background(model.ensure_session, None, lambda exc: None)

    # -- wiring ----------------------------------------------------------------------------------------
    def _wire(self) -> None:
        s = self.session
        s.scan_gate = lambda start: after_next_paint(self.worklist.table.viewport(), start)
        s.shows_current = self.review.isVisible
        s.worklist_changed.connect(self._worklist_bound)
        s.current_changed.connect(self._current_changed)
        s.decision_saved.connect(self._decision_saved)
        s.decision_failed.connect(self._decision_failed)
        s.notice.connect(lambda text: self.review.message(html.escape(text), "#e8a33d"))
        s.scan_started.connect(lambda _root: self.status.scan_started())
        s.scan_progress.connect(lambda p: self.status.scan_progress(p.done, p.total, p.rate))
        s.scan_finished.connect(self._scan_finished)
        s.scan_failed.connect(self._scan_failed)
        s.reading_changed.connect(self._reading_changed)
        s.new_flagged.connect(self.status.new_flagged)
        s.watch_scored.connect(self._watch_scored)
        s.watcher.polled.connect(lambda r: self.status.watching(s.root, r.pending))
        self.status.watch_clicked.connect(lambda key: s.go_to_image(key) if key else None)
        self.worklist.filter_selected.connect(s.set_filter)
        self.worklist.image_activated.connect(s.select)
        self.find_bar.find_requested.connect(self.find_file)
        self.find_bar.show_all_requested.connect(self._find_in_all)
        self.find_bar.closed.connect(lambda: self.review.viewer.setFocus())
        self.review.image_shown.connect(self._image_shown)
        self.review.displayed.connect(self.session.displayed)
        self.review.cache.file_changed.connect(s.file_changed)  # bytes ≠ scanned image: score again
        s.rescored.connect(lambda old_id, _item: self.review.cache.drop(old_id))
        self.empty.open_requested.connect(lambda: self.on_action("open_folder"))
        self.empty.demo_requested.connect(lambda: self.on_action("demo"))
        self.empty.recent_requested.connect(self.open_folder)
        self.status.cancel_requested.connect(s.cancel_scan)
        self.status.reviewer_clicked.connect(self.open_reader_dialog)

    def apply_shortcuts(self) -> None:
        self.key_mapping = shortcuts.effective_shortcuts(self.settings.shortcuts, key_profile(self.settings))
        self.actions.apply_keys(self.key_mapping)

    # -- opening ---------------------------------------------------------------------------------------
    def open_folder(self, folder: str | Path) -> bool:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            QMessageBox.warning(self, APP_NAME, f"The folder {folder} does not exist or cannot be opened.")
            return False
        self.settings.add_recent_folder(str(folder.absolute()))
        self.save_settings()
        self.review.cache.clear()
        self.setWindowTitle(f"{APP_NAME} — {folder.absolute().name or folder.absolute()}")
        self.status.clear_watch()
        return self.session.open_folder(folder)

    def _set_review_enabled(self, on: bool) -> None:
        for name in TRIAGE_ACTIONS + STUDY_ACTIONS + ("in_scope", "find", "heatmap", "invert", "rotate", "rotate_left",
                                                      "flip_horizontal", "flip_vertical", "loupe", "reset_view", "fit",
                                                      "zoom_in", "zoom_out", "actual_size") + tuple(f"preset_{i}" for i in range(1, 10)):
            self.actions[name].setEnabled(on)
        self.presets.setEnabled(on)
        self.opacity.setEnabled(on)
        if on and self.session.reading.blinded:  # the model is hidden: no heatmap
            self.actions["heatmap"].setEnabled(False)
            self.opacity.setEnabled(False)

    def _worklist_bound(self, order) -> None:
        self._set_review_enabled(True)
        self.worklist.model.set_order(order)
        self.worklist.show_filter(getattr(order, "filter", order.worklist.filter))
        if self.stack.currentWidget() is not self.splitter:
            self._size_panels()  # before it shows: one layout and one paint, not a second after it
        with self.worklist.quietly():  # the table shown gets a current row from Qt: not the reader's pick
            self.stack.setCurrentWidget(self.splitter)
        self.worklist.refresh_columns()
        self.review.viewer.setFocus()

    def _size_panels(self) -> None:
        total = max(self.splitter.width(), self.width())
        left = min(max(480, int(total * 0.42)), 760)
        self.splitter.setSizes([left, max(400, total - left)])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for f in self.settings.recent_folders:
            self.recent_menu.addAction(f, lambda folder=f: self.open_folder(folder))
        if not self.settings.recent_folders:
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def dragEnterEvent(self, event) -> None:
        if any(u.isLocalFile() and Path(u.toLocalFile()).is_dir() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for u in event.mimeData().urls():
            if u.isLocalFile() and Path(u.toLocalFile()).is_dir():
                self.open_folder(u.toLocalFile())
                event.acceptProposedAction()
                return

    # -- session events --------------------------------------------------------------------------------
    def _current_changed(self, item) -> None:
        study = self.session.open_study if item is not None and not item.is_study else None
        self.review.show_item(item, self.session.neighbours(), study=study)
        self.worklist.select_key(row_key(item) if item is not None else None)

    def _decision_saved(self, decision, item) -> None:
        cur = self.session.current_item
        if cur is not None and (cur.is_study or cur.image_id == decision.image_id):
            self.review.refresh_item(cur)
        wl = self.session.worklist
        known = wl.item(decision.image_id) if wl is not None and decision.image_id else None
        self.review.message(*decision_message(decision, item.name if item is not None else known.name if known else ""))

    def _decision_failed(self, message: str) -> None:
        QMessageBox.critical(self, APP_NAME, message + "\n\nThe image stays in the list; try again.")

    def _scan_finished(self, summary) -> None:
        if summary.cancelled:
            text = f"Scan cancelled after {summary.files:,} files (results so far are kept)."
        else:
            parts = [f"{summary.scored:,} scored"]
            parts += [f"{n:,} {what if n != 1 else one}" for n, what, one in (
                (summary.reused, "known", "known"), (summary.duplicates, "duplicates", "duplicate"),
                (summary.failed, "unreadable", "unreadable")) if n]
            text = f"Scan complete: {', '.join(parts)} · {summary.elapsed_s:.1f} s"
        self.status.scan_ended(text)
        self.worklist.refresh_columns()
        self.scan_done.emit(summary)
        if self.quit_after_scan:
            print(text, flush=True)
            self.exit_code = 0 if not summary.cancelled else 1
            QTimer.singleShot(0, self.close)

    def _watch_scored(self, summary) -> None:
        self.status.watching(self.session.root, self.session.watch.pending if self.session.watch else 0,
                             scored=summary.files)
        self.worklist.refresh_columns()

    def _scan_failed(self, message: str) -> None:
        self.status.scan_ended("Scan stopped.")
        if self.quit_after_scan:
            print(message, flush=True)
            self.exit_code = 1
            QTimer.singleShot(0, self.close)
            return
        QMessageBox.warning(self, APP_NAME, message)

    def _image_shown(self, image_id: str, ms: float) -> None:
        if ms >= 0:
            self.latencies.append(ms)
            self.latency_measured.emit(image_id, ms)
            log.debug("key to image shown: %.1f ms", ms)

    # -- actions ---------------------------------------------------------------------------------------
    def on_action(self, name: str) -> None:
        v = self.review.viewer
        if self.help_overlay.isVisible():  # any key first closes the help (nothing is decided unseen)
            self.help_overlay.hide()
            return
        if name == "in_scope":
            if self.session.reviewer:
                self.session.toggle_scope_mark()
            else:
                self.open_reader_dialog()
            return
        if name == "study_mode":
            return self.studies.toggle()
        if name in TRIAGE_ACTIONS or name in STUDY_ACTIONS:
            if name in DECISION_ACTIONS and not self.session.reviewer:
                self.open_reader_dialog()  # the key is not taken: decide again once the reader is chosen
                return
            self.review.action_time = time.perf_counter()
            self.session.perform(name)
            return
        simple = {"invert": v.toggle_invert, "rotate": v.rotate90, "rotate_left": v.rotate_left,
                  "flip_horizontal": v.flip_horizontal, "flip_vertical": v.flip_vertical, "loupe": v.toggle_loupe,
                  "reset_view": v.reset_view, "fit": v.fit, "zoom_in": v.zoom_in, "zoom_out": v.zoom_out,
                  "actual_size": v.actual_size, "full_screen": self.toggle_full_screen, "quit": self.close}
        if name in simple:
            simple[name]()
        elif name.startswith("preset_"):
            v.apply_preset(int(name[-1]) - 1)
        elif name == "heatmap":
            self.view_controls.toggle_heatmap()
        elif name == "open_folder":
            start = self.settings.recent_folders[0] if self.settings.recent_folders else str(Path.home())
            folder = QFileDialog.getExistingDirectory(self, "Open a folder of X-rays", start)
            if folder:
                self.open_folder(folder)
        elif name == "export":
            self.open_export()
        elif name == "settings":
            self.open_settings()
        elif name == "help":
            self.help_overlay.open_over(self.key_mapping)
        elif name == "find":
            self.find_bar.open_bar()
        elif name == "about":
            AboutDialog(self.session.model, self.model_problem, self).open()
        elif name == "demo":
            self.open_demo()
        elif name == "model":
            self.open_model_dialog()
        elif name == "reader":
            self.open_reader_dialog()
        elif name == "agreement":
            self.open_agreement()
        elif name == "thumbnails":
            self.set_thumbnails_shown(not self.settings.show_thumbnails)
            self.save_settings()
        elif name == "clear_thumbnails":
            self.clear_thumbnails()

    def set_thumbnails_shown(self, on: bool) -> None:
        """Thumbnails in the worklist (and made by the next scan), or none at all."""
        self.settings.show_thumbnails = bool(on)
        self.actions["thumbnails"].setChecked(bool(on))
        self.worklist.show_thumbnails(on)
        self.session.thumbnails = self.thumb_cache if on else None

    def clear_thumbnails(self, confirm: bool = True) -> None:
        """Delete the thumbnail cache on this computer (worker pool); a toast says what went."""
        if confirm and QMessageBox.question(
                self, APP_NAME, "Delete every thumbnail kept on this computer?\n\nThumbnails are made again "
                "from the images when they are shown (turn them off in View › Thumbnails in the worklist).") \
                != QMessageBox.StandardButton.Yes:
            return

        def done(gone) -> None:
            n, mb = (gone.files, gone.bytes / 1e6) if gone is not None else (0, 0.0)
            self.review.message(f"Thumbnail cache cleared: {n:,} file{'s' if n != 1 else ''} "
                                           f"({mb:.1f} MB) deleted from this computer.", "#97a1ab")
            self.worklist.show_thumbnails(self.settings.show_thumbnails)
            self.thumbnails_cleared.emit(gone)

        self.thumbnails.clear_cache(done, lambda exc: self.review.message(
            html.escape(f"The thumbnail cache could not be cleared: {exc}"), "#e8a33d"))

    def find_file(self, text: str, step: int = 0):
        """Move to the file that ``core.find`` names for ``text`` from the current row (the find bar)."""
        result = self.session.find_file(text, step)
        if result is not None:
            self.find_bar.show_result(result, FILTER_TITLES.get(self.session.worklist.filter, self.session.worklist.filter))
        return result

    def _find_in_all(self, text: str) -> None:
        self.worklist.show_filter("all")
        self.session.set_filter("all")
        self.find_file(text)

    def toggle_full_screen(self) -> None:
        """F11: the window fills the screen (again, or Esc: back as it was)."""
        if self.isFullScreen():
            self.setWindowState(self._state_before_full_screen)
        else:
            self._state_before_full_screen = self.windowState() & ~Qt.WindowState.WindowFullScreen
            self.setWindowState(self.windowState() | Qt.WindowState.WindowFullScreen)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.WindowStateChange:
            self.actions["full_screen"].setChecked(self.isFullScreen())

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self.isFullScreen():
            self.toggle_full_screen()
            event.accept()
            return
        super().keyPressEvent(event)

    # -- status, settings, geometry --------------------------------------------------------------------
    def _refresh_status_static(self) -> None:
        m = self.session.model
        self.status.set_model(f"Model {m.name} {m.version}" if m else "No model installed", m is not None)
        reading = self.session.reading
        self.status.set_reviewer(reading.describe() if reading.reader == self.session.reviewer and reading.reader
                                 else self.session.reviewer)
        if m is not None and self.settings.show_thresholds and not reading.blinded:
            t = self.session.thresholds
            src = "calibrated here" if self.session.active is not None and self.session.active.calibrated else "model card"
            self.status.set_thresholds(f"Flags ≥ {t.suspicious * 100:.1f}% / ≥ {t.definite * 100:.1f}%"
                                       + (" (calibrated)" if src != "model card" else ""))
            self.status.thresholds.setToolTip(f"Suspicious at ≥ {t.suspicious * 100:.2f}%, definite at ≥ "
                                              f"{t.definite * 100:.2f}% fracture probability ({src})")
        else:
            self.status.set_thresholds("")

    def save_settings(self) -> None:
        try:
            self.settings.save(self.settings_path)
        except OSError as exc:
            log.warning("settings not saved: %s", exc)

    def _restore_geometry(self) -> bool:
        if self.settings.window_geometry:
            return self.restoreGeometry(QByteArray.fromHex(self.settings.window_geometry.encode("ascii")))
        else:
            screen = self.screen().availableGeometry() if self.screen() else None
            if screen is not None:
                self.resize(min(1600, int(screen.width() * 0.92)), min(1000, int(screen.height() * 0.9)))
            return False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.help_overlay.isVisible():
            self.help_overlay.setGeometry(self.rect())

    def closeEvent(self, event) -> None:
        self.settings.window_geometry = bytes(self.saveGeometry().toHex()).decode("ascii")
        self.save_settings()
        self.session.close()
        self.tasks.shutdown()
        super().closeEvent(event)
