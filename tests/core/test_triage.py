"""Keyboard triage as named actions, without Qt: decisions are durable and auto-advance to the next
image still to review, undo, next/previous, and the split write/apply used by a GUI's worker thread."""

from __future__ import annotations

import threading

import pytest

from core.triage import ACTIONS, ACTION_TITLES, Triage
from core.worklist import Worklist
from tests.core.store.helpers import Thresholds, fake_id, fill, open_test_store


@pytest.fixture
def setup(tmp_path):
    store = open_test_store(tmp_path)
    fill(store, tmp_path, [0.9, 0.8, 0.7, 0.6, 0.5])
    wl = Worklist(store, Thresholds(0.3, 0.7), tmp_path)
    wl.reload()
    t = Triage(store, wl, "dr k")
    yield store, wl, t
    t.close()
    store.close()


def test_actions_table():
    assert set(ACTIONS) == {"fracture", "no_fracture", "doubt", "undo", "next", "previous"}
    assert set(ACTION_TITLES) == set(ACTIONS)


def test_decide_advances_in_to_review_filter(setup):
    store, wl, t = setup
    assert t.current == 0 and t.current_item.image_id == fake_id(0)
    d = t.run("fracture")
    assert d.label == "fracture" and d.reviewer == "dr k" and d.probability == 0.9 and d.model_version == "m1"
    assert store.current_labels()[fake_id(0)].label == "fracture"  # durable in the store
    assert t.current_item.image_id == fake_id(1) and len(wl) == 4
    t.run("no_fracture")
    t.run("doubt")
    assert t.current_item.image_id == fake_id(3)
    assert {k: v.label for k, v in store.current_labels().items()} == {
        fake_id(0): "fracture", fake_id(1): "no_fracture", fake_id(2): "doubt"}


def test_undo_goes_back_to_the_undone_image(setup):
    store, wl, t = setup
    t.run("fracture")
    t.run("no_fracture")
    assert t.current_item.image_id == fake_id(2)
    u = t.run("undo")
    assert u.is_undo and u.restored is None
    assert t.current_item.image_id == fake_id(1) and t.current_item.label is None
    assert fake_id(1) not in store.current_labels()
    t.run("undo")
    assert t.current_item.image_id == fake_id(0) and len(wl) == 5
    assert t.run("undo") is None  # nothing left to undo: stays put
    assert t.current == 0


def test_all_filter_auto_advance_skips_decided_and_wraps(setup):
    store, wl, t = setup
    wl.set_filter("all")
    t.go_to(3)
    t.run("fracture")
    assert t.current == 4
    t.run("fracture")  # last row decided: wraps to the first still to review
    assert t.current == 0
    for _ in range(3):
        t.run("doubt")
    assert t.current == 2  # everything decided: stays on the last decided row
    t.run("previous")
    assert t.current == 1
    t.run("next")
    t.run("next")
    t.run("next")
    assert t.current == 4  # next stops at the end


def test_split_write_on_worker_thread_then_apply(setup):
    store, wl, t = setup
    pending = t.prepare("fracture")
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("d", t.write(pending)))
    worker.start()
    worker.join(30)
    t.apply(result["d"])
    assert t.current_item.image_id == fake_id(1)
    # a decision written for a row the user has since left does not move the selection
    t.go_to(2)
    late = t.write(t.prepare("doubt"))
    t.go_to(0)
    t.apply(late)
    assert t.current_item.image_id == fake_id(1)


def test_current_row_follows_inserts_above_it(setup, tmp_path):
    store, wl, t = setup
    from tests.core.store.helpers import item

    t.go_to(2)
    wl.add_scan_items([item(tmp_path / "top.png", "top", 0.99)])
    assert t.current == 3 and t.current_item.image_id == fake_id(2)


def test_empty_worklist(tmp_path):
    store = open_test_store(tmp_path)
    wl = Worklist(store, Thresholds(), tmp_path)
    wl.reload()
    t = Triage(store, wl, "r")
    assert t.current == -1 and t.current_item is None
    assert t.run("fracture") is None and t.run("next") is None and t.run("undo") is None
    store.close()


def test_decision_records_mode_and_time_since_the_image_was_shown(tmp_path, monkeypatch):
    import core.triage as triage_mod
    from core.model.card import Thresholds
    from core.triage import Triage
    from core.worklist import Worklist
    from tests.core.store.helpers import fake_id, fill, open_test_store

    clock = [100.0]
    monkeypatch.setattr(triage_mod.time, "monotonic", lambda: clock[0])
    store = open_test_store(tmp_path)
    fill(store, tmp_path, [0.9, 0.2])
    wl = Worklist(store, Thresholds(0.3, 0.7), tmp_path)
    wl.reload()
    t = Triage(store, wl, "dr t")
    t.reading_mode = "blinded"
    clock[0] += 2.5
    d = t.decide("fracture")
    assert (d.reading_mode, d.shown_ms) == ("blinded", 2500)
    clock[0] += 0.75  # the next image has been on screen since the decision moved there
    d2 = t.decide("no_fracture")
    assert d2.shown_ms == 750 and d2.image_id != d.image_id
    assert {fake_id(0), fake_id(1)} == {d.image_id, d2.image_id}
    store.close()
