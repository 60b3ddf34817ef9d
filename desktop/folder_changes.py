"""Files that change in the open folder while a review session has it open (mixed into
``desktop.session.ReviewSession``; no widgets): a file whose bytes are no longer those of the image its
row shows is scored again (worker pool), stored (writer thread) and its row replaced by the new
image's — no decision may be recorded against the old image id meanwhile (``_stale``). Also the
session's one wording of a failure for the user (``_message``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from core.order import row_key
from core.recorder import DatabaseFailing, ScanRecorder
from core.scan_steps import score_file
from core.store import StoreError

log = logging.getLogger("fracture_triage.desktop.session")


class FolderChanges:
    """Uses the session's ``model``, ``root``, ``_gen``, ``store``, ``worklist``, ``triage``, ``tasks``,
    ``_stale``, ``_check_current`` and its ``rescored`` / ``notice`` signals."""

    def file_changed(self, image_id: str, path: str) -> None:
        """The viewer found other bytes at ``path`` than the image ``image_id`` it was scanned as: no
        decision may be recorded against that id; the file is scored again (worker pool), stored
        (writer thread) and its row replaced by the new image's."""
        if image_id in self._stale or self.model is None or self.worklist is None:
            return
        self._stale.add(image_id)
        model, root, gen, store, wl = self.model, self.root, self._gen, self.store, self.worklist
        log.info("file changed since its scan: %s (image %s…); scoring it again", Path(path).name, image_id[:12])

        def stored(result) -> None:
            item, labels = result
            self._stale.discard(image_id)
            if gen != self._gen or self.worklist is None:
                return
            was_current = self.current_item is not None and self.current_item.image_id == image_id
            self.worklist.add_scan_items([item], labels)
            if item.image_id != image_id:
                self.worklist.forget(image_id)
            if was_current and self.triage is not None and item.image_id:
                self.triage.go_to_key(item.image_id)
            self._check_current()
            self.rescored.emit(image_id, item)

        def scored(item) -> None:
            def write():
                store.record_scan_results(root, [item])
                return item, (wl.labels_for([item.image_id]) if item.image_id else {})

            self.tasks.run_on_writer(write, stored, failed)

        def failed(exc: BaseException) -> None:
            self._stale.discard(image_id)
            self.notice.emit(_message(exc, "The changed file could not be scored again"))

        self.tasks.run_in_background(lambda: score_file(Path(path), model), scored, failed)

    # -- the watched folder (desktop.folder_watch) ------------------------------------------------------
    def _score_watched(self, result) -> None:
        """New or changed files of the open folder have settled: score them (a quiet scan of just these)."""
        if self.root is None or self.model is None or self.worklist is None or self.scanning:
            if self.watch is not None:
                self.watch.unhandled(result.settled)  # looked at again later
            self.watcher.resume()
            return
        changed = [f.path for f in result.settled if f.path not in result.new]
        if changed:
            self._replacing.update(self.worklist.keys_at(changed))
        self._start_scan(self.root, self._gen, files=result.settled, new=frozenset(result.new))

    def _replace_changed(self, stored) -> None:  # noqa: ANN001
        """A changed file's new image takes the place of the row its old bytes had."""
        for si in stored:
            old = self._replacing.pop(str(Path(si.path).absolute()), None)
            if old is None or old == si.image_id:
                continue
            was_current = self.current_item is not None and row_key(self.current_item) == old
            self.worklist.forget(old)
            if was_current and self.triage is not None and si.image_id:
                self.triage.go_to_key(si.image_id)
        self._check_current()

    def _watch_scan_done(self, summary, gen: int, recorder: ScanRecorder, new) -> None:  # noqa: ANN001
        if gen != self._gen:
            return
        self.scanning = False
        self._replacing = {}
        wl = self.worklist
        for item in summary.items:
            if item.path not in new or wl is None or not item.image_id:
                continue
            row = wl.item(item.image_id)
            if self.reading.blinded:  # the model is hidden from this reader: no flag is told
                continue
            if row is not None and row.flag is not None and row.label is None:
                self.new_flagged.emit(f"New image flagged {row.flag} ({row.probability:.0%}): {row.name}",
                                      item.image_id)
        self._emit_counts()
        self.watch_scored.emit(summary)
        self.watcher.resume()


def _message(exc: BaseException, what: str) -> str:
    if isinstance(exc, (StoreError, DatabaseFailing)):
        return f"{what}: {exc}"
    if isinstance(exc, (FileNotFoundError, NotADirectoryError, PermissionError)):
        return f"{what}: the folder cannot be read ({exc.strerror or exc})."
    from core.model import ModelError

    if isinstance(exc, ModelError):
        return f"{what}: {exc}"
    log.error("%s", what, exc_info=exc)
    return f"{what} because of an unexpected problem (details are in the log file)."
