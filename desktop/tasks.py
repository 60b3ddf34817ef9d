"""The one task runner: every thread the desktop app uses is owned here (like Anki's ``taskman``).

* ``run_in_background`` — decoding, inference, thumbnails: a small pool of worker threads;
* ``run_on_writer`` — every database write, in order, on ONE writer thread (so a decision is committed
  before the next one starts, and the GUI thread never waits on the disk);
* ``run_long`` — long jobs that drive their own callbacks (a folder scan, an export);
* ``run_on_main`` — hand a callable back to the GUI thread from any thread.

``hold_pool()`` / ``release_pool()`` (GUI thread): pool tasks asked for meanwhile wait, in order, and
start on release — at the latest ``HOLD_MAX_MS`` later; an ``urgent`` task (the image the reader waits
for) starts at once all the same. The session holds the pool from binding a folder's rows until its
current image is on screen: the thumbnails that binding asks for, and the viewer's decoding, ran
Python beside the rows' first paint and made the GUI thread wait for the GIL (the paint of 10,000
listed rows stalled it for 45–55 ms in a traced run, 17–26 ms with that work held back; README,
"Re-opening: what waits for the rows' first paint").

Worker and long-job threads run at a lower CPU priority than the GUI thread (``yield_to_gui``; Linux).
The task runner also shortens Python's thread switch interval (``core.model.runtime.short_gil_switch``):
the GUI thread gets the GIL back within 1 ms of asking while workers run Python. Results come back to the GUI thread through one queued signal; ``on_done(result)`` and
``on_error(exc)`` always run there. Without ``on_error`` a failure is re-raised on the GUI thread, so
it reaches the app's exception hook (logged and reported once) or, in tests, pytest-qt.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from core.model.runtime import short_gil_switch

log = logging.getLogger("fracture_triage.desktop.tasks")

HOLD_MAX_MS = 300  # hold_pool() ends by itself after this long, whatever happens to its release
WORKER_NICE = 10  # how much lower the pool's and long jobs' threads run than the GUI thread (Linux)


def yield_to_gui() -> None:
    """Lower the calling thread's CPU priority by ``WORKER_NICE`` (Linux: each thread has its own nice
    value; elsewhere nothing happens). Run at the start of every pool and long-job thread: on two cores
    a decode, the viewer's heatmap inference (onnxruntime's own threads inherit the value of the thread
    that creates the session, which is a pool thread) or a scan otherwise took most of the CPU from the
    GUI thread while it painted. The database writer keeps the normal priority (decisions stay quick)."""
    if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return
    tid = threading.get_native_id()
    try:
        now = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, now + WORKER_NICE))
    except OSError as exc:  # not allowed here: the thread keeps its priority
        log.debug("worker priority unchanged: %s", exc)


def _start_threads(executor: ThreadPoolExecutor, count: int) -> None:
    """Start ``count`` threads of ``executor`` now, not one by one as tasks come: a thread's start waits
    for the new thread to run, and opening a folder (listing, first paint, decoding, the scan) started
    three of them on the GUI thread while other threads held the GIL (about 12 ms there)."""
    barrier = threading.Barrier(count)

    def hold() -> None:  # each task keeps its thread busy until all have started, so none is reused
        try:
            barrier.wait(timeout=5.0)
        except threading.BrokenBarrierError:
            pass

    for _ in range(count):
        executor.submit(hold)


OnDone = Callable[[Any], None] | None
OnError = Callable[[BaseException], None] | None


class TaskRunner(QObject):
    """Owns the worker pool, the database writer thread and the long-job threads."""

    _deliver = Signal(object)
    idle = Signal()  # emitted on the GUI thread when no task of any kind is pending

    def __init__(self, parent: QObject | None = None, workers: int | None = None) -> None:
        super().__init__(parent)
        short_gil_switch()  # the GUI thread gets the GIL back within 1 ms while workers run Python
        n = workers or max(2, min(4, os.cpu_count() or 2))
        self._pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="ft-work", initializer=yield_to_gui)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ft-db-writer")
        self._long = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ft-long", initializer=yield_to_gui)
        self._lock = threading.Lock()
        self._pending = 0
        self._closed = False
        self._cancel_events: set[threading.Event] = set()
        self._deliver.connect(self._on_deliver, Qt.ConnectionType.QueuedConnection)
        self._held: list | None = None  # pool tasks waiting for release_pool(), while the pool is held
        self._hold_timer = QTimer(self)
        self._hold_timer.setSingleShot(True)
        self._hold_timer.timeout.connect(self.release_pool)
        for executor, count in ((self._pool, n), (self._writer, 1), (self._long, 2)):
            _start_threads(executor, count)

    # -- submitting ------------------------------------------------------------------------------------
    def run_in_background(self, fn: Callable[[], Any], on_done: OnDone = None, on_error: OnError = None, *,
                          urgent: bool = False) -> bool:
        """``fn()`` on the worker pool; ``urgent``: starts even while the pool is held. False: dropped,
        the runner is shut down (a timer or a paint waiter firing as the window closes), like the pool
        tasks still queued at shutdown."""
        if self._closed:
            return False
        if self._held is not None and not urgent:
            with self._lock:
                self._pending += 1
            self._held.append((fn, on_done, on_error))
            return True
        self._submit(self._pool, fn, on_done, on_error)
        return True

    def hold_pool(self, max_ms: int = HOLD_MAX_MS) -> None:
        """Pool tasks asked for from now on wait until ``release_pool()`` (at most ``max_ms``)."""
        if self._held is None:
            self._held = []
        self._hold_timer.start(max_ms)

    def release_pool(self) -> None:
        """Start the pool tasks that waited, in the order they were asked for."""
        held, self._held = self._held, None
        self._hold_timer.stop()
        for fn, on_done, on_error in held or ():
            if self._closed:
                return
            self._submit(self._pool, fn, on_done, on_error, counted=True)

    @property
    def pool_held(self) -> bool:
        return self._held is not None

    def run_on_writer(self, fn: Callable[[], Any], on_done: OnDone = None, on_error: OnError = None) -> Future:
        return self._submit(self._writer, fn, on_done, on_error)

    def run_long(self, fn: Callable[[threading.Event], Any], on_done: OnDone = None,
                 on_error: OnError = None) -> threading.Event:
        """Run ``fn(cancel_event)`` on a long-job thread; returns the event that cancels it."""
        cancel = threading.Event()
        with self._lock:
            self._cancel_events.add(cancel)

        def job():
            try:
                return fn(cancel)
            finally:
                with self._lock:
                    self._cancel_events.discard(cancel)

        self._submit(self._long, job, on_done, on_error)
        return cancel

    def run_on_main(self, fn: Callable[[], Any]) -> None:
        """Call ``fn()`` on the GUI thread (safe from any thread)."""
        if not self._closed:
            self._deliver.emit(fn)

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    # -- internals -------------------------------------------------------------------------------------
    def _submit(self, executor: ThreadPoolExecutor, fn, on_done: OnDone, on_error: OnError,
                counted: bool = False) -> Future:
        if self._closed:
            raise RuntimeError("the task runner is shut down")
        if not counted:  # a held task was counted when it was asked for
            with self._lock:
                self._pending += 1
        fut = executor.submit(fn)

        def finished(f: Future) -> None:
            if f.cancelled():  # dropped by shutdown(cancel_futures=True): nobody waits for it any more
                return
            exc = f.exception()
            if exc is None:
                result = f.result()

                def deliver():
                    if on_done is not None:
                        on_done(result)
            else:
                if on_error is None:
                    log.debug("task failed", exc_info=exc)

                def deliver():
                    if on_error is not None:
                        on_error(exc)
                    else:
                        raise exc

            self._deliver.emit(lambda: self._finish(deliver))

        fut.add_done_callback(finished)
        return fut

    def _finish(self, deliver: Callable[[], None]) -> None:
        with self._lock:
            self._pending -= 1
            now_idle = self._pending == 0
        try:
            deliver()
        finally:
            if now_idle:
                self.idle.emit()

    def _on_deliver(self, fn: Callable[[], None]) -> None:
        if self._closed:
            return
        fn()

    # -- closing ---------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel long jobs, finish every queued database write (decisions are never dropped), stop."""
        if self._closed:
            return
        with self._lock:
            events = list(self._cancel_events)
        for ev in events:
            ev.set()
        self._long.shutdown(wait=True, cancel_futures=True)  # a cancelled scan may still queue writes
        self._closed = True
        self._held = None  # pool tasks still held are dropped like the pool's queued ones
        self._hold_timer.stop()
        self._writer.shutdown(wait=True)
        self._pool.shutdown(wait=True, cancel_futures=True)
