"""core.study_order and the study mode of core.triage over a real store (no Qt): grouping of a
folder's images into study rows, study score order, open/close, filters and counts, study decisions
(one per view, undone together), per-view decisions, next to review, scan results arriving."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.order import ReviewOrder, row_key
from core.results import DicomMeta, ImageMeta
from core.studies import StudyKeys
from core.study_order import StudyOrder
from core.triage import PendingStudyDecision, StudyDecision, Triage
from core.worklist import Worklist
from tests.core.store.helpers import Thresholds, error_item, fake_id, item, open_test_store

# folder -> [(file, score)]; s1 has 3 views (max 0.9), s2 one (0.5), s3 two (max 0.8)
LAYOUT = {"s1": [("a.png", 0.9), ("b.png", 0.2), ("c.png", 0.1)], "s2": [("d.png", 0.5)],
          "s3": [("e.png", 0.05), ("f.png", 0.8)]}


def dicom_item(path: Path, n: str, prob: float, uid: str):
    it = item(path, n, prob)
    it.meta = ImageMeta(width=64, height=48, format="DICOM", dicom=DicomMeta(study_uid=uid, view_position="AP"))
    return it


@pytest.fixture
def env(tmp_path):
    store = open_test_store(tmp_path)
    items = [item(tmp_path / f / name, name, p) for f, views in LAYOUT.items() for name, p in views]
    store.record_scan_results(tmp_path, items)
    keys = StudyKeys(store.pseudonym_secret(), "folder")
    wl = Worklist(store, Thresholds(0.3, 0.7), tmp_path, study_keys=keys)
    wl.reload()
    order = StudyOrder(wl)
    t = Triage(store, order, "dr s")
    yield store, wl, order, t, keys
    t.close()
    order.close()
    store.close()


def names(order):
    return [it.name if not it.is_study else f"[{len(it.views)}]{it.probability}" for it in order]


def decide(t, label):
    pending = t.prepare(label)
    d = t.write(pending)
    t.apply(d)
    return d


def test_rows_are_studies_in_study_score_order(env, tmp_path):
    store, wl, order, t, keys = env
    assert names(order) == ["[3]0.9", "[2]0.8", "[1]0.5"]
    top = order[0]
    assert top.key == keys.key(tmp_path / "s1" / "a.png") and top.kind == "folder"
    assert [v.name for v in top.views] == ["a.png", "b.png", "c.png"]  # highest first
    assert top.flag == "definite" and order[2].flag == "suspicious"
    assert all(v.study == top.key for v in top.views)
    assert t.current_item is top and row_key(top) == "study:" + top.key
    assert order.counts()["to_review"] == 3 and wl.counts()["to_review"] == 6  # studies and images


def test_noisy_or_score_ranks_many_weak_views_higher(env, tmp_path):
    store, wl, order, t, keys = env
    noisy = StudyOrder(wl, method="noisy_or")
    try:
        assert noisy[0].probability == pytest.approx(1 - 0.1 * 0.8 * 0.9)
        assert [s.probability for s in noisy][1] == pytest.approx(1 - 0.95 * 0.2)
    finally:
        noisy.close()


def test_dicom_study_uid_spans_folders(tmp_path):
    store = open_test_store(tmp_path)
    store.record_scan_results(tmp_path, [dicom_item(tmp_path / "x" / "1.dcm", "1", 0.4, "1.2.3"),
                                         dicom_item(tmp_path / "y" / "2.dcm", "2", 0.6, "1.2.3"),
                                         item(tmp_path / "x" / "3.png", "3", 0.1)])
    wl = Worklist(store, Thresholds(), tmp_path, study_keys=StudyKeys(store.pseudonym_secret()))
    wl.reload()
    order = StudyOrder(wl)
    try:
        assert [(len(s.views), s.kind, s.probability) for s in order] == [(2, "dicom", 0.6), (1, "folder", 0.1)]
    finally:
        order.close()
        store.close()


def test_expand_collapse_and_rows(env):
    store, wl, order, t, keys = env
    first = order[0]
    seen = []
    order.subscribe(seen.append)
    assert order.expand(first.key)
    assert (seen[-1].kind, seen[-1].first, seen[-1].last) == ("inserted", 1, 3)
    assert names(order) == ["[3]0.9", "a.png", "b.png", "c.png", "[2]0.8", "[1]0.5"]
    assert order.row_of(fake_id("b.png")) == 2 and order.row_of(order[4].row_key) == 4
    assert order.study_of_row(2) is order.open_study
    assert order.row_keys() == [order[0].row_key, fake_id("a.png"), fake_id("b.png"), fake_id("c.png"),
                                order[4].row_key, order[5].row_key]
    assert order.row_for_image(fake_id("f.png")) == 4  # an image of a closed study: its study's row
    order.collapse()
    assert (seen[-1].kind, seen[-1].first, seen[-1].last) == ("removed", 1, 3) and len(order) == 3


def test_study_decision_records_every_view_and_advances(env):
    store, wl, order, t, keys = env
    first = order[0]
    pending = t.prepare("fracture")
    assert isinstance(pending, PendingStudyDecision) and pending.study_score == 0.9 and len(pending.views) == 3
    d = t.write(pending)
    assert isinstance(d, StudyDecision) and len(d.decisions) == 3
    t.apply(d)
    labels = store.current_labels()
    assert {labels[fake_id(n)].label for n in ("a.png", "b.png", "c.png")} == {"fracture"}
    ev = labels[fake_id("b.png")]
    assert (ev.unit, ev.study, ev.study_score, ev.probability, ev.reviewer) == ("study", first.key, 0.9, 0.2, "dr s")
    assert ev.model_version == "m1" and ev.reading_mode == "aided" and ev.shown_ms is not None
    assert len({labels[fake_id(n)].batch for n in ("a.png", "b.png", "c.png")}) == 1
    # the decided study left "to review"; the next study is current
    assert names(order) == ["[2]0.8", "[1]0.5"] and t.current == 0
    assert order.counts()["to_review"] == 2 and order.counts()["decided"] == 1 and wl.counts()["decided"] == 3


def test_undo_of_a_study_decision_undoes_all_its_views(env):
    store, wl, order, t, keys = env
    decide(t, "no_fracture")
    u = t.write_undo()
    assert u.is_undo and len(u.group) == 2
    t.apply(u)
    assert store.current_labels() == {}
    assert names(order)[0] == "[3]0.9" and t.current == 0  # back on the study
    assert store.undo_last("dr s") is None


def test_stepping_in_decides_one_view_at_a_time(env):
    store, wl, order, t, keys = env
    t.step_in()
    assert t.current_item.name == "a.png" and t.current == 1
    d = decide(t, "no_fracture")
    assert (d.unit, d.study, d.study_score) == ("view", order.open_study.key, 0.9)
    assert len(store.current_labels()) == 1
    assert t.current_item.name == "b.png"  # the next view of the same study
    decide(t, "fracture")
    assert t.current_item.name == "c.png"
    assert order.open_study.label == "fracture" and order.open_study.decided_views == 2
    decide(t, "no_fracture")  # the last view: the study is done and leaves "to review"
    assert names(order) == ["[2]0.8", "[1]0.5"] and t.current_item.is_study and t.current == 0


def test_next_to_review_prefers_the_open_studys_other_views(env):
    store, wl, order, t, keys = env
    t.step_in()
    t.next()  # on b.png
    decide(t, "doubt")
    assert t.current_item.name == "c.png"
    decide(t, "doubt")
    assert t.current_item.name == "a.png"  # wraps inside the study before the studies below


def test_step_out_closes_the_study(env):
    store, wl, order, t, keys = env
    t.step_in()
    t.next()
    t.step_out()
    assert t.current == 0 and order.open_study is None and len(order) == 3
    t.step_out()  # nothing open: stays
    assert t.current == 0


def test_filters_list_studies_with_any_matching_view(env):
    store, wl, order, t, keys = env
    t.step_in()
    decide(t, "fracture")  # a.png only
    order.set_filter("decided")
    assert names(order) == ["[3]0.9", "a.png", "b.png", "c.png"]  # still open: all its views
    t.step_out()
    assert names(order) == ["[3]0.9"] and order.counts()["decided"] == 1
    order.set_filter("flagged")  # the study score's flag
    assert len(order) == 3
    order.set_filter("disagreements")
    assert len(order) == 0
    order.set_filter("all")
    assert len(order) == 3
    with pytest.raises(ValueError):
        order.set_filter("nope")


def test_column_sort_sorts_studies(env):
    store, wl, order, t, keys = env
    order.set_sort("probability", descending=False)
    assert [s.probability for s in order] == [0.5, 0.8, 0.9]
    order.expand(order[2].key)
    assert [it.name for it in order][3:] == ["a.png", "b.png", "c.png"]
    order.set_sort(None)
    assert [it.probability for it in order][:1] == [0.9]


def test_scan_results_join_their_study_live(env, tmp_path):
    store, wl, order, t, keys = env
    seen = []
    order.subscribe(seen.append)
    order.expand(order[1].key)  # s3 open
    new = [item(tmp_path / "s3" / "g.png", "g.png", 0.95), item(tmp_path / "s4" / "h.png", "h.png", 0.6),
           error_item(tmp_path / "s5" / "bad.jpg")]
    store.record_scan_results(tmp_path, new)
    wl.add_scan_items(new)
    assert names(order)[:4] == ["[3]0.95", "g.png", "f.png", "e.png"]  # s3 moved to the top, still open
    assert names(order)[4:] == ["[3]0.9", "[1]0.6", "[1]0.5"]  # the error-only study is not "to review"
    order.set_filter("errors")
    assert len(order) == 1 and order[0].error and order[0].probability is None
    assert order.counts()["all"] == 5 and order.counts()["to_review"] == 4


def test_image_mode_records_the_study_key_without_a_unit(env):
    store, wl, order, t, keys = env
    plain = ReviewOrder(wl)
    ti = Triage(store, plain, "dr i")
    try:
        d = decide(ti, "fracture")
        assert d.study == keys.key(Path(ti.order.worklist.item(d.image_id).path)) and d.unit is None
        assert d.study_score is None
    finally:
        ti.close()
        plain.close()
