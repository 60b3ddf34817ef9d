"""desktop.tasks: pool and long-job threads run at a lower CPU priority than the GUI thread (Linux),
the database writer at the normal one; results come back on the GUI thread."""

import os
import sys
import threading

import pytest

from desktop.tasks import WORKER_NICE, TaskRunner


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_workers_yield_the_cpu_to_the_gui_thread_and_the_writer_does_not(qtbot):
    tasks = TaskRunner()
    try:
        gui = _nice()
        seen = {}
        for name, run in (("pool", tasks.run_in_background), ("writer", tasks.run_on_writer)):
            with qtbot.waitSignal(tasks.idle, timeout=10000):
                run(_nice, lambda value, name=name: seen.__setitem__(name, (value, threading.current_thread())))
        with qtbot.waitSignal(tasks.idle, timeout=10000):
            tasks.run_long(lambda _cancel: _nice(), lambda value: seen.__setitem__("long", (value, None)))
        assert seen["pool"][0] == min(19, gui + WORKER_NICE) and seen["long"][0] == seen["pool"][0]
        assert seen["writer"][0] == gui
        assert seen["pool"][1] is threading.main_thread()  # on_done ran on the GUI thread
        # a thread started by a worker (as onnxruntime's own are) inherits its priority
        inherited = []

        def spawn():
            t = threading.Thread(target=lambda: inherited.append(_nice()))
            t.start()
            t.join()

        with qtbot.waitSignal(tasks.idle, timeout=10000):
            tasks.run_in_background(spawn)
        assert inherited == [seen["pool"][0]]
    finally:
        tasks.shutdown()


def test_a_held_pool_starts_what_was_asked_meanwhile_on_release(qtbot):
    tasks = TaskRunner()
    try:
        ran, done = [], []
        tasks.hold_pool(max_ms=60_000)
        assert tasks.pool_held
        for i in range(3):
            tasks.run_in_background(lambda i=i: ran.append(i) or i, done.append)
        qtbot.wait(150)
        assert ran == [] and done == [] and tasks.pending == 3  # held, and counted as pending
        with qtbot.waitSignal(tasks.idle, timeout=10000):
            tasks.release_pool()
        assert sorted(ran) == [0, 1, 2] and sorted(done) == [0, 1, 2] and not tasks.pool_held
        with qtbot.waitSignal(tasks.idle, timeout=10000):  # not held any more: runs at once
            tasks.run_in_background(lambda: 7, done.append)
        assert done[-1] == 7
    finally:
        tasks.shutdown()


def test_a_held_pool_lets_go_by_itself_and_the_writer_is_never_held(qtbot):
    tasks = TaskRunner()
    try:
        out = []
        tasks.hold_pool(max_ms=200)
        with qtbot.waitSignal(tasks.idle, timeout=10000):
            tasks.run_on_writer(lambda: "written", out.append)
        assert out == ["written"] and tasks.pool_held
        with qtbot.waitSignal(tasks.idle, timeout=10000):  # nobody releases it: the timer does
            tasks.run_in_background(lambda: "pooled", out.append)
        assert out == ["written", "pooled"] and not tasks.pool_held
    finally:
        tasks.shutdown()


def test_shutdown_drops_held_pool_tasks(qtbot):
    tasks = TaskRunner()
    ran = []
    tasks.hold_pool(max_ms=60_000)
    tasks.run_in_background(lambda: ran.append(1))
    tasks.shutdown()
    tasks.release_pool()  # late (a timer or a gate after the window closed): nothing starts
    assert tasks.run_in_background(lambda: ran.append(2)) is False  # asked after shutdown: dropped, no error
    qtbot.wait(50)
    assert ran == [] and not tasks.pool_held
    with pytest.raises(RuntimeError):  # a write is never dropped silently
        tasks.run_on_writer(lambda: None)


def test_an_urgent_task_starts_while_the_pool_is_held_and_the_others_still_wait(qtbot):
    tasks = TaskRunner()
    try:
        out = []
        tasks.hold_pool(max_ms=60_000)
        tasks.run_in_background(lambda: "thumbnail", out.append)
        with qtbot.waitSignal(tasks.idle, timeout=10000, raising=False) as idle:
            tasks.run_in_background(lambda: "image on screen", out.append, urgent=True)
            qtbot.waitUntil(lambda: out == ["image on screen"], timeout=10000)
        assert not idle.signal_triggered and tasks.pool_held and tasks.pending == 1  # the held one still waits
        with qtbot.waitSignal(tasks.idle, timeout=10000):
            tasks.release_pool()
        assert out == ["image on screen", "thumbnail"]
    finally:
        tasks.shutdown()
