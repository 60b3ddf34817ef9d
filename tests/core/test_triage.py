"""Keyboard triage without Qt: decisions are durable and auto-advance to the next image still to
review in the order shown (also under a column sort), undo, next/previous, and the split
prepare/write/apply a GUI uses to write on its writer thread."""

from __future__ import annotations

import threading

import pytest

from core.order import ReviewOrder
from core.triage import Triage
from core.worklist import Worklist
from tests.core.store.helpers import Thresholds, fake_id, fill, item, open_test_store


def decide(t: Triage, label: str):
    pending = t.prepare(label)
    if pending is None:
        return None
    d = t.write(pending)
    t.apply(d)
    return d


def undo(t: Triage):
    d = t.write_undo()
    t.apply(d)
    return d


def redo(t: Triage):
    d = t.write_redo()
    t.apply(d)
    return d


@pytest.fixture
def setup(tmp_path):
    store = open_test_store(tmp_path)
    fill(store, tmp_path, [0.9, 0.8, 0.7, 0.6, 0.5])
    wl = Worklist(store, Thresholds(0.3, 0.7), tmp_path)
    wl.reload()
    order = ReviewOrder(wl)
    t = Triage(store, order, "dr k")
    yield store, wl, t
    t.close()
    order.close()
    store.close()


def test_decide_advances_in_to_review_filter(setup):
    store, wl, t = setup
    assert t.current == 0 and t.current_item.image_id == fake_id(0)
    d = decide(t, "fracture")
    assert d.label == "fracture" and d.reviewer == "dr k" and d.probability == 0.9 and d.model_version == "m1"
    assert store.current_labels()[fake_id(0)].label == "fracture"  # durable in the store
    assert t.current_item.image_id == fake_id(1) and len(wl) == 4
    decide(t, "no_fracture")
    decide(t, "doubt")
    assert t.current_item.image_id == fake_id(3)
    assert store.current_labels()[fake_id(2)].label == "doubt" and len(store.current_labels()) == 3


def test_undo_goes_back_to_the_undone_image(setup):
    store, wl, t = setup
    decide(t, "fracture")
    decide(t, "no_fracture")
    assert t.current_item.image_id == fake_id(2)
    u = undo(t)
    assert u.is_undo and u.restored is None
    assert t.current_item.image_id == fake_id(1) and t.current_item.label is None
    assert fake_id(1) not in store.current_labels()
    undo(t)
    assert t.current_item.image_id == fake_id(0) and len(wl) == 5
    assert undo(t) is None  # nothing left to undo: stays put
    assert t.current == 0


def test_redo_after_undo_goes_to_the_image_decided_again(setup):
    store, wl, t = setup
    decide(t, "fracture")
    decide(t, "no_fracture")
    undo(t)
    undo(t)
    assert t.current_item.image_id == fake_id(0) and len(wl) == 5
    t.next()
    t.next()  # the reviewer moved on; redo brings them back to the image it decides
    r = redo(t)
    assert r.is_redo and r.label == "fracture" and r.image_id == fake_id(0)
    assert store.current_labels()[fake_id(0)].label == "fracture" and len(wl) == 4  # left "to review"
    r = redo(t)
    assert r.label == "no_fracture" and t.current_item.image_id != fake_id(1)  # it left the filter
    assert redo(t) is None and len(wl) == 3
    undo(t)  # undoing a redo is an ordinary undo
    assert t.current_item.image_id == fake_id(1) and t.current_item.label is None


def test_all_filter_auto_advance_skips_decided_and_wraps(setup):
    store, wl, t = setup
    wl.set_filter("all")
    t.go_to(3)
    decide(t, "fracture")
    assert t.current == 4
    decide(t, "fracture")  # last row decided: wraps to the first still to review
    assert t.current == 0
    for _ in range(3):
        decide(t, "doubt")
    assert t.current == 2  # everything decided: stays on the last decided row
    t.previous()
    assert t.current == 1
    for _ in range(3):
        t.next()
    assert t.current == 4  # next stops at the end


def test_advance_follows_a_column_sort(setup):
    store, wl, t = setup
    t.order.set_sort("probability")  # ascending: lowest first
    assert t.current_item.image_id == fake_id(0) and t.current == 4  # the sort kept the current image
    t.go_to(0)
    assert t.current_item.image_id == fake_id(4)
    decide(t, "fracture")
    assert t.current_item.image_id == fake_id(3)
    wl.set_filter("all")
    t.order.set_sort("label", descending=True)  # decided first: [4 (fracture), 0, 1, 2, 3]
    assert [it.image_id for it in t.order] == [fake_id(i) for i in (4, 0, 1, 2, 3)]
    t.go_to_key(fake_id(2))
    decide(t, "doubt")  # the next below in the order as seen when deciding, though 2 moves up
    assert [it.image_id for it in t.order] == [fake_id(i) for i in (4, 2, 0, 1, 3)]
    assert t.current_item.image_id == fake_id(3) and t.current == 4
    decide(t, "fracture")  # the last row: wraps to the first still to review
    assert t.current_item.image_id == fake_id(0)


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
    t.go_to(2)
    wl.add_scan_items([item(tmp_path / "top.png", "top", 0.99)])
    assert t.current == 3 and t.current_item.image_id == fake_id(2)


def test_go_to_key_and_top(setup):
    store, wl, t = setup
    assert t.go_to_key(fake_id(3)) == 3 and t.current_key == fake_id(3)
    assert t.go_to_key("not shown") == 3
    assert t.go_to_top() == 0


def test_empty_worklist(tmp_path):
    store = open_test_store(tmp_path)
    wl = Worklist(store, Thresholds(), tmp_path)
    wl.reload()
    t = Triage(store, ReviewOrder(wl), "r")
    assert t.current == -1 and t.current_item is None
    assert t.prepare("fracture") is None and t.next() is None and undo(t) is None
    store.close()


def test_decision_records_mode_and_time_since_the_image_was_shown(tmp_path, monkeypatch):
    import core.triage as triage_mod
    from core.model.card import Thresholds

    clock = [100.0]
    monkeypatch.setattr(triage_mod.time, "monotonic", lambda: clock[0])
    store = open_test_store(tmp_path)
    fill(store, tmp_path, [0.9, 0.2])
    wl = Worklist(store, Thresholds(0.3, 0.7), tmp_path)
    wl.reload()
    t = Triage(store, ReviewOrder(wl), "dr t")
    t.reading_mode = "blinded"
    clock[0] += 2.5
    d = decide(t, "fracture")
    assert (d.reading_mode, d.shown_ms) == ("blinded", 2500)
    clock[0] += 0.75  # the next image has been on screen since the decision moved there
    d2 = decide(t, "no_fracture")
    assert d2.shown_ms == 750 and d2.image_id != d.image_id
    assert {fake_id(0), fake_id(1)} == {d.image_id, d2.image_id}
    store.close()


def test_time_to_decide_starts_when_the_viewer_has_displayed_the_image(tmp_path, monkeypatch):
    import core.triage as triage_mod
    from core.model.card import Thresholds

    clock = [100.0]
    monkeypatch.setattr(triage_mod.time, "monotonic", lambda: clock[0])
    store = open_test_store(tmp_path)
    fill(store, tmp_path, [0.9, 0.5, 0.2])
    wl = Worklist(store, Thresholds(0.3, 0.7), tmp_path)
    wl.reload()
    t = Triage(store, ReviewOrder(wl), "dr t", timed_from_display=True)
    first = t.current_key
    clock[0] += 3.0  # decoding: not counted
    t.displayed("some other image")  # a late paint of another row starts nothing
    assert t.prepare("fracture").shown_ms is None
    t.displayed(first)
    clock[0] += 1.25
    t.displayed(first)  # a repaint does not restart it
    clock[0] += 0.5
    d = decide(t, "fracture")
    assert d.shown_ms == 1750 and d.image_id == first
    assert t.prepare("doubt").shown_ms is None  # the next image is not on screen yet: no time
    clock[0] += 0.4
    t.displayed(t.current_key)
    clock[0] += 2.0
    d2 = decide(t, "no_fracture")
    assert d2.shown_ms == 2000 and d2.image_id != first
    d3 = decide(t, "doubt")  # decided before it was ever shown: recorded without a time
    assert d3.shown_ms is None
    store.close()
