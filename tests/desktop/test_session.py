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
