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
