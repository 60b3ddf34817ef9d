"""The study mode with the reading rules and the newer review keys (no Qt): blinded reading hides the
study score's order and its filters, a study held at another workstation is skipped by "next to
review", redo of a study decision decides every view again (and the triage shows them), and find
looks through every listed study's views (closed studies too)."""

from __future__ import annotations

import pytest

from core.find import BACKWARD, FORWARD, find
from core.reading import Reading
from core.studies import StudyKeys
from core.study_order import StudyOrder
from core.triage import Triage
from core.worklist import Worklist
from tests.core.store.helpers import Thresholds, fake_id, item, open_test_store
from tests.core.test_study_order import LAYOUT, decide, names


def _open(tmp_path, reading=None):
    store = open_test_store(tmp_path)
    items = [item(tmp_path / f / name, name, p) for f, views in LAYOUT.items() for name, p in views]
    store.record_scan_results(tmp_path, items)
    keys = StudyKeys(store.pseudonym_secret(), "folder")
    wl = Worklist(store, Thresholds(0.3, 0.7), tmp_path, reading=reading, study_keys=keys)
    wl.reload()
    return store, wl


@pytest.fixture
def env(tmp_path):
    store, wl = _open(tmp_path)
    order = StudyOrder(wl)
    t = Triage(store, order, "dr s")
    yield store, wl, order, t
    t.close()
    order.close()
    store.close()


def test_blinded_reading_orders_studies_at_random_without_model_filters_or_sorts(tmp_path):
    store, wl = _open(tmp_path, Reading("dr b", mode="blinded"))
    order = StudyOrder(wl)
    try:
        shuffled = sorted(order, key=lambda st: wl.reading.shuffle_key(st.key))
        assert [st.key for st in order] == [st.key for st in shuffled]
        # not the study-score order in general: the three scores are not what decides
        with pytest.raises(ValueError, match="blinded"):
            order.set_filter("flagged")
        order.set_sort("probability", descending=True)
        assert order.sort_column is None
        order.set_sort("name")
        assert order.sort_column == "name"
    finally:
        order.close()
        store.close()


def test_a_study_held_elsewhere_is_skipped_by_next_to_review(env):
    store, wl, order, t = env
    top = order[0]
    for v in top.views:
        wl.mark_held(v.image_id)
    assert order[0].held and order.next_to_review(0) == 1
    wl.mark_held(fake_id("f.png"))  # one of its two views open elsewhere: a study is claimed whole, so it is
    assert order[1].held and order.next_to_review(0) == 2  # skipped too (its other view is not taken alone)
    order.expand(order[1].key)
    assert order[order.row_of(fake_id("e.png"))].held is False  # the free view can still be read by stepping in


def test_redo_of_a_study_decision_decides_every_view_again(env):
    store, wl, order, t = env
    first = order[0]
    decide(t, "fracture")
    t.apply(t.write_undo())
    assert names(order)[0] == "[3]0.9" and store.current_labels() == {}
    redo = t.write_redo()
    assert redo.is_redo and len(redo.group) == 2
    t.apply(redo)
    assert {store.current_labels()[v.image_id].label for v in first.views} == {"fracture"}
    assert all(wl.item(v.image_id).label == "fracture" for v in first.views)
    # decided again, the study left "to review" (as an image does after its redo); under "all" it is there
    assert first.key not in [st.key for st in order] and t.current_item is not None
    order.set_filter("all")
    assert order[order.row_for_image(fake_id("a.png"))].label == "fracture"
    assert t.write_redo() is None


def test_find_looks_through_the_views_of_closed_studies(env):
    store, wl, order, t = env
    assert order.open_study is None
    r = find(order, "f.png", t.current)
    assert r.key == fake_id("f.png") and r.count == 1 and r.row is not None
    r = find(order, ".png", t.current)  # from the first study's row: its first view
    assert r.key == fake_id("a.png") and r.count == 6 and r.index == 1
    assert find(order, ".png", t.current, FORWARD).key == fake_id("a.png")
    assert find(order, ".png", t.current, BACKWARD).key == fake_id("d.png")  # wraps to the last study's view
    order.expand(order[0].key)
    t.go_to(order.row_of(fake_id("b.png")))
    assert find(order, ".png", t.current, FORWARD).key == fake_id("c.png")
    assert find(order, "nothing", t.current).key is None
