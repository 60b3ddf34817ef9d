"""Time to decide in the app (offscreen, waiting on signals): it starts when the viewer has actually put
the decoded image on screen — not when the row became current — so decoding is not counted; per
image, and for a study row when its views are all on screen. Decoding is held back at a gate the test
opens, and the triage's clock is the test's, so the recorded times are exact."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt

import core.triage as triage_mod
import desktop.prefetch as prefetch
from core.settings import Settings
from tests.desktop.test_readers import open_scanned, press
from tests.desktop.test_studies import make_study_folder


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(triage_mod, "time", SimpleNamespace(monotonic=lambda: now[0]))
    return now


@pytest.fixture
def gate(monkeypatch):
    """Decoding for the viewer waits until the test opens the gate (``gate.set()``)."""
    opened = threading.Event()
    opened.set()
    real = prefetch.load_for_viewer

    def gated(*args, **kwargs):
        opened.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(prefetch, "load_for_viewer", gated)
    return opened


def shown_keys(w) -> list:
    keys: list = []
    w.session.row_displayed.connect(keys.append)
    return keys


def hold_decoding(w, qtbot, gate) -> None:
    """Nothing decoded ahead any more, and the next decode waits at the gate."""
    cache = w.review.cache
    qtbot.waitUntil(lambda: not cache._in_flight, timeout=20000)
    gate.clear()
    cache.clear()


def test_time_to_decide_starts_when_the_image_is_displayed_not_when_it_became_current(
        make_window, image_folder, qtbot, clock, gate):
    w = make_window(reviewer="Dr T")
    keys = shown_keys(w)
    open_scanned(w, image_folder, qtbot)
    first = w.session.current_item
    qtbot.waitUntil(lambda: first.image_id in keys, timeout=20000)
    clock[0] += 2.0
    press(qtbot, w, Qt.Key.Key_N)
    store = w.session.store
    assert store.current_labels([first.image_id])[first.image_id].shown_ms == 2000

    hold_decoding(w, qtbot, gate)
    press(qtbot, w, Qt.Key.Key_N)  # the decision moves on to an image not decoded yet
    current = w.session.current_item
    assert current.image_id != first.image_id and "Loading" in w.review.viewer._message.text()
    clock[0] += 5.0  # "decoding": the image is current but not on screen
    assert current.image_id not in keys
    with qtbot.waitSignal(w.session.row_displayed, timeout=20000,
                          check_params_cb=lambda k: k == current.image_id):
        gate.set()
    clock[0] += 1.25
    press(qtbot, w, Qt.Key.Key_D)
    d = store.current_labels([current.image_id])[current.image_id]
    assert d.label == "doubt" and d.shown_ms == 1250  # not 6250: decoding is not the reader's time


def test_a_study_rows_time_starts_when_all_its_views_are_on_screen(make_window, tmp_path, qtbot, clock, gate):
    w = make_window(reviewer="Dr S", settings=Settings(worklist_by_study=True))
    keys = shown_keys(w)
    open_scanned(w, make_study_folder(tmp_path / "clinic"), qtbot)
    qtbot.waitUntil(lambda: w.session.studies_shown and w.session.current_item.is_study, timeout=10000)
    top = w.session.current_item
    qtbot.waitUntil(lambda: top.row_key in keys, timeout=20000)
    hold_decoding(w, qtbot, gate)
    press(qtbot, w, Qt.Key.Key_Down)
    nxt = w.session.current_item
    assert nxt.is_study and nxt.key != top.key
    clock[0] += 4.0  # its views are being decoded
    assert nxt.row_key not in keys
    with qtbot.waitSignal(w.session.row_displayed, timeout=20000, check_params_cb=lambda k: k == nxt.row_key):
        gate.set()
    clock[0] += 0.75
    press(qtbot, w, Qt.Key.Key_F)
    labels = w.session.store.current_labels([v.image_id for v in nxt.views])
    assert {labels[v.image_id].shown_ms for v in nxt.views} == {750}  # not 4750
