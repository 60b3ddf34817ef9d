"""Several readers at one worklist, for the review session: the claim on the image on this reader's
screen and the live updates from the other readers (see ``core.reading`` and README "Several readers in
the app"). No rules here — which image is next and what a reader may see are core's; this module only
runs the store calls on the task runner's threads and reports back on the GUI thread.

* **Claim** (``follow``): the row on screen is claimed on the writer thread — in the same
  transaction the previous one is let go — renewed every ``CLAIM_RENEW_S`` while it stays open,
  released by ``release`` (closing, another reader). An image the reader came to (not picked) is
  claimed with the next ``CLAIM_AHEAD`` images to review behind it (``Store.claim_next``): when it is
  held, the first free one is taken in the same transaction (``SKIP LOCKED`` on PostgreSQL), so two
  readers opening the top of the list at once get different images in one round trip each. A study
  row, or a view of the open study (study mode), claims every view the reader has still to decide,
  whole or not at all (``Store.claim_all``). A refused claim is reported (``refused``).
* **Live updates** (``poll_now``, every ``POLL_INTERVAL_MS``): ``Worklist.poll`` on a worker thread,
  ``Worklist.apply_update`` back here (``updated`` with the number of changed rows). A failing poll is
  logged once, not every two seconds.

``LiveSession`` is the review session's half (mixed into ``desktop.session.ReviewSession``): what a
refused claim does to the reader's place in the list (marks what others hold, then moves on to the next
image or study to review unless the reader picked it).
"""

from __future__ import annotations

import logging
import time
from typing import Optional

from PySide6.QtCore import QObject, QTimer, Signal

from core.studies import STUDY_PREFIX

log = logging.getLogger("fracture_triage.desktop.live")

POLL_INTERVAL_MS = 2000  # other readers' decisions and claims
CLAIM_AHEAD = 20  # images after the current one offered to Store.claim_next, taken instead when it is held
CLAIM_RENEW_S = 60.0  # a claim lasts core.store.readers.CLAIM_TTL_S (5 min); renewed while the image is open


class LiveReaders(QObject):
    updated = Signal(int)  # a live update was applied: how many rows changed
    refused = Signal(str, bool, object)  # row key refused; picked by mouse; the image ids others hold (tuple)

    def __init__(self, tasks, store, parent: Optional[QObject] = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.tasks, self.store = tasks, store
        self.reader = ""
        self.worklist = None
        self.claimed: tuple = ()  # the images this reader holds (asked for) a claim on: the row on screen
        self._claimed_at = 0.0
        self._polling = False
        self._poll_failed = False
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_INTERVAL_MS)
        self.timer.timeout.connect(self.poll_now)

    def bind(self, worklist, reader: str) -> None:  # noqa: ANN001
        """Follow this worklist for this reader (a folder was loaded)."""
        if reader != self.reader:
            self.release()
        self.worklist, self.reader = worklist, reader
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self.release()  # queued on the writer, which finishes its queue before the app exits

    # -- claims --------------------------------------------------------------------------------------------
    def follow(self, ids=(), key: Optional[str] = None, picked: bool = False, then=()) -> None:  # noqa: ANN001
        """The row now on screen: claim its images ``ids`` (one image, or the views of a study, claimed
        whole; empty: nothing to claim), letting go of the previous ones in the same transaction.
        ``key``: the row's key, reported with a refusal; ``then``: the images after it in the review
        order — when the image is held, the first free one of these is claimed instead, in the same
        transaction (``Store.claim_next``: ``SKIP LOCKED`` on PostgreSQL)."""
        ids = tuple(ids or ()) if self.reader else ()
        if ids == self.claimed:
            return
        prev, self.claimed = self.claimed, ids
        store, reader = self.store, self.reader
        if not ids:
            self._release(prev)
            return
        key = key or ids[0]
        self._claimed_at = time.monotonic()
        candidates = (ids[0], *then) if len(ids) == 1 and then else ()

        def work() -> tuple:  # the writer thread: (images held by others, the image claimed instead)
            if len(ids) > 1:
                return tuple(store.claim_all(reader, ids, release=prev)), None
            if candidates:
                got = store.claim_next(reader, candidates, release=prev)
                return (candidates[:candidates.index(got)] if got else candidates), got
            return (() if store.claim(reader, ids[0], release=prev) else ids), None

        def done(result: tuple) -> None:
            held, got = result
            if held:
                self._refused(ids, key, picked, held, got)

        self.tasks.run_on_writer(work, done, lambda exc: log.warning("claim not taken: %s", type(exc).__name__))

    def release(self) -> None:
        prev, self.claimed = self.claimed, ()
        self._release(prev)

    def _release(self, ids: tuple) -> None:
        if ids and self.reader:
            store, reader = self.store, self.reader
            self.tasks.run_on_writer(lambda: store.release(reader, ids), None,
                                     lambda exc: log.warning("claim not released: %s", type(exc).__name__))

    def _refused(self, ids: tuple, key: str, picked: bool, held: tuple, got: Optional[str]) -> None:
        if self.claimed == ids:
            self.claimed = (got,) if got else ()
        elif got is not None and got not in self.claimed:
            self._release((got,))  # the reader moved elsewhere meanwhile: the image taken instead is not wanted
        self.refused.emit(key, picked, held)

    def _renew(self) -> None:
        store, reader, ids = self.store, self.reader, self.claimed
        renew = (lambda: store.claim(reader, ids[0])) if len(ids) == 1 else (lambda: store.claim_all(reader, ids))
        self.tasks.run_on_writer(renew, None, lambda exc: None)

    # -- live updates --------------------------------------------------------------------------------------
    def poll_now(self) -> None:
        """Bring in other readers' decisions and claims (the store is read on a worker thread)."""
        wl = self.worklist
        if wl is None or self._polling:
            return
        if self.claimed and time.monotonic() - self._claimed_at >= CLAIM_RENEW_S:
            self._claimed_at = time.monotonic()
            self._renew()
        self._polling = True

        def done(update) -> None:  # noqa: ANN001
            self._polling = False
            self._poll_failed = False
            if wl is self.worklist:
                self.updated.emit(wl.apply_update(update))

        def failed(exc: BaseException) -> None:
            self._polling = False
            if not self._poll_failed:
                self._poll_failed = True
                log.warning("live update failed (%s); retrying every %d s", type(exc).__name__, POLL_INTERVAL_MS // 1000)

        self.tasks.run_in_background(wl.poll, done, failed)


class LiveSession:
    """The review session's half of several readers (mixed into ``desktop.session.ReviewSession``): it
    claims the image on screen through its ``live`` (``LiveReaders``), and when a claim is refused marks
    the image held and, unless the reader picked it, moves on to the next image to review."""

    def _claim_target(self, item) -> tuple:  # noqa: ANN001
        """(image ids to claim, row key) for the row on screen: an image not yet decided by this reader,
        or — in the study mode, on a study row or a view of the open study — every view of the study
        this reader has still to decide, claimed whole (another reader does not get them meanwhile)."""
        if item is None or item.error is not None or not self.reviewer:
            return (), None
        study = item if item.is_study else getattr(self.order, "open_study", None)
        if study is not None and (item.is_study or item.image_id in {v.image_id for v in study.views}):
            return tuple(v.image_id for v in study.decidable if v.label is None), study.row_key
        if item.image_id and item.label is None:
            return (item.image_id,), item.image_id
        return (), None

    def _claim_ahead(self, key: str) -> tuple:
        """The next ``CLAIM_AHEAD`` images to review after the current row (taken instead when it is held)."""
        t, order, out = self.triage, self.order, []
        row = t.current
        for _ in range(CLAIM_AHEAD):
            nxt = order.next_to_review(row + 1, skip=(key, *out))
            if nxt is None:
                break
            item = order[nxt]
            if item.is_study or not item.image_id:
                break
            out.append(item.image_id)
            row = nxt
        return tuple(out)

    def _claim(self, item) -> None:  # noqa: ANN001
        """Hold the row now on screen for this reader (see ``desktop.live``)."""
        ids, key = self._claim_target(item)
        picked = bool(ids) and self._picked is not None and (self._picked == key or self._picked in ids)
        self._picked = None
        if ids == self.live.claimed:
            return
        then = self._claim_ahead(key) if len(ids) == 1 and not picked and not item.is_study and \
            getattr(self.order, "open_study", None) is None else ()
        self.live.follow(ids, key, picked, then)

    def _claim_refused(self, key: str, picked: bool, held: tuple) -> None:
        wl, t = self.worklist, self.triage
        if wl is None or t is None:
            return
        for image_id in held:
            wl.mark_held(image_id)
        self.claim_refused.emit(key)
        if self._claim_target(t.current_item)[1] != key:
            return
        if picked:
            self.notice.emit("Another reader has this image open at the moment; your decision is still recorded "
                             "if you make one." if not key.startswith(STUDY_PREFIX) else
                             "Another reader has a view of this study open at the moment; your decision is still "
                             "recorded if you make one.")
            return
        nxt = self.order.next_to_review(t.current + 1, skip=key)
        if nxt is None:
            self.notice.emit("Everything still to review is open at other readers' workstations at the moment.")
        else:
            t.go_to(nxt)
            self._check_current()
            self.notice.emit("The image you came to is open at another reader's workstation: moved on to the next."
                             if not key.startswith(STUDY_PREFIX) else
                             "A view of the study you came to is open at another reader's workstation: moved on "
                             "to the next study.")

    def poll_now(self) -> None:
        """Bring in other readers' decisions and claims now (also every ``desktop.live.POLL_INTERVAL_MS``)."""
        self.live.poll_now()

    def _others_updated(self, changed: int) -> None:
        if changed:
            self._check_current()
        self.others_updated.emit(changed)

