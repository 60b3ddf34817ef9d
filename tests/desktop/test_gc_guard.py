"""desktop.gc_guard: with it installed, cyclic garbage is collected by the GUI thread's timer, not by
whichever thread allocates; uninstalling restores automatic collection."""

import gc
import threading

from PySide6.QtCore import QObject

from desktop import gc_guard


def test_cycles_are_collected_on_the_gui_thread_only(qtbot):
    assert not gc.isenabled()  # the desktop tests run with it installed, as the app does
    collector = gc_guard.install(None)  # idempotent: the one already installed
    threads: list[str] = []

    def seen(phase, _info):
        if phase == "start":
            threads.append(threading.current_thread().name)

    gc.callbacks.append(seen)
    try:
        def churn():
            for _ in range(20000):  # far past the generation-0 threshold
                a, b = [], []
                a.append(b)
                b.append(a)

        worker = threading.Thread(target=churn, name="worker")
        worker.start()
        worker.join()
        assert threads == []  # the worker's allocations triggered no collection
        class Holder(QObject):
            pass

        h = Holder()
        h.me = h  # a cycle through a Qt wrapper
        del h
        before = collector.collections
        qtbot.waitUntil(lambda: collector.collections > before, timeout=5000)
        assert threads and set(threads) == {threading.main_thread().name}
    finally:
        gc.callbacks.remove(seen)


def test_uninstall_restores_automatic_collection(qapp):
    gc_guard.uninstall()
    try:
        assert gc.isenabled()
    finally:
        gc_guard.install(qapp)
    assert not gc.isenabled()


def test_settled_objects_are_left_out_until_released_then_collected(qtbot, monkeypatch):
    """settle(): what is alive is frozen (later collections skip it); release(): handed back, and the
    guard's next check runs one full collection that frees the cycles among it."""
    import weakref

    collector = gc_guard.install(None)
    monkeypatch.setattr(gc_guard, "RELEASE_EVERY", 1)
    collector.releases = 0

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    gc_guard.settle()
    try:
        assert gc.get_freeze_count() > 0
        del a, b  # cyclic garbage, frozen: no collection frees it now
        gc.collect()
        assert gone() is not None
    finally:
        gc_guard.release()
    assert gc.get_freeze_count() == 0 and collector.full_due
    qtbot.waitUntil(lambda: gone() is None and not collector.full_due, timeout=5000)


def test_what_survives_a_full_collection_is_left_out_of_the_next(qtbot, monkeypatch):
    """A full collection freezes its survivors (the next one walks only what is new); release() hands
    them back for one full collection."""
    collector = gc_guard.install(None)
    monkeypatch.setattr(gc_guard, "RELEASE_EVERY", 1)
    collector.releases = 0
    gc_guard.release()
    collector.check()  # the full collection release() asked for
    assert not collector.full_due and gc.get_freeze_count() > 0
    gc_guard.release()
    assert gc.get_freeze_count() == 0
    monkeypatch.setattr(gc_guard.gc, "get_count", lambda: (0, 0, collector.thresholds[2] + 1))
    collector.check()  # full collection due by count
    assert gc.get_freeze_count() > 0
    monkeypatch.undo()
    gc_guard.release()
    collector.check()


def test_release_hands_the_frozen_objects_back_only_every_few_folders(monkeypatch):
    """Re-opening a folder must not cost a full collection each time (0.5 s with 10,000 rows): the rows
    left behind are freed by reference counting; the frozen objects go back every RELEASE_EVERY-th time."""
    collector = gc_guard.install(None)
    monkeypatch.setattr(gc_guard, "RELEASE_EVERY", 3)
    collector.releases, collector.full_due = 0, False
    for _ in range(2):
        gc_guard.settle()
        gc_guard.release()
        assert gc.get_freeze_count() > 0 and not collector.full_due
    gc_guard.release()
    assert gc.get_freeze_count() == 0 and collector.full_due
    collector.check()
    assert not collector.full_due and collector.releases == 0


def test_no_collection_while_a_job_builds_and_what_it_built_is_frozen(qtbot):
    """building(): the guard's checks wait while a worker's job runs, and what the job made is frozen
    when it ends, so no collection on the GUI thread walks it."""
    collector = gc_guard.install(None)
    started, release = threading.Event(), threading.Event()
    made: list = []

    def job():
        with gc_guard.building():
            made.extend([[i] for i in range(50000)])  # far past the generation-0 threshold
            started.set()
            release.wait(10)

    worker = threading.Thread(target=job)
    worker.start()
    assert started.wait(10)
    before = collector.collections
    collector.check()  # what the timer does: nothing while the job runs
    assert collector.collections == before
    release.set()
    worker.join()
    assert gc.get_freeze_count() >= len(made) and gc.get_count()[0] < 1000  # frozen, generation 0 emptied
    gc_guard.release()
