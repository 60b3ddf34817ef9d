"""One review session: the store, the model, the worklist of the open folder, the scan that fills it,
and the keyboard triage over it — the desktop's controller over ``core`` objects (no widgets here).

Threads: everything runs through the ``TaskRunner``. The folder's scan
(``desktop.session_scan.FolderScan``, mixed in) runs as a long job; its results are written to the store
by ``core.recorder.ScanRecorder`` in small batches on the writer thread and only then added to the
worklist on the GUI thread (so what the table shows is what the database holds). A decision key is queued, its durable
write runs on the writer thread, and the worklist is updated and advanced when the write returned.
Keys pressed meanwhile wait in order, so each applies to the image shown after the previous one.

Several readers (``core.reading``): the reading context (reader, role, aided/blinded, the clinic's
double-reading policy) is read from the store with each folder load, off the GUI thread. The image on
screen is claimed and other readers' decisions come in live through ``desktop.live.LiveReaders``; a
refused claim marks the image held and, unless the reader picked it, moves on to the next image to
review.

Studies (``desktop.study_mode.StudyMode``, mixed in): the worklist's items carry their pseudonymous
study key; the review order is a ``core.order.ReviewOrder`` (rows are images) or a
``core.study_order.StudyOrder`` (rows are studies) over the same worklist.

After the folder's scan the folder is watched (``desktop.folder_watch``; ``desktop.folder_changes``,
mixed in): new and changed files are scored, once settled, by a quiet scan of just those files,
inserted in order like any scan result, and a new flagged image is announced by ``new_flagged`` (the
window shows it in the status bar).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QObject, QTimer, Signal

from core.evaluation.calibration import active_thresholds
from core.model import Thresholds
from core.order import ReviewOrder, row_key
from core.reading import AIDED, Reading
from core.triage import DECISION_ACTIONS, STUDY_ACTIONS, TRIAGE_ACTIONS, Triage
from core.watch import FolderWatch
from core.worklist import Worklist
from desktop import gc_guard
from desktop.folder_changes import FolderChanges, _message
from desktop.folder_watch import FolderWatcher
from desktop.live import LiveReaders, LiveSession
from desktop.session_scan import FolderScan
from desktop.study_mode import StudyMode

CURRENT_AFTER_BIND_MS = 10  # a folder's rows are painted before its current row is shown
SCAN_WAITS_FOR_IMAGE_MS = 500  # a re-opened folder's scan starts once its first image shows, or after this
log = logging.getLogger("fracture_triage.desktop.session")

NO_MODEL_THRESHOLDS = Thresholds(suspicious=2.0, definite=2.0)  # nothing is flagged without a model


class ReviewSession(StudyMode, FolderScan, FolderChanges, LiveSession, QObject):
    worklist_changed = Signal(object)  # the new ReviewOrder over the new Worklist (bound to the table)
    counts_changed = Signal(dict)  # images per filter
    study_counts_changed = Signal(object)  # studies per filter (dict), or None when rows are images
    study_mode_changed = Signal(bool)
    current_changed = Signal(object)  # WorkItem | None
    scan_started = Signal(str)
    scan_progress = Signal(object)  # ScanProgress
    scan_finished = Signal(object)  # ScanSummary (also when cancelled)
    scan_failed = Signal(str)  # a message for the user
    decision_saved = Signal(object, object)  # Decision, the WorkItem it was about (before the change)
    decision_failed = Signal(str)
    action_done = Signal(str)  # a triage action finished (queued keys: one per key)
    notice = Signal(str)
    rescored = Signal(str, object)  # old image id, the new ScanItem of the file that held it
    reading_changed = Signal(object)  # core.reading.Reading now in force (after each folder load)
    others_updated = Signal(int)  # a live update was applied: how many rows changed
    row_displayed = Signal(str)  # the row now on screen (its time to decide started)
    claim_refused = Signal(str)  # image id another reader holds (the claim on opening it failed)
    watch_scored = Signal(object)  # ScanSummary of new/changed files of the watched folder, once listed
    new_flagged = Signal(str, str)  # a message, the row key: a NEW image of the watched folder is flagged

    def __init__(self, tasks, store, model, reviewer: str, parent: QObject | None = None, mode: str = AIDED, *,
                 study_grouping: str = "folder", study_score: str = "max", by_study: bool = False) -> None:
        super().__init__(parent)
        self._init_studies(study_grouping, study_score, by_study)
        self.tasks = tasks
        self.store = store
        self.model = model
        self.active = active_thresholds(store, model.card) if model is not None else None
        self.reviewer = reviewer
        self.mode = mode  # asked for by this workstation (settings); the role and policy come from the store
        self.reading = Reading(reviewer, mode=mode)
        self.thumbnails = None  # core.thumbnails.ThumbnailCache the scan fills (None: no thumbnails made)
        # How the folder's scan (and the pool's work, held meanwhile) waits for the listed rows to be
        # painted (the window sets desktop.after_paint on its table); None: as soon as they are listed.
        self.scan_gate: Optional[Callable[[Callable[[], None]], None]] = None
        self.shows_current: Optional[Callable[[], bool]] = None  # a review pane on screen will call displayed()
        self._shown_waiter: Optional[Callable[[], None]] = None  # runs once the current row is on screen
        self._shown_timer = QTimer(self)
        self._shown_timer.setSingleShot(True)
        self._shown_timer.timeout.connect(self._current_shown)
        self._current_timer = QTimer(self)  # shows a folder's current row just after its rows' first paint
        self._current_timer.setSingleShot(True)
        self._current_timer.timeout.connect(self._check_current)
        self.root: Optional[Path] = None
        self.worklist: Optional[Worklist] = None
        self.order: Optional[ReviewOrder] = None
        self.triage: Optional[Triage] = None
        self.scanning = False
        self.last_summary = None
        self.last_write_ms = 0.0  # duration of the last durable decision write (writer thread)
        self._queue: deque[str] = deque()
        self._stale: set[str] = set()  # image ids whose file changed since the scan (being re-scored)
        self._busy = False
        self._gen = 0
        self._cancel: Optional[threading.Event] = None
        self._unsubscribe = None
        self._current_key: object = object()
        self._user_moved = False  # until the user moves or decides, the top of the list is shown
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(80)
        self._counts_timer.timeout.connect(self._emit_counts)
        self._picked: Optional[str] = None  # an image the reader chose by mouse (kept even when held)
        self.live = LiveReaders(tasks, store, self)
        self.live.updated.connect(self._others_updated)
        self.live.refused.connect(self._claim_refused)
        self.poll_timer = self.live.timer
        self.watch: Optional[FolderWatch] = None
        self.watcher = FolderWatcher(tasks, self)
        self.watcher.settled.connect(self._score_watched)
        self._replacing: dict[str, str] = {}  # path of a changed watched file -> the image id its row shows

    # -- model ---------------------------------------------------------------------------------------
    @property
    def thresholds(self) -> Thresholds:
        """The active thresholds (``core.evaluation.calibration``: the card's or a calibration's)."""
        return self.active.thresholds if self.active is not None else NO_MODEL_THRESHOLDS

    def thresholds_changed(self) -> None:
        """A calibration was applied or reverted: re-read the active thresholds and reload the open folder."""
        self.active = active_thresholds(self.store, self.model.card) if self.model is not None else None
        if self.root is not None:
            self.open_folder(self.root)

    def switch_model(self, model) -> None:
        """Use ``model`` from now on (after a recorded activation): its active thresholds, and the open
        folder re-opened — scores the model already has (e.g. from a comparison) are reused."""
        self.cancel_scan()
        self.model = model
        self.thresholds_changed()

    @property
    def model_version(self) -> Optional[str]:
        return self.model.version if self.model is not None else None

    # -- opening a folder ----------------------------------------------------------------------------
    def open_folder(self, root: Path) -> bool:
        """Show what the database knows about ``root`` at once, then (with a model) scan it."""
        root = Path(root).expanduser().absolute()
        if not root.is_dir():
            self.notice.emit(f"The folder {root} does not exist or cannot be opened.")
            return False
        self.cancel_scan()
        self.watcher.stop()
        gc_guard.release()  # the rows shown until now may be freed (desktop.gc_guard)
        self._gen += 1
        gen = self._gen
        self.root = root
        self.watch = FolderWatch(root)
        self._replacing = {}
        self._queue.clear()
        self._user_moved = False
        store, thresholds, version, reader, mode = self.store, self.thresholds, self.model_version, self.reviewer, self.mode
        fallback = Worklist(store, thresholds, root, version, Reading(reader, mode=mode))

        def load(keys):  # a worker thread: who is reading (role, policy) and what the folder holds
            with gc_guard.building():  # 10,000s of long-lived rows: no GUI-thread collection walks them
                wl = Worklist(store, thresholds, root, version, Reading.from_store(store, reader, mode), study_keys=keys)
                return wl, wl.load()

        def loaded(result):  # on the GUI thread: apply what the worker read, then scan
            if gen != self._gen:
                return
            wl, snapshot = result
            wl.apply(snapshot)
            # The rows' first paint goes first, then the current image: what binding asks of the pool
            # (thumbnails, the neighbours' decoding) and the scan wait for both, or they would slow
            # them (desktop.after_paint; the current image's decoding is urgent and never held).
            self.tasks.hold_pool(max_ms=SCAN_WAITS_FOR_IMAGE_MS)
            self._bind(wl)

            def shown() -> None:  # the image is on screen: the pool's held work, then the scan
                self.tasks.release_pool()
                if gen == self._gen and self.model is not None:  # not re-opened or closed meanwhile
                    self._start_scan(root, gen)

            def start() -> None:  # the rows are painted
                if gen == self._gen:
                    self._when_current_shown(shown)

            if self.scan_gate is not None:
                self.scan_gate(start)
            else:
                start()

        def failed(exc: BaseException) -> None:
            if gen == self._gen:
                self.scan_failed.emit(_message(exc, "The database could not be read"))
                self._bind(fallback)

        self._with_study_keys(gen, lambda keys: self.tasks.run_in_background(lambda: load(keys), loaded, failed), failed)
        return True

    def _bind(self, wl: Worklist) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.triage is not None:
            self.triage.close()
        if self.order is not None:
            self.order.close()
        self.worklist = wl
        self.reading = wl.reading
        self.reading_changed.emit(wl.reading)
        self.order = self._order_for(wl)
        self.triage = Triage(self.store, self.order, self.reviewer, timed_from_display=True)
        self.worklist_changed.emit(self.order)
        self.live.bind(wl, self.reviewer)
        self._unsubscribe = self.order.subscribe(self._on_worklist_change)
        self._current_key = object()
        self._emit_counts()
        # The current row is shown a moment later: the rows' first paint (which Qt runs right after
        # this) and showing the current image (the viewer, the claim) then take two short turns of the
        # GUI thread with its timers and input in between, not one long one.
        self._current_timer.start(CURRENT_AFTER_BIND_MS)
        gc_guard.settle()  # 10,000s of rows: later collections on the GUI thread leave them out

    def set_filter(self, name: str) -> None:
        if self.studies_shown:
            self._set_study_filter(name)
            return
        if self.worklist is not None and self.worklist.filter != name and name in self.worklist.filters:
            self.worklist.set_filter(name)
            if self.triage is not None and self.triage.current_item is None and len(self.order):
                self.triage.go_to_top()
            self._check_current()

    def _on_worklist_change(self, _change) -> None:
        if not self._counts_timer.isActive():
            self._counts_timer.start()
        self._check_current()

    def _emit_counts(self) -> None:
        if self.worklist is not None:
            self.counts_changed.emit(self.worklist.counts())
            self.study_counts_changed.emit(self.order.counts() if self.studies_shown else None)

    def _check_current(self) -> None:
        item = self.triage.current_item if self.triage is not None else None
        key = None
        if item is not None:  # a study row is shown anew when its views change (a scan adds one)
            key = (row_key(item), item.error is None, tuple(row_key(v) for v in item.views) if item.is_study else ())
        if key != self._current_key:
            self._current_key = key
            self._claim(item)
            self.current_changed.emit(item)

    @property
    def current_item(self):
        return self.triage.current_item if self.triage is not None else None

    def displayed(self, key: str) -> None:
        """The review pane has the row ``key`` on screen (the decoded image painted, or a study's views):
        its time to decide starts now (``core.triage.Triage.displayed``)."""
        if self.triage is not None:
            self.triage.displayed(key)
        self.row_displayed.emit(key)
        self._current_shown()

    def _when_current_shown(self, fn) -> None:  # noqa: ANN001
        """``fn()`` once the review pane shows the current row (at once when there is none to show; at
        the latest after ``SCAN_WAITS_FOR_IMAGE_MS``): a re-opened folder's re-scan runs Python on its
        thread, and started beside the first image's display it stretched that work on the GUI thread
        from about 20 ms to 60-70 (``tests/benchmarks/bench_large.py``)."""
        item = self.current_item
        if item is None or item.error or self.shows_current is None or not self.shows_current():
            fn()
            return
        self._shown_waiter = fn
        self._shown_timer.start(SCAN_WAITS_FOR_IMAGE_MS)

    def _current_shown(self) -> None:
        fn, self._shown_waiter = self._shown_waiter, None
        self._shown_timer.stop()
        if fn is not None:
            fn()

    # -- scanning ------------------------------------------------------------------------------------
    # -- triage --------------------------------------------------------------------------------------
    def set_reviewer(self, name: str, mode: Optional[str] = None, reload: bool = False) -> None:
        """Another reader (or mode) at this workstation: their claim replaces the previous reader's, and
        the open folder is loaded again with their reading context (own labels, blinding); ``reload``:
        also when only their role or the clinic's policy changed."""
        name = " ".join((name or "").split())
        mode = mode or self.mode
        if (name, mode) == (self.reviewer, self.mode) and not reload:
            return
        self.live.release()
        self.reviewer, self.mode = name, mode
        if self.triage is not None:
            self.triage.reviewer = name
        if self.root is not None:
            self.open_folder(self.root)
        else:
            store = self.store
            self.tasks.run_in_background(lambda: Reading.from_store(store, name, mode), self._reading_read,
                                         lambda exc: log.warning("reading context not read: %s", type(exc).__name__))

    def _reading_read(self, reading: Reading) -> None:
        if (reading.reader, reading.mode) == (self.reviewer, self.mode) and self.worklist is None:
            self.reading = reading
            self.reading_changed.emit(reading)

    def select(self, key: str) -> None:
        """The user picked a row with the mouse (``key``: ``core.order.row_key``)."""
        if self.order is None or self.triage is None:
            return
        if self.order.row_of(key) is not None:
            self._user_moved = True
            self._picked = key
            self.triage.go_to_key(key)
            self._check_current()

    def neighbours(self) -> list:
        """The images the reviewer may see next (next to review, next, previous): decode these ahead."""
        t, order = self.triage, self.order
        if t is None or order is None or t.current < 0:
            return []
        i = t.current
        idx = order.next_to_review(i + 1)
        out = [order[idx]] if idx is not None else []
        out += [order[j] for j in (i + 1, i - 1) if 0 <= j < len(order)]
        return self._as_views(out)

    def toggle_scope_mark(self) -> None:
        """The current out-of-scope image is "in scope after all" (recorded: who, when, model version,
        verdict); on an image already marked, the mark is withdrawn. Written on the writer thread."""
        wl, item = self.worklist, self.current_item
        if wl is None or item is None or item.error is not None or not item.image_id:
            self.notice.emit("Choose an image first.")
            return
        if item.scope != "out_of_scope":
            self.notice.emit("This image is in the model's scope already.")
            return
        if not self.reviewer:
            self.notice.emit("Enter your name (File › Reviewer…) before marking an image in scope.")
            return
        marked = item.scope_marked_by is not None
        store, reviewer, version = self.store, self.reviewer, self.model_version

        def write():
            return store.mark_scope(item.image_id, reviewer, in_scope=not marked, model_version=version,
                                    scope_reason=item.scope_reason)

        def done(mark) -> None:
            if self.worklist is wl:
                wl.apply_scope_mark(mark)
                self._check_current()
            self.notice.emit(f"Marked in scope after all by {mark.reviewer}: {item.name} is ranked with the others now."
                             if mark.in_scope else f"{item.name} is out of scope again ({item.scope_reason}).")

        self.tasks.run_on_writer(write, done, lambda exc: self.notice.emit(_message(exc, "mark the image in scope")))

    def perform(self, action: str) -> None:
        """Queue a triage action (``core.triage.TRIAGE_ACTIONS``); they run strictly in order."""
        if action not in TRIAGE_ACTIONS + STUDY_ACTIONS:
            raise ValueError(f"unknown triage action {action!r}")
        self._user_moved = True
        self._queue.append(action)
        self._drain()

    @property
    def busy(self) -> bool:
        return self._busy or bool(self._queue)

    def _drain(self) -> None:
        while self._queue and not self._busy:
            action = self._queue.popleft()
            t = self.triage
            if t is None:
                continue
            if action in DECISION_ACTIONS:
                cur = t.current_item
                if cur is not None and cur.image_id in self._stale:
                    self.notice.emit("This file has changed since it was scanned; it is being scored again. "
                                     "Decide once its new score is shown.")
                    self.action_done.emit(action)
                    continue
                pending = t.prepare(action)
                if pending is None:
                    self.notice.emit("Nothing to decide here: choose an image that could be read.")
                    self.action_done.emit(action)
                    continue
                item = t.current_item
                self._busy = True
                self.tasks.run_on_writer(lambda p=pending: self._timed(t.write, p),
                                         lambda d, it=item, a=action: self._applied(a, d, it),
                                         lambda exc, a=action: self._write_failed(a, exc))
                return
            if action in ("undo", "redo"):
                write = t.write_undo if action == "undo" else t.write_redo
                self._busy = True
                self.tasks.run_on_writer(lambda w=write: self._timed(w), lambda d, a=action: self._applied(a, d, None),
                                         lambda exc, a=action: self._write_failed(a, exc))
                return
            self._navigate(action)
            self.action_done.emit(action)

    def _timed(self, fn, *args):
        """Run a durable write (writer thread) and remember how long the database took."""
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.last_write_ms = (time.perf_counter() - t0) * 1000.0

    def _navigate(self, action: str) -> None:
        if action in STUDY_ACTIONS:
            self._step(action)
        elif action == "next":
            self.triage.next()
        else:
            self.triage.previous()
        self._check_current()

    def _applied(self, action: str, decision, item) -> None:
        self._busy = False
        t = self.triage
        if t is not None and decision is not None:
            t.apply(decision)
            self._check_current()
            self.decision_saved.emit(decision, item)
        elif decision is None and action in ("undo", "redo"):
            self.notice.emit(f"Nothing to {action}.")
        self.action_done.emit(action)
        self._drain()

    def _write_failed(self, action: str, exc: BaseException) -> None:
        self._busy = False
        self._queue.clear()  # later keys were meant for the image after this one: drop them
        self.decision_failed.emit(_message(exc, "The decision was NOT saved"))
        self.action_done.emit(action)

    # -- closing -------------------------------------------------------------------------------------
    def close(self) -> None:
        self._gen += 1
        self._current_timer.stop()
        self._shown_timer.stop()
        self._shown_waiter = None
        self.live.stop()  # the claim's release is queued on the writer, which finishes before the app exits
        self.watcher.stop()
        self.cancel_scan()
        if self.triage is not None:
            self.triage.close()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.order is not None:
            self.order.close()

