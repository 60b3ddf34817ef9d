"""The review order: the worklist's order or a column sort (ties in worklist order both ways), kept
in step with the worklist's changes by bisect, the one row key, and navigation."""

from __future__ import annotations

import random

import pytest

from core.order import SORT_COLUMNS, ReviewOrder, row_key
from core.worklist import Change, Worklist
from tests.core.store.helpers import Thresholds, error_item, fake_id, fill, item, open_test_store


@pytest.fixture
def store(tmp_path):
    s = open_test_store(tmp_path)
    yield s
    s.close()


def _order(store, root, probs=(0.9, 0.8, 0.7, 0.6)):
    fill(store, root, list(probs))
    wl = Worklist(store, Thresholds(0.3, 0.7), root)
    wl.reload()
    return wl, ReviewOrder(wl)


def _expected(order):
    """What the order must be: the worklist's rows sorted by the column, stable (ties: worklist order)."""
    rows = list(order.worklist)
    if order.sort_column is None:
        return rows
    key = SORT_COLUMNS[order.sort_column]
    return sorted(rows, key=key, reverse=order.descending) if not order.descending else \
        [r for _, r in sorted(enumerate(rows), key=lambda p: (_neg(key(p[1])), p[0]))]


def _neg(v):
    return -v if isinstance(v, (int, float)) else tuple(-ord(c) for c in v) + (1,)


def _decision(image_id, reviewer, label):
    """A decision (or, with label None, an undo back to undecided) as the store would return it."""
    from datetime import datetime, timezone

    from core.store import Decision

    now = datetime.now(timezone.utc)
    if label is None:
        return Decision(0, image_id, reviewer, "undo", None, now, restored=None)
    return Decision(0, image_id, reviewer, "decide", label, now)


def test_row_key_names_unreadable_files_by_path(tmp_path):
    from core.worklist import WorkItem

    ok = WorkItem("abc", tmp_path / "a.png", "a.png", 0.5, "m", None, None, None, None, None, None, None)
    bad = WorkItem("abc", tmp_path / "b.jpg", "b.jpg", None, None, None, None, None, None, None, None, "truncated")
    assert row_key(ok) == "abc" and row_key(bad) == str(tmp_path / "b.jpg")


def test_unsorted_is_the_worklist_order_and_navigation(store, tmp_path):
    wl, order = _order(store, tmp_path)
    store.record_decision(fake_id(0), "r", "fracture")
    store.record_decision(fake_id(2), "r", "fracture")
    wl.set_filter("all")
    wl.reload()
    assert list(order) == list(wl) and not order.sorted_by_user
    assert order.next_to_review(0) == 1 and order.next_to_review(2) == 3
    assert order.next_to_review(4) == 1  # past the end: from the top
    assert order.next_to_review(1, skip=fake_id(1)) == 3
    assert order.next(3) == 3 and order.next(0) == 1 and order.previous(0) == 0 and order.previous(2) == 1
    assert order.row_of(fake_id(2)) == 2 and order.row_of("nope") is None and order.row_of(None) is None


def test_sort_by_column_both_directions_with_stable_ties(store, tmp_path):
    wl, order = _order(store, tmp_path, (0.9, 0.5, 0.5, 0.2, 0.5))
    wl.set_filter("all")
    changes = []
    order.subscribe(changes.append)
    order.set_sort("probability")
    assert changes == [Change("reset", 0, 4)]
    assert [it.image_id for it in order] == [fake_id(i) for i in (3, 1, 2, 4, 0)]
    order.set_sort("probability", descending=True)
    assert [it.image_id for it in order] == [fake_id(i) for i in (0, 1, 2, 4, 3)]  # ties still in worklist order
    order.set_sort("flag", descending=True)
    assert [it.flag for it in order][:1] == ["definite"]
    order.set_sort(None)
    assert list(order) == list(wl)
    with pytest.raises(ValueError):
        order.set_sort("size")


def test_sorted_order_follows_worklist_changes(store, tmp_path):
    """Random scan inserts, decisions, undos and filter switches under every column sort: the order
    always equals a fresh stable sort, and replaying its notifications on a copy gives the same rows."""
    rng = random.Random(4)
    wl, order = _order(store, tmp_path, [round(rng.random(), 2) for _ in range(12)])
    wl.set_filter("all")
    for column in list(SORT_COLUMNS) + [None]:
        for descending in (False, True):
            order.set_sort(column, descending)
            shadow = list(order)
            # the bulk rebuild gives every row the entry an insertion would (so bisect places rows alike)
            assert all(order._entry_for(order.item(k)) == e for k, e in order._entry.items())

            def follow(ch):
                if ch.kind == "reset":
                    shadow[:] = list(order)
                elif ch.kind == "inserted":
                    shadow[ch.first:ch.first] = [order[i] for i in ch.rows]
                elif ch.kind == "removed":
                    del shadow[ch.first:ch.last + 1]
                else:
                    for i in ch.rows:
                        shadow[i] = order[i]

            unsubscribe = order.subscribe(follow)
            for step in range(15):
                r = rng.random()
                if r < 0.3:
                    n = rng.randrange(10_000)
                    wl.add_scan_items([item(tmp_path / f"new{n}.png", f"new{n}", round(rng.random(), 2))])
                elif r < 0.4:
                    wl.add_scan_items([error_item(tmp_path / f"bad{step}.jpg")])
                elif r < 0.85 and len(wl):
                    target = wl[rng.randrange(len(wl))]
                    if target.image_id and target.error is None:
                        wl.apply_decision(_decision(target.image_id, rng.choice(["a", "b"]),
                                                    rng.choice(["fracture", "no_fracture", "doubt", None])))
                else:
                    wl.set_filter(rng.choice(["all", "to_review", "decided", "errors", "flagged"]))
                assert [row_key(i) for i in order] == [row_key(i) for i in _expected(order)], (column, descending, step)
                assert [row_key(i) for i in shadow] == [row_key(i) for i in order]
                assert order.row_keys() == [row_key(i) for i in order]
                for row, it in enumerate(order):
                    assert order.row_of(row_key(it)) == row
            unsubscribe()


def test_closed_orders_and_triage_leave_no_cycle_behind(store, tmp_path):
    """Each keeps the function that unsubscribes it; once called, that function lets go of their own
    callback, so reference counting alone frees a folder's worklist, orders and triage (the desktop keeps
    them frozen out of the cycle collector)."""
    import gc
    import weakref

    from core.study_order import StudyOrder
    from core.triage import Triage

    wl, order = _order(store, tmp_path / "x")
    studies = StudyOrder(wl)
    triage = Triage(store, order, "QA")
    refs = [weakref.ref(x) for x in (wl, order, studies, triage)]
    for x in (triage, order, studies):
        x.close()
    was = gc.isenabled()
    gc.disable()
    try:
        del wl, order, studies, triage, x
        assert [r() is None for r in refs] == [True] * 4
    finally:
        if was:
            gc.enable()



@pytest.mark.parametrize("n", [400, 45_000])  # 45,000: above BULK_ROWS, sorted in chunks and merged
@pytest.mark.parametrize("descending", [False, True])
def test_sort_entries_gives_exactly_the_tuple_order_ties_included(descending, n):
    from core.order import BULK_ROWS, SORT_CHUNK, _Desc, sort_entries

    assert n < BULK_ROWS or n > BULK_ROWS + 2 * SORT_CHUNK
    rnd = random.Random(3)
    for pool in (["", "a", "b", "B", "c"], [0.0, 0.5, -1.0]):  # many ties: the rank decides them
        entries = [(_Desc(v) if descending else v, (rnd.randint(0, 3), rnd.random()), f"k{i}")
                   for i, v in enumerate(rnd.choice(pool) for _ in range(n))]
        assert sort_entries(entries) == sorted(entries)
        ranked = sorted(entries, key=lambda e: e[1])  # how the worklist hands them over
        assert sort_entries(ranked) == sorted(entries)
    assert sort_entries([]) == []


def test_a_sort_worked_out_elsewhere_installs_what_set_sort_gives(store, tmp_path):
    """sort_job reads a copy of the rows (run here, as a worker would); install_sort gives the order
    set_sort gives; a later request overtakes it; rows that changed meanwhile are sorted again."""
    wl, order = _order(store, tmp_path, (0.9, 0.5, 0.5, 0.2, 0.7))
    wl.set_filter("all")
    changes = []
    order.subscribe(changes.append)
    job = order.sort_job("name", descending=True)
    assert job is not None and order.sort_column is None and not changes  # nothing installed yet
    result = job()
    assert order.install_sort(result) and changes == [Change("reset", 0, 4)]
    expected = [row_key(i) for i in _expected(order)]
    assert order.sort_column == "name" and order.descending and order.row_keys() == expected

    first, second = order.sort_job("probability"), order.sort_job("flag")
    r1, r2 = first(), second()
    assert not order.install_sort(r1) and order.sort_column == "name"  # overtaken by the later click
    assert order.install_sort(r2) and order.sort_column == "flag"
    assert order.sort_job("flag") is None  # nothing to change
    assert order.sort_job(None) is None and order.sort_column is None  # back to the worklist's order: at once

    job = order.sort_job("name")
    wl.add_scan_items([item(tmp_path / "aaa.png", "aaa", 0.1)])  # the rows change before it lands
    assert order.install_sort(job())
    assert order.row_keys() == [row_key(i) for i in _expected(order)] and order[0].name == "aaa.png"
    set_sort_keys = order.row_keys()
    order.set_sort(None)
    order.set_sort("name")
    assert order.row_keys() == set_sort_keys
    with pytest.raises(ValueError):
        order.sort_job("size")
