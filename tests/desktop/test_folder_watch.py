"""The watched folder in the app (offscreen): a new image copied into the open folder is scored and
inserted in its place, a flagged one is announced in the status bar (no dialog) and a click shows it;
a file still being written is not read until it settles; a changed file replaces its row. The watch's
clock is a fake one advanced by the test, and every wait is on a signal."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

import core.watch
from PySide6.QtWidgets import QApplication


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def png(path, level: int) -> bytes:
    a = np.clip(np.random.default_rng(level).normal(level, 4, (96, 96)), 0, 255).astype(np.uint8)
    Image.fromarray(a).save(path, format="PNG")
    return path.read_bytes()


@pytest.fixture
def watched(scanned, qtbot):
    """The scanned window, its watch on a fake clock (settle 1 s) and prompt notification handling."""
    w = scanned
    s = w.session
    qtbot.waitUntil(lambda: s.watcher.active)
    clock = Clock()
    s.watch.settler.clock = clock
    s.watch.settler.settle_s = 1.0
    s.watcher.notify_delay_s = 0.0
    s.watcher.poll_s = 3600.0  # only notifications and look_now() in these tests
    return w, clock


def look(qtbot, w, clock, advance: float = 0.0):
    """Advance the watch's clock, look now, and return the look's PollResult."""
    clock.t += advance
    with qtbot.waitSignal(w.session.watcher.polled, timeout=180000) as sig:
        w.session.watcher.look_now()
    return sig.args[0]


def names(w):
    return [w.worklist.model.item(r).name for r in range(w.worklist.model.rowCount())]


def test_a_new_flagged_image_is_scored_inserted_in_order_and_announced(watched, qtbot):
    w, clock = watched
    s = w.session
    folder = s.root
    before = len(s.worklist)
    png(folder / "zz_new.png", 214)  # brighter than all: the test model's highest probability
    first = look(qtbot, w, clock)
    assert first.pending == 1 and "zz_new.png" not in names(w)  # seen once: not read yet
    with qtbot.waitSignal(s.new_flagged, timeout=180000) as flagged, qtbot.waitSignal(s.watch_scored, timeout=180000):
        look(qtbot, w, clock, advance=1.5)
    assert len(s.worklist) == before + 1
    assert s.worklist.item(flagged.args[1]).scope == "in_scope"
    assert names(w)[0] == "zz_new.png"  # inserted at its place in the probability order
    message, key = flagged.args
    assert message.startswith("New image flagged definite (") and message.endswith("): zz_new.png")
    assert w.status.watch.isVisible() and "zz_new.png" in w.status.watch.text()
    assert QApplication.activeModalWidget() is None  # no dialog: the status bar says it
    s.select(s.order[3].image_id)
    w.status.watch.click()  # the notice shows the image
    assert s.current_item.image_id == key
    assert "Watching" in w.status.watch.text()


def test_a_file_still_being_written_is_not_read_until_it_settles(watched, qtbot):
    w, clock = watched
    s = w.session
    target = s.root / "incoming.png"
    data = png(s.root / "incoming.tmp", 30)
    (s.root / "incoming.tmp").unlink()
    target.write_bytes(data[: len(data) // 3])  # a copy in progress
    assert look(qtbot, w, clock).pending == 1
    with open(target, "ab") as fh:
        fh.write(data[len(data) // 3: 2 * len(data) // 3])
    os.utime(target, None)
    assert look(qtbot, w, clock, advance=5.0).pending == 1  # it grew: the wait starts again
    with open(target, "ab") as fh:
        fh.write(data[2 * len(data) // 3:])
    assert look(qtbot, w, clock, advance=0.5).pending == 1
    with qtbot.waitSignal(s.watch_scored, timeout=180000) as done:
        look(qtbot, w, clock, advance=1.5)
    (item,) = done.args[0].items
    assert item.status == "scored" and item.error is None
    assert s.worklist.counts()["errors"] == 1  # only the fixture's broken.jpg: the partial file was never read
    assert "incoming.png" in names(w)


def test_a_changed_file_replaces_its_row(watched, qtbot):
    w, clock = watched
    s = w.session
    top = s.order[0]
    before = len(s.worklist)
    png(top.path, 36)  # rewritten with a dark image: now the least likely fracture
    look(qtbot, w, clock)
    with qtbot.waitSignal(s.watch_scored, timeout=180000):
        look(qtbot, w, clock, advance=1.5)
    assert len(s.worklist) == before and s.worklist.item(top.image_id) is None
    assert names(w)[-1] == top.name  # the dark image it now holds is the least likely fracture


def test_watch_defaults_come_from_core(watched):
    w, _ = watched
    assert w.session.watch.root == w.session.root and core.watch.POLL_S >= 5


@pytest.fixture
def watched_studies(make_window, tmp_path, qtbot):
    """A window in the study mode on a folder of studies (one folder each), its watch on a fake clock."""
    from core.settings import Settings
    from tests.desktop.test_studies import make_study_folder

    w = make_window(settings=Settings(worklist_by_study=True))
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(make_study_folder(tmp_path / "clinic"))
    s = w.session
    qtbot.waitUntil(lambda: s.watcher.active and s.studies_shown)
    clock = Clock()
    s.watch.settler.clock = clock
    s.watch.settler.settle_s = 1.0
    s.watcher.notify_delay_s = 0.0
    s.watcher.poll_s = 3600.0
    return w, clock


def test_a_new_view_joins_its_study_and_the_notice_opens_the_study_onto_it(watched_studies, qtbot):
    w, clock = watched_studies
    s = w.session
    folder = s.root / "patient_c"
    study = next(st for st in s.order if st.is_study and st.views[0].path.parent == folder)
    assert len(study.views) == 1
    png(folder / "view_9.png", 220)  # a bright new view: the study's score rises to the top
    look(qtbot, w, clock)
    with qtbot.waitSignal(s.new_flagged, timeout=180000) as flagged, qtbot.waitSignal(s.watch_scored, timeout=180000):
        look(qtbot, w, clock, advance=1.5)
    top = s.order[0]
    assert top.is_study and top.key == study.key and len(top.views) == 2 and top.views[0].name == "view_9.png"
    assert s.open_study is None
    w.status.watch.click()  # the notice: the study opens onto the new view
    assert s.current_item.image_id == flagged.args[1] and s.open_study.key == study.key


def test_blinded_reading_announces_no_flag(make_window, image_folder, qtbot):
    from core.settings import Settings

    w = make_window(settings=Settings(reading_mode="blinded"))
    with qtbot.waitSignal(w.scan_done, timeout=60000):
        w.open_folder(image_folder)
    s = w.session
    qtbot.waitUntil(lambda: s.watcher.active and s.reading.blinded)
    clock = Clock()
    s.watch.settler.clock, s.watch.settler.settle_s, s.watcher.notify_delay_s = clock, 1.0, 0.0
    s.watcher.poll_s = 3600.0
    flagged = []
    s.new_flagged.connect(lambda *a: flagged.append(a))
    png(s.root / "zz_new.png", 214)
    look(qtbot, w, clock)
    with qtbot.waitSignal(s.watch_scored, timeout=180000):
        look(qtbot, w, clock, advance=1.5)
    assert "zz_new.png" in [it.name for _k, it in s.worklist.all_rows()]
    assert flagged == [] and "flagged" not in w.status.watch.text()
