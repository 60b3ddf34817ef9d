"""``desktop.session.ReviewSession`` without a window: a folder scanned into the worklist through the
core scan recorder, and what happens when the database refuses some or all of the results."""

from __future__ import annotations

import pytest

from core.model import load_model
from core.recorder import MAX_FAILURES_IN_A_ROW
from core.store import open_store
from desktop.session import ReviewSession
from desktop.tasks import TaskRunner
from tests.desktop.conftest import N_IMAGES, expected_order, make_image_folder


class Refusing:
    """The real store, refusing scan results for files whose names are in ``bad``."""

    def __init__(self, store, bad):
        self._store, self.bad = store, set(bad)

    def record_scan_results(self, root, items):
        if any(i.path.name in self.bad for i in items):
            raise RuntimeError("disk I/O error")
        self._store.record_scan_results(root, items)

    def __getattr__(self, name):
        return getattr(self._store, name)


@pytest.fixture
def session_on(qtbot, tmp_path, test_model):
    made = []

    def make(bad=()):
        store = open_store(f"sqlite:///{tmp_path / 'labels.db'}", backups_keep=0)
        tasks = TaskRunner()
        s = ReviewSession(tasks, Refusing(store, bad), load_model(test_model), "QA")
        made.append((s, tasks, store))
        return s

    yield make
    for s, tasks, store in made:
        s.close()
        tasks.shutdown()
        store.close()


def test_scan_fills_the_worklist_in_probability_order(session_on, tmp_path, qtbot):
    s = session_on()
    folder = make_image_folder(tmp_path / "x")
    with qtbot.waitSignal(s.scan_finished, timeout=60000):
        assert s.open_folder(folder)
    assert [it.name for it in s.worklist] == expected_order()
    assert s.current_item.name == expected_order()[0]
    assert s.worklist.counts()["errors"] == 1


@pytest.mark.parametrize("by_study", [False, True], ids=["images", "studies"])
def test_the_rows_of_a_folder_left_behind_are_freed_without_a_full_collection(session_on, tmp_path, qtbot, by_study):
    """desktop.gc_guard keeps the rows frozen across folder changes: that only frees memory if a folder's
    rows, its worklist and its review order hold no cycles, so reference counting frees them."""
    import gc
    import weakref

    s = session_on()
    s.by_study = by_study
    with qtbot.waitSignal(s.scan_finished, timeout=60000):
        assert s.open_folder(make_image_folder(tmp_path / "a"))
    assert s.studies_shown == by_study
    old = [weakref.ref(x) for x in (s.worklist, s.order, s.triage, s.current_item, s.worklist[len(s.worklist) - 1])]
    assert all(r() is not None for r in old)
    with qtbot.waitSignal(s.scan_finished, timeout=60000):
        assert s.open_folder(make_image_folder(tmp_path / "b"))
    assert not gc.isenabled()  # the guard is installed: only its timer collects, and frozen objects it skips
    assert [r() is None for r in old] == [True] * len(old)


def test_results_the_database_refuses_are_reported_not_listed(session_on, tmp_path, qtbot):
    s = session_on(bad={"xray_03.png"})
    notices = []
    s.notice.connect(notices.append)
    with qtbot.waitSignal(s.scan_finished, timeout=60000):
        s.open_folder(make_image_folder(tmp_path / "x"))
    names = [it.name for it in s.worklist]
    assert "xray_03.png" not in names and len(names) == N_IMAGES - 1  # what the table shows is what is stored
    assert notices == ["1 scanned file could not be saved to the database and is not listed; details are in the log file."]


def test_a_failing_database_stops_the_scan_with_a_message(session_on, tmp_path, qtbot):
    n = MAX_FAILURES_IN_A_ROW + 5
    folder = make_image_folder(tmp_path / "x", n=N_IMAGES, corrupt=False)
    for i in range(N_IMAGES, n):  # more files than the recorder forgives in a row
        (folder / f"xray_{i:02d}.png").write_bytes((folder / "xray_00.png").read_bytes() + bytes([i]))
    s = session_on(bad={f"xray_{i:02d}.png" for i in range(n)})
    with qtbot.waitSignal(s.scan_failed, timeout=60000) as sig:
        s.open_folder(folder)
    assert sig.args[0].startswith("Scan results could not be saved: disk I/O error")
    qtbot.waitUntil(lambda: not s.scanning or s.last_summary is not None, timeout=60000)
    assert len(s.worklist) == 0


def test_rescan_of_an_unchanged_folder_hands_the_gui_nothing(session_on, tmp_path, qtbot, monkeypatch):
    """Re-opening a scanned folder: every file is recognised as unchanged (stored as seen now) and none
    is handed to the worklist on the GUI thread again; a file that changed meanwhile still is."""
    from core.worklist import Worklist

    s = session_on()
    folder = make_image_folder(tmp_path / "x")
    with qtbot.waitSignal(s.scan_finished, timeout=60000):
        s.open_folder(folder)
    before = [(it.name, it.probability) for it in s.worklist]
    added = []
    real = Worklist.add_scan_items
    monkeypatch.setattr(Worklist, "add_scan_items", lambda wl, items, labels=None: (added.extend(items),
                                                                                     real(wl, items, labels)))
    with qtbot.waitSignal(s.scan_finished, timeout=60000) as done:
        s.open_folder(folder)
    assert done.args[0].reused == len(before)
    assert [i.path.name for i in added] == ["broken.jpg"]  # only the unreadable file, read again each scan
    assert [(it.name, it.probability) for it in s.worklist] == before
    added.clear()
    changed = folder / before[-1][0]
    changed.write_bytes(changed.read_bytes() + b"\0")  # other bytes: another image, scored again
    with qtbot.waitSignal(s.scan_finished, timeout=60000):
        s.open_folder(folder)
    assert sorted(i.path.name for i in added) == sorted(["broken.jpg", changed.name])


def test_the_task_runner_keeps_the_gil_switch_interval_short():
    """Workers running Python hand the GIL back to the GUI thread within 1 ms of its asking."""
    import sys

    from core.model.runtime import GIL_SWITCH_INTERVAL_S

    tasks = TaskRunner()
    try:
        assert sys.getswitchinterval() <= GIL_SWITCH_INTERVAL_S <= 0.001
    finally:
        tasks.shutdown()


def test_a_reopened_folder_is_rescanned_after_its_rows_are_painted_and_its_image_shown(session_on, tmp_path, qtbot):
    """The order a window gets (desktop.after_paint, the review pane's displayed()): the pool's work and
    the re-scan wait for the rows' first paint and then for the current image on screen."""
    s = session_on()
    folder = make_image_folder(tmp_path / "x")
    with qtbot.waitSignal(s.scan_finished, timeout=60000):
        s.open_folder(folder)
    log, gates = [], []
    s.scan_gate = lambda start: gates.append(start) or log.append("rows listed")
    s.shows_current = lambda: True
    s.scan_started.connect(lambda _root: log.append("scan started"))
    s.open_folder(folder)
    qtbot.waitUntil(lambda: bool(gates), timeout=10000)
    assert s.tasks.pool_held and s.current_item is not None  # the rows are bound; the pool waits for their paint
    qtbot.wait(50)
    assert log == ["rows listed"]
    gates[0]()  # the table painted
    assert s.tasks.pool_held and log == ["rows listed"]  # the pool's held work and the scan wait for the image
    s.displayed(s.current_item.image_id)
    assert not s.tasks.pool_held and log == ["rows listed", "scan started"]
    with qtbot.waitSignal(s.scan_finished, timeout=60000):
        pass


def test_a_reopened_folders_scan_does_not_wait_forever_for_its_image(session_on, tmp_path, qtbot, monkeypatch):
    monkeypatch.setattr("desktop.session.SCAN_WAITS_FOR_IMAGE_MS", 100)
    s = session_on()
    folder = make_image_folder(tmp_path / "x")
    with qtbot.waitSignal(s.scan_finished, timeout=60000):
        s.open_folder(folder)
    s.scan_gate = lambda start: start()  # painted at once
    s.shows_current = lambda: True  # but the image never reports itself on screen
    with qtbot.waitSignal(s.scan_finished, timeout=60000):
        s.open_folder(folder)
