"""Several readers at one worklist, for the review session: the claim on the image on this reader's
screen and the live updates from the other readers (see ``core.reading`` and README "Several readers in
the app"). No rules here — which image is next and what a reader may see are core's; this module only
runs the store calls on the task runner's threads and reports back on the GUI thread.

* **Claim** (``follow``): the image on screen is claimed on the writer thread — in the same
  transaction the previous one is let go — renewed every ``CLAIM_RENEW_S`` while it stays open,
  released by ``release`` (closing, another reader). A refused claim is reported (``refused``).
* **Live updates** (``poll_now``, every ``POLL_INTERVAL_MS``): ``Worklist.poll`` on a worker thread,
  ``Worklist.apply_update`` back here (``updated`` with the number of changed rows). A failing poll is
  logged once, not every two seconds.

``LiveSession`` is the review session's half (mixed into ``desktop.session.ReviewSession``): what a
refused claim does to the reader's place in the list.
"""

from __future__ import annotations

import logging
import time
from typing import Optional

from PySide6.QtCore import QObject, QTimer, Signal

log = logging.getLogger("fracture_triage.desktop.live")

POLL_INTERVAL_MS = 2000  # other readers' decisions and claims
CLAIM_RENEW_S = 60.0  # a claim lasts core.store.readers.CLAIM_TTL_S (5 min); renewed while the image is open


class LiveReaders(QObject):
    updated = Signal(int)  # a live update was applied: how many rows changed
    refused = Signal(str, bool)  # image id another reader holds; whether this reader picked it by mouse

    def __init__(self, tasks, store, parent: Optional[QObject] = None) -> None:  # noqa: ANN001
        super().__init__(parent)
        self.tasks, self.store = tasks, store
        self.reader = ""
        self.worklist = None
        self.claimed: Optional[str] = None  # the image this reader holds (asked for) a claim on
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
    def follow(self, image_id: Optional[str], picked: bool = False) -> None:
        """The image now on screen (None: nothing to claim): claim it, letting go of the previous one."""
        if not self.reader:
            image_id = None
        if image_id == self.claimed:
            return
        prev, self.claimed = self.claimed, image_id
        store, reader = self.store, self.reader
        if image_id is None:
            self._release(prev)
            return
        self._claimed_at = time.monotonic()
        self.tasks.run_on_writer(lambda: store.claim(reader, image_id, release=prev),
                                 lambda ok: ok or self._refused(image_id, picked),
                                 lambda exc: log.warning("claim not taken: %s", type(exc).__name__))

    def release(self) -> None:
        prev, self.claimed = self.claimed, None
        self._release(prev)

    def _release(self, image_id: Optional[str]) -> None:
        if image_id is not None and self.reader:
            store, reader = self.store, self.reader
            self.tasks.run_on_writer(lambda: store.release(reader, image_id), None,
                                     lambda exc: log.warning("claim not released: %s", type(exc).__name__))

    def _refused(self, image_id: str, picked: bool) -> None:
        if self.claimed == image_id:
            self.claimed = None
        self.refused.emit(image_id, picked)

    # -- live updates --------------------------------------------------------------------------------------
    def poll_now(self) -> None:
        """Bring in other readers' decisions and claims (the store is read on a worker thread)."""
        wl = self.worklist
        if wl is None or self._polling:
            return
        if self.claimed is not None and time.monotonic() - self._claimed_at >= CLAIM_RENEW_S:
            self._claimed_at = time.monotonic()
            store, reader, image_id = self.store, self.reader, self.claimed
            self.tasks.run_on_writer(lambda: store.claim(reader, image_id), None, lambda exc: None)
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

    def _claim(self, item) -> None:
        """Hold the image now on screen for this reader (see ``desktop.live``)."""
        want = item.image_id if (item is not None and item.error is None and item.image_id and item.label is None
                                 and self.reviewer) else None
        picked, self._picked = want is not None and want == self._picked, None
        self.live.follow(want, picked)

    def _claim_refused(self, image_id: str, picked: bool) -> None:
        wl, t = self.worklist, self.triage
        if wl is None or t is None:
            return
        wl.mark_held(image_id)
        self.claim_refused.emit(image_id)
        if t.current_key != image_id:
            return
        if picked:
            self.notice.emit("Another reader has this image open at the moment; your decision is still recorded "
                             "if you make one.")
            return
        nxt = self.order.next_to_review(t.current + 1, skip=image_id)
        if nxt is not None:
            t.go_to(nxt)
            self._check_current()
            self.notice.emit("The image you came to is open at another reader's workstation: moved on to the next.")

    def poll_now(self) -> None:
        """Bring in other readers' decisions and claims now (also every ``desktop.live.POLL_INTERVAL_MS``)."""
        self.live.poll_now()

    def _others_updated(self, changed: int) -> None:
        if changed:
            self._check_current()
        self.others_updated.emit(changed)

