"""Several readers on one worklist (``core.reading`` through the worklist, the review order and the
triage): double reading shows each reader only their own labels, blinded reading hides the model
(random order, no model filter or sort, mode stored), claims make "next" skip an image another reader
has open, and live updates bring other readers' decisions in without a reload."""

from __future__ import annotations

import pytest

from core.order import ReviewOrder, row_key
from core.reading import Reading
from core.triage import Triage
from core.worklist import Worklist
from tests.core.store.helpers import Thresholds, fake_id, fill, open_test_store

PROBS = [0.95, 0.8, 0.6, 0.4, 0.2, 0.1]


@pytest.fixture
def store(tmp_path):
    s = open_test_store(tmp_path)
    fill(s, tmp_path, PROBS)
    yield s
    s.close()


def _wl(store, root, reading=None):
    wl = Worklist(store, Thresholds(0.3, 0.7), root, reading=reading)
    wl.reload()
    return wl


def names(wl, flt="to_review"):
    wl.set_filter(flt)
    return [it.name for it in wl]


def test_reading_rules():
    r = Reading("  Dr   A ", double_reading=True)
    assert r.reader == "Dr A" and r.own_labels and not r.sees_other_readers
    assert [r.settled(x) for x in (None, "single", "agreed", "disputed", "adjudicated")] == [False, False, True, True, True]
    adj = Reading("Adj", "adjudicator")
    assert adj.own_labels and adj.sees_other_readers
    assert [adj.settled(x) for x in (None, "single", "disputed", "adjudicated")] == [True, True, False, True]
    single = Reading("B")  # one reading per image: anyone's reading settles it, its label stays hidden
    assert single.own_labels and single.labels_of == "B" and not single.sees_other_readers
    assert [single.settled(x) for x in (None, "single", "agreed")] == [False, True, True]
    nobody = Reading("")
    assert not nobody.own_labels and nobody.labels_of is None and not nobody.settled("single")
    assert Reading("A", mode="blinded").shuffle_key("x") == Reading("A", mode="blinded").shuffle_key("x")
    assert Reading("A").shuffle_key("x") != Reading("B").shuffle_key("x")
    with pytest.raises(ValueError, match="role"):
        Reading("A", role="boss")
    with pytest.raises(ValueError, match="mode"):
        Reading("A", mode="peeking")
    assert Reading("A", "adjudicator", "blinded", True).describe() == "A (adjudicator) · blinded · double reading"


def test_double_reading_hides_other_readers_labels(store, tmp_path):
    a, b = Reading("A", double_reading=True), Reading("B", double_reading=True)
    store.record_decision(fake_id(0), "A", "fracture")
    store.record_decision(fake_id(1), "A", "no_fracture")
    store.record_decision(fake_id(1), "B", "no_fracture")  # read twice: done for everyone
    wl_b = _wl(store, tmp_path, b)
    row0 = wl_b.item(fake_id(0))
    assert row0.label is None and row0.reviewer is None  # A's label is not shown to B
    assert row0.reading == "single" and row0.to_review  # B still has to read it
    assert wl_b.item(fake_id(1)).label == "no_fracture" and wl_b.item(fake_id(1)).reviewer == "B"
    assert names(wl_b) == ["img0000.png", "img0002.png", "img0003.png", "img0004.png", "img0005.png"]
    # a third reader: image 1 was read twice already, image 0 once
    wl_c = _wl(store, tmp_path, Reading("C", double_reading=True))
    assert fake_id(1) not in [it.image_id for it in wl_c] and wl_c.item(fake_id(1)).label is None
    # A sees their own labels only
    wl_a = _wl(store, tmp_path, a)
    assert wl_a.item(fake_id(0)).label == "fracture" and "img0000.png" not in names(wl_a)
    # without double reading one reading is enough: A's read settles image 0 for C, its label unseen
    wl = _wl(store, tmp_path, Reading("C"))
    assert wl.item(fake_id(0)).label is None and wl.item(fake_id(0)).settled and "img0000.png" not in names(wl)
    assert wl.counts()["decided"] == 0  # C's own decisions
    # without a reader's name (the first start), the latest label of anyone shows
    assert _wl(store, tmp_path, Reading("")).item(fake_id(0)).label == "fracture"


def test_adjudicator_queue_is_the_disputed_images(store, tmp_path):
    store.set_reader("Adj", "adjudicator")
    store.record_decision(fake_id(0), "A", "fracture")
    store.record_decision(fake_id(0), "B", "no_fracture")
    store.record_decision(fake_id(1), "A", "fracture")
    wl = _wl(store, tmp_path, Reading("Adj", "adjudicator", double_reading=True))
    assert names(wl) == ["img0000.png"]
    assert wl.item(fake_id(0)).readers_text == "A: fracture · B: no fracture"
    order = ReviewOrder(wl)
    t = Triage(store, order, "Adj")
    assert t.current_item.image_id == fake_id(0)
    t.apply(t.write(t.prepare("no_fracture")))
    assert wl.item(fake_id(0)).reading == "adjudicated" and names(wl) == []
    assert store.reference_labels([fake_id(0)])[fake_id(0)].label == "no_fracture"


def test_blinded_order_filters_sort_and_mode(store, tmp_path):
    r = Reading("A", mode="blinded")
    wl = _wl(store, tmp_path, r)
    shown = [it.image_id for it in wl]
    assert shown == sorted((fake_id(i) for i in range(len(PROBS))), key=r.shuffle_key)  # not by probability
    assert shown != [fake_id(i) for i in range(len(PROBS))]
    assert "flagged" not in wl.filters and "disagreements" not in wl.filters and "to_review" in wl.filters
    with pytest.raises(ValueError, match="model"):
        wl.set_filter("flagged")
    assert [it.image_id for it in _wl(store, tmp_path, r)] == shown  # the same order after a reload
    order = ReviewOrder(wl)
    order.set_sort("probability", descending=True)
    assert order.sort_column is None and [it.image_id for it in order] == shown
    order.set_sort("name")
    assert order.sort_column == "name"
    t = Triage(store, order, "A")
    d = t.write(t.prepare("fracture"))
    assert d.reading_mode == "blinded"
    aided = Triage(store, ReviewOrder(_wl(store, tmp_path, Reading("B"))), "B")
    assert aided.write(aided.prepare("fracture")).reading_mode == "aided"


def test_next_skips_images_other_readers_have_open(store, tmp_path):
    assert store.claim("B", fake_id(1))
    wl = _wl(store, tmp_path, Reading("A"))
    assert wl.item(fake_id(1)).held and wl.item(fake_id(1)).to_review  # still to review, but open at B's
    order = ReviewOrder(wl)
    t = Triage(store, order, "A")
    assert t.current_item.image_id == fake_id(0)
    t.apply(t.write(t.prepare("fracture")))
    assert t.current_item.image_id == fake_id(2)  # image 1 is skipped
    store.release("B", fake_id(1))
    wl.apply_update(wl.poll())
    assert not wl.item(fake_id(1)).held
    assert order.next_to_review(0) == order.row_of(fake_id(1))
    wl.mark_held(fake_id(2))  # a claim refused at open time: skipped until a poll says otherwise
    assert order.next_to_review(order.row_of(fake_id(2))) != order.row_of(fake_id(2))


def test_two_readers_asking_for_the_top_get_different_images(store, tmp_path):
    wl_a, wl_b = _wl(store, tmp_path, Reading("A")), _wl(store, tmp_path, Reading("B"))
    order_a, order_b = ReviewOrder(wl_a), ReviewOrder(wl_b)
    top_a = row_key(order_a[order_a.next_to_review(0)])
    assert store.claim("A", top_a)
    wl_b.apply_update(wl_b.poll())
    top_b = row_key(order_b[order_b.next_to_review(0)])
    assert top_b != top_a and store.claim("B", top_b)
    assert not store.claim("B", top_a)  # A's claim holds


def test_live_update_brings_other_readers_decisions(store, tmp_path):
    wl_a = _wl(store, tmp_path, Reading("A"))
    wl_dbl = _wl(store, tmp_path, Reading("C", double_reading=True))
    changes = []
    wl_a.subscribe(changes.append)
    assert wl_a.apply_update(wl_a.poll()) == 0  # nothing new
    store.record_decision(fake_id(0), "B", "fracture")
    store.record_decision(fake_id(3), "B", "doubt")
    assert wl_a.apply_update(wl_a.poll()) == 2
    assert wl_a.item(fake_id(0)).label is None and wl_a.item(fake_id(0)).reading == "single"  # B's label unseen
    assert "img0000.png" not in names(wl_a) and changes  # but read: one reading is enough
    assert wl_a.counts()["decided"] == 0 and wl_a.counts()["to_review"] == 4
    # double reading: B's labels stay hidden from C, the reading status comes in
    wl_dbl.apply_update(wl_dbl.poll())
    assert wl_dbl.item(fake_id(0)).label is None and wl_dbl.item(fake_id(0)).reading == "single"
    assert wl_dbl.item(fake_id(0)).to_review
    store.undo_last("B")
    wl_a.apply_update(wl_a.poll())
    assert wl_a.item(fake_id(3)).label is None and wl_a.item(fake_id(3)).to_review
    assert wl_a.apply_update(wl_a.poll()) == 0  # only what is new each time


def test_a_poll_read_before_my_own_decision_does_not_undo_it(store, tmp_path):
    wl = _wl(store, tmp_path, Reading("A"))
    stale = wl.poll()  # began before A's decision (on a worker thread, say)
    store.record_decision(fake_id(5), "B", "no_fracture")
    fresh_poll_ids = wl.poll().image_ids
    assert fresh_poll_ids == (fake_id(5),)
    d = store.record_decision(fake_id(0), "A", "fracture")
    wl.apply_decision(d)
    late = type(stale)(stale.last_event, (fake_id(0),), {}, {}, {}, frozenset(), stale.local_seq)
    wl.apply_update(late)  # says image 0 is undecided: older than what was applied here
    assert wl.item(fake_id(0)).label == "fracture"
    wl.apply_update(wl.poll())
    assert wl.item(fake_id(0)).label == "fracture" and wl.item(fake_id(5)).settled
    assert wl.item(fake_id(5)).label is None
