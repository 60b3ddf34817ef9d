"""Garbage collection on the GUI thread only. Python's cycle collector runs in whichever thread happens
to allocate when a threshold is crossed — in this app often a decode, inference or database-writer
thread. When such a collection frees a Qt wrapper, Qt objects (timers, socket notifiers, watchers) are
destroyed outside the thread that owns them, which Qt does not allow and which can abort the process.
``install(app)`` turns automatic collection off and runs the same generational collection from a timer
on the GUI thread instead (the default thresholds, checked every ``interval_ms``); ``uninstall`` restores
it. Reference counting, which frees almost everything, is unchanged.

A full collection walks every object: with a folder of 10,000 images open that is ~200,000 objects and
~100 ms of the GUI thread (a million and half a second with 100,000). What survives a full collection
is kept out of later ones (``gc.freeze``), and so is everything alive when ``settle()`` is called —
once a folder's rows are installed, and when its scan ends: collections walk only what is new.
Frozen objects are still freed by reference counting, and a folder's rows form no cycles (tested:
``tests/desktop/test_session.py``): re-opening a 10,000-image folder left 330 objects of cyclic garbage,
which a full collection took 0.5 s of the GUI thread to find. So ``release()`` — called when a folder's
rows are about to be replaced — hands the frozen objects back only every ``RELEASE_EVERY`` folders;
then the next check collects them all once, and the cyclic garbage of the folders left behind is freed.

``building()`` wraps a worker's job that allocates long-lived objects in bulk (a column sort of 100,000
rows: ~300,000 objects in a second): the checks wait while it runs and what it made is frozen when it
ends, so no collection on the GUI thread walks them (each walked them for 50–170 ms)."""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator, Optional

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500
RELEASE_EVERY = 8  # folders opened between full collections of what settle() froze
_building = 0  # jobs inside building(): the checks wait
_lock = threading.Lock()


class MainThreadCollector(QObject):
    """Runs ``gc.collect(generation)`` on the GUI thread whenever a generation's count passed its threshold."""

    def __init__(self, parent: Optional[QObject] = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.collections = 0
        self.full_due = False
        self.releases = 0  # release() calls since the frozen objects were last handed back
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        self._timer.start(interval_ms)

    def check(self) -> None:
        if _building:  # a worker is making long-lived objects in bulk: they are frozen when it ends
            return
        if self.full_due:  # objects were handed back by release(): one full collection
            self.full_due = False
            self._collect(2)
            return
        counts = gc.get_count()
        for generation in (2, 1, 0):  # the oldest generation due, which collects the younger ones too
            if counts[generation] > self.thresholds[generation]:
                self._collect(generation)
                return

    def _collect(self, generation: int) -> None:
        gc.collect(generation)
        self.collections += 1
        if generation == 2:  # what survived a full collection is long-lived: the next walks only what is new
            gc.freeze()


_installed: Optional[MainThreadCollector] = None


def install(app: QObject, interval_ms: int = INTERVAL_MS) -> MainThreadCollector:
    """Collect on the GUI thread from now on (idempotent); ``app``: the QApplication (owns the timer)."""
    global _installed
    if _installed is None:
        _installed = MainThreadCollector(app, interval_ms)
        gc.disable()
    return _installed


def settle() -> None:
    """Everything alive now is long-lived (a folder's rows were just installed): later collections
    leave it out (``gc.freeze``; reference counting still frees it)."""
    gc.freeze()


@contextmanager
def building() -> Iterator[None]:
    """Around a job (any thread) that makes long-lived objects in bulk: no collection runs on the GUI
    thread meanwhile, and everything alive when it ends is frozen (``settle``)."""
    global _building
    with _lock:
        _building += 1
    try:
        yield
    finally:
        settle()
        with _lock:
            _building -= 1


def release() -> None:
    """What ``settle`` kept out is about to be replaced (a folder's rows): every ``RELEASE_EVERY``-th
    call hand it back to the collector, which collects it all once at its next check (automatic
    collection does, when the guard is not installed). In between, the rows left behind are freed by
    reference counting and their few cycles wait for that collection."""
    if not gc.get_freeze_count():
        return
    if _installed is not None:
        _installed.releases += 1
        if _installed.releases < RELEASE_EVERY:
            return
        _installed.releases = 0
        _installed.full_due = True
    gc.unfreeze()


def uninstall() -> None:
    global _installed
    if _installed is not None:
        _installed._timer.stop()
        _installed.deleteLater()
        _installed = None
    gc.enable()
