"""The worklist: order (probability desc, ties stable), filters and counts, navigation, change
notifications, incremental insertion of scan results (10,000 items without resorting)."""

from __future__ import annotations

import random

import pytest

from core.worklist import FILTERS, Change, Worklist
from tests.core.store.helpers import Thresholds, error_item, fake_id, fill, item, open_test_store


@pytest.fixture
def store(tmp_path):
    s = open_test_store(tmp_path)
    yield s
    s.close()


def _wl(store, root, **kw):
    wl = Worklist(store, Thresholds(0.3, 0.7), root, **kw)
    wl.reload()
    return wl


def test_order_and_stable_ties(store, tmp_path):
    fill(store, tmp_path, [0.2, 0.9, 0.5, 0.9, None, 0.5])
    store.record_scan_results(tmp_path, [error_item(tmp_path / "bad.jpg")])
    wl = _wl(store, tmp_path)
    wl.set_filter("all")
    names = [w.name for w in wl]
    assert names == ["img0001.png", "img0003.png", "img0002.png", "img0005.png", "img0000.png", "img0004.png", "bad.jpg"]
    assert wl[0].flag == "definite" and wl[2].flag == "suspicious" and wl[4].flag is None


def test_reading_filters_follow_decisions_of_several_readers(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.8, 0.7, 0.6])
    store.set_reader("adj", "adjudicator")
    store.record_decision(fake_id(0), "A", "fracture")
    store.record_decision(fake_id(1), "A", "fracture")
    store.record_decision(fake_id(1), "B", "fracture")  # agreed
    store.record_decision(fake_id(2), "A", "fracture")
    store.record_decision(fake_id(2), "B", "no_fracture")  # disputed
    wl = _wl(store, tmp_path)
    names = lambda f: (wl.set_filter(f), [w.name for w in wl])[1]  # noqa: E731
    assert names("second_read") == ["img0000.png"]
    assert names("disputed") == ["img0002.png"]
    assert names("adjudicated") == []
    # a second read and an adjudication arrive: the rows move without a reload
    wl.apply_decision(store.record_decision(fake_id(0), "B", "no_fracture"))
    wl.apply_decision(store.record_decision(fake_id(2), "adj", "no_fracture"))
    assert names("disputed") == ["img0000.png"] and names("adjudicated") == ["img0002.png"]
    assert wl.counts()["second_read"] == 0
    wl.apply_decision(store.undo_last("adj"))
    assert names("disputed") == ["img0000.png", "img0002.png"]


def test_filters_and_counts(store, tmp_path):
    fill(store, tmp_path, [0.95, 0.8, 0.5, 0.2, 0.1, 0.05])
    store.record_scan_results(tmp_path, [error_item(tmp_path / "bad.jpg", "DICOM has no pixel data")])
    store.record_decision(fake_id(0), "r", "fracture")  # agrees (flagged)
    store.record_decision(fake_id(1), "r", "no_fracture")  # disagrees (flagged, rejected)
    store.record_decision(fake_id(3), "r", "fracture")  # disagrees (not flagged, confirmed)
    store.record_decision(fake_id(4), "r", "doubt")
    wl = _wl(store, tmp_path)
    assert wl.counts() == {
        "to_review": 2, "flagged": 3, "all": 7, "decided": 4, "doubt": 1, "disagreements": 2, "errors": 1,
        "second_read": 4, "disputed": 0, "adjudicated": 0,
        "out_of_scope": 0,
    }
    expected = {
        "to_review": ["img0002.png", "img0005.png"],
        "flagged": ["img0000.png", "img0001.png", "img0002.png"],
        "decided": ["img0000.png", "img0001.png", "img0003.png", "img0004.png"],
        "doubt": ["img0004.png"],
        "disagreements": ["img0001.png", "img0003.png"],
        "errors": ["bad.jpg"],
    }
    for name, names in expected.items():
        wl.set_filter(name)
        assert [w.name for w in wl] == names, name
        assert len(wl) == wl.counts()[name]
    assert wl[0].error == "DICOM has no pixel data"
    with pytest.raises(ValueError):
        wl.set_filter("nope")
    assert set(FILTERS) == set(wl.counts())


def test_root_limits_the_worklist(store, tmp_path):
    fill(store, tmp_path / "a", [0.5, 0.6])
    store.record_scan_results(tmp_path / "b", [item(tmp_path / "b" / "x.png", "other", 0.9)])
    assert len(_wl(store, tmp_path / "a")) == 2
    assert len(_wl(store, None)) == 3


def test_index_of_item_and_rank(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.8, 0.7, 0.6])
    store.record_scan_results(tmp_path, [error_item(tmp_path / "bad.jpg")])
    wl = _wl(store, tmp_path)
    wl.set_filter("all")
    assert wl.index_of(fake_id(2)) == 2 and wl.index_of("nope") is None
    bad = str(tmp_path / "bad.jpg")
    assert wl.index_of(bad) == 4 and wl.item(bad).error and wl.rank(bad) > wl.rank(fake_id(3))
    wl.set_filter("to_review")
    assert wl.index_of(bad) is None and wl.item(bad) is not None


def test_decisions_move_rows_between_filters_with_notifications(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.8, 0.7])
    wl = _wl(store, tmp_path)
    changes: list[Change] = []
    unsubscribe = wl.subscribe(changes.append)
    d = store.record_decision(fake_id(1), "r", "fracture")
    wl.apply_decision(d)
    assert changes == [Change("removed", 1, 1)] and [w.name for w in wl] == ["img0000.png", "img0002.png"]
    assert wl.counts()["decided"] == 1 and wl.item(fake_id(1)).label == "fracture"
    u = store.undo_last("r")
    wl.apply_decision(u)
    assert changes[-1] == Change("inserted", 1, 1) and wl[1].label is None
    wl.set_filter("all")
    assert changes[-1].kind == "reset"
    wl.apply_decision(store.record_decision(fake_id(2), "r", "doubt"))
    assert changes[-1] == Change("updated", 2, 2) and wl[2].label == "doubt" and wl[2].reviewer == "r"
    unsubscribe()
    n = len(changes)
    wl.apply_decision(store.record_decision(fake_id(0), "r", "doubt"))
    assert len(changes) == n


def test_scan_items_arrive_incrementally(store, tmp_path):
    wl = _wl(store, tmp_path)
    changes: list[Change] = []
    wl.subscribe(changes.append)
    batch = [item(tmp_path / "a.png", "a", 0.4), item(tmp_path / "b.png", "b", 0.9)]
    store.record_scan_results(tmp_path, batch)
    wl.add_scan_items(batch)
    assert [w.name for w in wl] == ["b.png", "a.png"]
    assert changes == [Change("inserted", 0, 0), Change("inserted", 0, 0)]
    dup = item(tmp_path / "copy.png", "a", None, status="duplicate")
    err = error_item(tmp_path / "bad.jpg")
    outside = item(tmp_path.parent / "elsewhere.png", "z", 0.99)
    wl.add_scan_items([dup, err, outside])
    assert len(wl) == 2 and wl.counts()["errors"] == 1 and wl.counts()["all"] == 3
    fixed = item(tmp_path / "bad.jpg", "fixed", 0.6)  # the broken file was replaced and re-scanned
    wl.add_scan_items([fixed])
    assert wl.counts()["errors"] == 0 and [w.name for w in wl] == ["b.png", "bad.jpg", "a.png"]


def test_known_decision_shows_for_renamed_file(store, tmp_path):
    fill(store, tmp_path, [0.5])
    store.record_decision(fake_id(0), "r", "no_fracture")
    wl = Worklist(store, Thresholds(), tmp_path / "new")
    wl.reload()
    wl.set_filter("all")
    wl.add_scan_items([item(tmp_path / "new" / "renamed.png", 0, 0.5)])
    assert wl[0].label == "no_fracture"


def test_ten_thousand_items_in_batches_without_resorting(store, tmp_path):
    wl = _wl(store, tmp_path)
    changes: list[Change] = []
    wl.subscribe(changes.append)
    rnd = random.Random(7)
    probs = [round(rnd.random(), 2) for _ in range(10_000)]  # many ties
    items = [item(tmp_path / f"f{i:05d}.png", i, p) for i, p in enumerate(probs)]
    for start in range(0, len(items), 250):
        wl.add_scan_items(items[start : start + 250])
    assert len(wl) == 10_000 and wl.stats["sorts"] == 1  # only the initial reload sorted
    assert len(changes) == 10_000 and all(c.kind == "inserted" for c in changes)
    # order: probability descending, ties in arrival order
    expected = [f"f{i:05d}.png" for i in sorted(range(10_000), key=lambda i: (-probs[i], i))]
    assert [w.name for w in wl] == expected
    assert wl.counts()["to_review"] == 10_000
    assert wl.counts()["flagged"] == sum(p >= 0.3 for p in probs)


class _NoStore:
    """The worklist's store calls, answering from nothing (for the model-based test)."""

    def image_rows(self, root=None, model_version=None):
        return []

    def error_rows(self, root=None):
        return []

    def current_labels(self, image_ids=None):
        return {}


def test_incremental_updates_match_a_full_recomputation():
    """Random scan results, decisions, undos and filter switches: the view always equals a sort from
    scratch, counts equal a recount, and replaying the notifications on a mirror list (as a Qt model
    does) reproduces the view."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from core.results import ScanItem
    from core.store import Decision
    from core.worklist import matches

    op = st.one_of(
        st.tuples(st.just("scan"), st.integers(0, 30), st.one_of(st.none(), st.sampled_from([0.1, 0.3, 0.5, 0.5, 0.9]))),
        st.tuples(st.just("error"), st.integers(0, 30), st.none()),
        st.tuples(st.just("decide"), st.integers(0, 30), st.sampled_from(["fracture", "no_fracture", "doubt"])),
        st.tuples(st.just("undo"), st.integers(0, 30), st.none()),
        st.tuples(st.just("filter"), st.integers(0, len(FILTERS) - 1), st.none()),
    )

    @settings(max_examples=60, deadline=None)
    @given(st.lists(op, max_size=60))
    def run(ops):
        from datetime import datetime, timezone
        from pathlib import Path

        wl = Worklist(_NoStore(), Thresholds(0.3, 0.7), Path("/r"))
        wl.reload()
        mirror: list = []

        def on_change(c: Change) -> None:
            if c.kind == "reset":
                mirror[:] = list(wl)
            elif c.kind == "inserted":
                mirror[c.first : c.first] = [wl[i] for i in c.rows]
            elif c.kind == "removed":
                del mirror[c.first : c.last + 1]
            else:
                for i in c.rows:
                    mirror[i] = wl[i]

        wl.subscribe(on_change)
        now = datetime.now(timezone.utc)
        for n, (kind, k, arg) in enumerate(ops):
            path = Path(f"/r/f{k}.png")
            if kind == "scan":
                wl.add_scan_items([ScanItem(path, 1, 1, "scored", image_id=f"id{k}", probability=arg, model_version="m")])
            elif kind == "error":
                wl.add_scan_items([ScanItem(path, 1, 1, "error", error="bad")])
            elif kind in ("decide", "undo") and wl.item(f"id{k}") is not None:
                label = arg if kind == "decide" else None
                d = Decision(n, f"id{k}", "r", "decide", label or "doubt", now)
                if kind == "undo":
                    d = Decision(n, f"id{k}", "r", "undo", None, now, undoes=1, restored=None)
                wl.apply_decision(d)
            elif kind == "filter":
                wl.set_filter(FILTERS[k])
            assert mirror == list(wl)
        rows = list(wl)
        every = [wl._items[key] for key in wl._items]
        assert len(rows) == sum(matches(i, wl.filter) for i in every)
        group = lambda i: 2 if i.error else (1 if i.probability is None else 0)  # noqa: E731
        keys = [(group(i), -(i.probability or 0)) for i in rows]
        assert keys == sorted(keys)
        assert wl.counts() == {f: sum(matches(i, f) for i in every) for f in FILTERS}

    run()


def test_load_reads_off_thread_and_apply_notifies(store, tmp_path):
    """The thread contract: ``load`` only reads the store (no rows change, nothing is notified),
    ``apply`` on the worklist's thread replaces the rows and says 'reset'."""
    import threading

    fill(store, tmp_path, [0.4, 0.9])
    store.record_scan_results(tmp_path, [error_item(tmp_path / "bad.jpg")])
    store.record_decision(fake_id(1), "r", "doubt")
    wl = Worklist(store, Thresholds(0.3, 0.7), tmp_path)
    changes: list[Change] = []
    wl.subscribe(changes.append)
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("snap", wl.load()))
    t.start()
    t.join(60)
    assert changes == [] and len(wl) == 0  # nothing happened to the worklist off its thread
    snap = got["snap"]
    assert {r.image_id for r in snap.rows} == {fake_id(0), fake_id(1)} and len(snap.errors) == 1
    assert snap.labels[fake_id(1)].label == "doubt"
    wl.apply(snap)
    assert changes == [Change("reset", 0, 0)] and [w.image_id for w in wl] == [fake_id(0)]
    assert wl.counts()["errors"] == 1 and wl.counts()["doubt"] == 1


# --- scope gate -----------------------------------------------------------------------------------
def _scoped(root, n, prob, scope, reason=None):
    from tests.core.store.helpers import item

    it = item(root / f"s{n}.png", 1000 + n, prob)
    it.scope, it.scope_reason = scope, reason
    return it


def test_out_of_scope_never_flagged_never_among_in_scope_own_tab(tmp_path):
    from core.model.card import Thresholds
    from core.worklist import Worklist
    from tests.core.store.helpers import open_test_store

    store = open_test_store(tmp_path)
    root = tmp_path / "xr"
    items = [_scoped(root, 1, 0.99, "out_of_scope", "CT image"), _scoped(root, 2, 0.5, "in_scope"),
             _scoped(root, 3, 0.1, "in_scope"), _scoped(root, 4, 0.8, "out_of_scope", "chest radiograph")]
    store.record_scan_results(root, items)
    wl = Worklist(store, Thresholds(0.3, 0.7), root, "m1")
    wl.reload()
    wl.set_filter("all")
    assert [w.probability for w in wl] == [0.5, 0.1, 0.99, 0.8]  # in-scope ranking first
    assert [w.flag for w in wl] == ["suspicious", None, None, None]
    assert wl.counts()["out_of_scope"] == 2 and wl.counts()["to_review"] == 2 and wl.counts()["flagged"] == 1
    wl.set_filter("out_of_scope")
    assert [w.scope_reason for w in wl] == ["CT image", "chest radiograph"]

    # marked "in scope after all": ranked and flagged like any in-scope image; withdrawn: back out
    mark = store.mark_scope(items[3].image_id, "dr who", model_version="m1")
    wl.apply_scope_mark(mark)
    assert wl.counts()["out_of_scope"] == 1 and wl.counts()["flagged"] == 2
    wl.set_filter("all")
    assert [w.probability for w in wl][:2] == [0.8, 0.5] and wl[0].flag == "definite"
    assert wl[0].scope_marked_by == "dr who"
    wl2 = Worklist(store, Thresholds(0.3, 0.7), root, "m1")  # and it is read back from the store
    wl2.reload()
    assert wl2.item(items[3].image_id).flag == "definite"
    wl.apply_scope_mark(store.mark_scope(items[3].image_id, "dr who", in_scope=False))
    assert wl.counts()["out_of_scope"] == 2 and wl.item(items[3].image_id).flag is None

    # scan results arriving incrementally are placed the same way
    wl.add_scan_items([_scoped(root, 5, 0.95, "out_of_scope", "colour photograph")])
    assert wl.item(items[0].image_id) is not None and wl.counts()["out_of_scope"] == 3
    assert [w.probability for w in wl][:2] == [0.5, 0.1]
    store.close()


def test_shows_tells_an_unchanged_file_the_list_already_shows(store, tmp_path):
    """What a re-scan need not hand the GUI: a REUSED result its row shows exactly (no copy of the
    rows' paths and scores is kept for this: the rows are asked)."""
    from dataclasses import replace

    items = fill(store, tmp_path / "a", [0.2, 0.9, 0.5])
    for model_version in ("m1", None):  # the version's prediction joined directly, or the latest of any
        wl = _wl(store, tmp_path / "a", model_version=model_version)
        again = [replace(i, status="reused") for i in items]
        assert all(wl.shows(i) for i in again)
        assert not wl.shows(items[0])  # scored afresh: added as usual
        assert not wl.shows(replace(again[0], probability=0.3))
        assert not wl.shows(replace(again[0], scope="out_of_scope", scope_reason="colour photograph"))
        assert not wl.shows(replace(again[0], path=tmp_path / "a" / "moved.png"))
        assert not wl.shows(replace(again[0], image_id=fake_id("other")))
        wl.forget(again[1].image_id)  # its row is gone (its file held another image): the re-scan brings it back
        assert not wl.shows(again[1]) and wl.shows(again[2])


def test_scan_items_outside_the_root_by_name_prefix_are_left_out(store, tmp_path):
    wl = _wl(store, tmp_path / "a")
    wl.set_filter("all")
    inside, beside = item(tmp_path / "a" / "x.png", "x", 0.5), item(tmp_path / "ab" / "y.png", "y", 0.6)
    wl.add_scan_items([inside, beside, error_item(tmp_path / "abc.png")])
    assert [w.name for w in wl] == ["x.png"]


def test_column_facts_follow_the_rows_whatever_the_filter(store, tmp_path):
    """The table shows the notes and body-part columns only when some row has one: the worklist keeps
    those tallies as rows come and go (no walk over 100,000 rows on the GUI thread)."""
    from dataclasses import replace

    from core.results import ImageMeta

    fill(store, tmp_path, [0.9, 0.5, 0.1])
    wl = _wl(store, tmp_path)
    assert wl.column_facts() == (False, False)
    hand = item(tmp_path / "hand.dcm", 10, 0.2, body_part="HAND")
    wl.add_scan_items([hand])
    assert wl.column_facts() == (False, True)
    paged = item(tmp_path / "paged.tif", 11, 0.95)
    paged = replace(paged, meta=ImageMeta(width=64, height=48, format="TIFF", notes=("first page of 3",)))
    wl.add_scan_items([paged])
    assert wl.column_facts() == (True, True)
    wl.set_filter("decided")  # no row shown: the tallies are the folder's
    assert len(wl) == 0 and wl.column_facts() == (True, True)
    wl.add_scan_items([replace(paged, probability=0.05)])  # the row moves (removed, put back): counted once
    wl.forget(paged.image_id)
    assert wl.column_facts() == (False, True)
    store.record_scan_results(tmp_path, [hand])
    wl.reload()  # built on the loading side: the same tallies
    assert wl.column_facts() == (False, True)
    wl.forget(hand.image_id)
    assert wl.column_facts() == (False, False)


def test_row_keys_name_rows_as_row_key_does(store, tmp_path):
    from core.order import row_key

    fill(store, tmp_path, [0.9, 0.5, 0.1])
    store.record_scan_results(tmp_path, [error_item(tmp_path / "bad.jpg")])
    wl = _wl(store, tmp_path)
    for name in ("all", "errors", "to_review", "flagged"):
        wl.set_filter(name)
        assert wl.row_keys() == [row_key(i) for i in wl], name
    wl.set_filter("all")
    assert str(tmp_path / "bad.jpg") in wl.row_keys()



def test_row_keys_are_listed_by_load_and_follow_every_change(store, tmp_path):
    from core.order import row_key

    fill(store, tmp_path, [0.9, 0.5, 0.1, 0.7])
    store.record_scan_results(tmp_path, [error_item(tmp_path / "bad.jpg")])
    wl = Worklist(store, Thresholds(0.3, 0.7), tmp_path)
    snapshot = wl.load()
    assert snapshot.prepared.keys is not None  # listed where load ran, not by the first row_keys()
    wl.apply(snapshot)
    assert wl.row_keys() == snapshot.prepared.keys == [row_key(i) for i in wl]
    mine = wl.row_keys()
    mine.clear()  # a caller's copy: the next one is whole
    assert wl.row_keys() == [row_key(i) for i in wl] != []
    wl.apply_decision(store.record_decision(fake_id(0), "QA", "fracture"))  # leaves "to review"
    assert fake_id(0) not in wl.row_keys() and wl.row_keys() == [row_key(i) for i in wl]
    wl.add_scan_items([item(tmp_path / "img0009.png", 9, 0.8)])  # arrives in the middle
    assert wl.row_keys() == [row_key(i) for i in wl] and fake_id(9) in wl.row_keys()
    wl.forget(fake_id(3))
    assert wl.row_keys() == [row_key(i) for i in wl] and fake_id(3) not in wl.row_keys()
    wl.set_filter("errors")  # the unreadable file's row by its path
    assert wl.row_keys() == [str(tmp_path / "bad.jpg")]
    wl.set_filter("all")
    assert wl.row_keys() == [row_key(i) for i in wl]


def test_rows_are_compact_and_keep_their_path_as_text(store, tmp_path):
    """100,000s of rows: no ``__dict__`` and no ``Path`` held per row (``path`` makes one when asked)."""
    fill(store, tmp_path / "a", [0.2, 0.9])
    wl = _wl(store, tmp_path / "a")
    rows = list(wl)
    assert rows and all(not hasattr(r, "__dict__") and type(r.path_text) is str for r in rows)
    assert {r.path for r in rows} == {tmp_path / "a" / r.name for r in rows}
    store.close()
