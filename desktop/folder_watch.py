"""``FolderWatcher``: keeps the open folder watched — when to look again, and the Qt side of it.

``core.watch.FolderWatch`` decides what is new, changed and settled; this object decides *when* to
ask: soon after a ``QFileSystemWatcher`` notification for the folder or one of its sub-folders (a burst
of notifications is one look, ``NOTIFY_DELAY_S`` later), ``settle_s`` after a look that left files
still being written, and every ``poll_s`` seconds anyway (network shares often send no notification).
Each look (a walk of the folder) runs on the task runner's worker pool, one at a time; the GUI thread
only starts it and receives the result. Settled files are handed on with ``settled`` (the session
scores them and calls ``resume`` when done); looks stop while a scan runs and during ``pause``.
"""

from __future__ import annotations

import logging
from typing import Optional

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from core.watch import NOTIFY_DELAY_S, POLL_S, FolderWatch, PollResult

log = logging.getLogger("fracture_triage.desktop.watch")

MAX_WATCHED_FOLDERS = 2000  # inotify watches are a per-user budget; beyond this the periodic look covers it


class FolderWatcher(QObject):
    settled = Signal(object)  # PollResult with settled files: score them, then call resume()
    polled = Signal(object)  # every PollResult (status line, tests)

    def __init__(self, tasks, parent: QObject | None = None, *, poll_s: float = POLL_S,
                 notify_delay_s: float = NOTIFY_DELAY_S) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.poll_s = poll_s
        self.notify_delay_s = notify_delay_s
        self.watch: Optional[FolderWatch] = None
        self._fs = QFileSystemWatcher(self)
        self._fs.directoryChanged.connect(self._notified)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._poll)
        self._gen = 0
        self._looking = False  # a walk is running on a worker
        self._held = True  # stopped, or a scan of settled files is running
        self.last: Optional[PollResult] = None

    @property
    def active(self) -> bool:
        return self.watch is not None

    def start(self, watch: FolderWatch, folders) -> None:  # noqa: ANN001 - iterable of Path
        """Watch ``watch``'s folder from now on (after its scan); ``folders``: the image folders seen."""
        self.stop()
        self.watch = watch
        self._held = False
        self._add_folders({watch.root, *folders})
        self._schedule(watch.settler.settle_s if watch.pending else self.poll_s)

    def stop(self) -> None:
        self._gen += 1
        self.watch = None
        self._held = True
        self._looking = False
        self._timer.stop()
        watched = self._fs.directories() + self._fs.files()
        if watched:
            self._fs.removePaths(watched)

    def resume(self) -> None:
        """The settled files handed on are scored: look again (at once if more was notified meanwhile)."""
        if self.watch is None:
            return
        self._held = False
        self._schedule(self.watch.settler.settle_s if self.watch.pending else self.poll_s)

    def look_now(self) -> None:
        """Look as soon as possible (after the notification delay)."""
        self._notified("")

    # -- internals -------------------------------------------------------------------------------------
    def _add_folders(self, folders) -> None:  # noqa: ANN001
        have = set(self._fs.directories())
        room = MAX_WATCHED_FOLDERS - len(have)
        new = [str(f) for f in sorted(folders) if str(f) not in have][:max(room, 0)]
        if new:
            failed = self._fs.addPaths(new)
            if failed:
                log.info("%d folders not watched for notifications (the periodic look covers them)", len(failed))

    def _schedule(self, delay_s: float) -> None:
        ms = max(0, int(delay_s * 1000))
        if not self._timer.isActive() or self._timer.remainingTime() > ms:
            self._timer.start(ms)

    def _notified(self, _path: str) -> None:
        if self.watch is not None:
            self._schedule(self.notify_delay_s)

    def _poll(self) -> None:
        watch = self.watch
        if watch is None:
            return
        if self._looking or self._held:
            return  # resume() or the running look schedules the next one
        self._looking = True
        gen = self._gen

        def done(result: PollResult) -> None:
            if gen != self._gen:
                return
            self._looking = False
            self.last = result
            self._add_folders(result.folders)
            self.polled.emit(result)
            if result.settled:
                self._held = True
                self.settled.emit(result)
            else:
                self._schedule(watch.settler.settle_s if result.pending else self.poll_s)

        def failed(exc: BaseException) -> None:  # the folder vanished, a share went away: try again later
            if gen != self._gen:
                return
            self._looking = False
            log.warning("watching %s: %s", watch.root, exc)
            self._schedule(self.poll_s)

        self.tasks.run_in_background(watch.poll, done, failed)


__all__ = ["FolderWatcher", "MAX_WATCHED_FOLDERS"]
