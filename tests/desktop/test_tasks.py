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
