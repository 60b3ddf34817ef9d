"""The scan of the open folder, for ``desktop.session.ReviewSession`` (mixed in; no widgets): the scan
runs as the task runner's long job; its results go through one ``core.recorder.ScanRecorder`` — written
to the store in small batches on the writer thread, then added to the worklist on the GUI thread, so
what the table shows is what the database holds; progress reaches the GUI thread at most five times a
second, only the newest figure when it was busy; the decode threads hand each decoded image to the
thumbnail cache; each file is marked handled in the folder's watch as its result comes, and the
summary keeps no items (``scan(keep_items=False)``: 100,000 of them held to the end were ~75 MB); when
the scan ends the folder is watched and its rows are settled out of the garbage collector's way
(``desktop.gc_guard``).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from core.recorder import BatchResult, ScanRecorder
from core.scan import ScanProgress, scan
from desktop import gc_guard
from desktop.folder_changes import _message

log = logging.getLogger("fracture_triage.desktop.session")

FLUSH_INTERVAL_S = 0.12


class FolderScan:
    """Uses the session's ``model``, ``store``, ``tasks``, ``worklist``, ``order``, ``triage``, ``reading``,
    ``thumbnails``, ``watch``, ``watcher``, ``_gen``, ``_replacing``, ``_user_moved``, ``busy``,
    ``_check_current``, ``_emit_counts`` and its ``scan_started`` / ``scan_progress`` / ``scan_failed`` /
    ``scan_finished`` / ``notice`` signals."""

    def _start_scan(self, root: Path, gen: int, files=None, new=frozenset()) -> None:  # noqa: ANN001
        """Scan ``root`` (the folder's scan) or, with ``files``, score just those new/changed files of
        the watched folder (no progress shown)."""
        model = self.model
        quiet = files is not None
        wl, watch = self.worklist, self.watch
        # shown=: an unchanged file the worklist shows as it is is stored, not handed back (Worklist.shows)
        recorder = ScanRecorder(self.store, root, model.version, interval_s=FLUSH_INTERVAL_S, read_labels=True,
                                labels_of=self.reading.labels_of, shown=wl.shows if wl is not None else None)
        last_progress = [0.0]

        def write(batch: list) -> None:
            if batch:  # on the writer thread; then on the GUI thread, add what was stored to the worklist
                self.tasks.run_on_writer(lambda: recorder.write(batch), lambda result: self._add_results(result, gen),
                                         self._scan_write_failed)

        mark = watch.mark if watch is not None and not quiet else None

        def on_item(item) -> None:  # the folder's scan keeps no items: each is marked handled as it comes
            if mark is not None and (item.size or item.mtime_ns):
                mark(item.path, item.size, item.mtime_ns)
            write(recorder.add(item))

        latest: list = [None]  # the newest progress not yet shown; one delivery on its way at a time
        latest_lock = threading.Lock()

        def show_progress() -> None:
            with latest_lock:
                p, latest[0] = latest[0], None
            if p is not None and gen == self._gen:
                self.scan_progress.emit(p)

        def on_progress(p: ScanProgress) -> None:
            now = time.monotonic()
            if quiet:
                return
            if now - last_progress[0] >= 0.2 or p.done >= p.total:
                last_progress[0] = now
                with latest_lock:
                    posted, latest[0] = latest[0] is not None, p
                if not posted:  # a busy GUI thread gets the newest figure once, not each one it missed
                    self.tasks.run_on_main(show_progress)

        thumbs = self.thumbnails
        on_decoded = thumbs.put_decoded if thumbs is not None else None

        def job(cancel: threading.Event):
            try:
                summary = scan(root, model, known_batch=recorder.known_batch, on_item=on_item,
                               on_progress=on_progress, cancel=cancel, on_decoded=on_decoded, files=files,
                               keep_items=quiet)  # the watch's scans report their items (desktop.folder_changes)
            finally:
                write(recorder.rest())
            folders = set()
            if not quiet and not summary.cancelled and watch is not None:  # off the GUI thread: 10,000s of files
                folders = watch.folders()
            return summary, folders

        def finished(result) -> None:
            # The writer runs in order: once this no-op is through, every batch above is in the worklist.
            summary, folders = result
            if quiet:
                self.tasks.run_on_writer(lambda: None, lambda _: self._watch_scan_done(summary, gen, recorder, new))
            else:
                self.tasks.run_on_writer(lambda: None, lambda _: self._scan_done(summary, gen, recorder, folders))

        def failed(exc: BaseException) -> None:
            if gen == self._gen:
                self.scanning = False
                if quiet and self.watch is not None:  # the watch tries these files again later
                    self.watch.unhandled(files)
                    self.watcher.resume()
                self.scan_failed.emit(_message(exc, "The scan stopped"))

        self.scanning = True
        if not quiet:  # the folder's scan starts afresh; the watch's scans add to it
            self.scan_started.emit(str(root))
            self.tasks.run_on_writer(recorder.begin, None, self._scan_write_failed)
        self._cancel = self.tasks.run_long(job, finished, failed)

    def _add_results(self, result: BatchResult, gen: int) -> None:
        if gen == self._gen and self.worklist is not None and result.changed:
            self.worklist.add_scan_items(result.changed, result.labels)
            if self._replacing:
                self._replace_changed(result.changed)
            t = self.triage
            if not self._user_moved and t is not None and not self.busy:
                top = self.order.next_to_review(0)
                if top is not None and top != t.current:
                    t.go_to(top)
                    self._check_current()

    def _scan_write_failed(self, exc: BaseException) -> None:
        if self._cancel is not None:
            self._cancel.set()
        self.scan_failed.emit(_message(exc, "Scan results could not be saved"))

    def _scan_done(self, summary, gen: int, recorder: ScanRecorder, folders=frozenset()) -> None:  # noqa: ANN001
        """The folder's scan ended; ``folders``: its image folders (the job marked its files handled)."""
        if gen != self._gen:
            return
        self.scanning = False
        self.last_summary = summary
        if not summary.cancelled and self.watch is not None and not recorder.failed:
            self.watcher.start(self.watch, folders)
        if recorder.not_stored and not recorder.failed:
            n = len(recorder.not_stored)
            self.notice.emit(f"{n:,} scanned file{'s' if n != 1 else ''} could not be saved to the database "
                             "and {} not listed; details are in the log file.".format("are" if n != 1 else "is"))
            kinds = sorted({reason.split(":", 1)[0] for _path, reason in recorder.not_stored})
            log.warning("%d scan results not stored (%s)", n, ", ".join(kinds))
        self._emit_counts()
        gc_guard.settle()  # the rows the scan added, too
        self.scan_finished.emit(summary)

    def cancel_scan(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
