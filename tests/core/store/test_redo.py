"""Redo after undo as an event of the append-only log, on SQLite and PostgreSQL: a redo is a 'decide'
event pointing at the undo it reverses, redo follows the undo stack, a fresh decision ends it, it is
read from the log (so it survives closing and reopening the store), and it can be undone again."""

from __future__ import annotations

from core.store import open_store
from tests.core.store.helpers import fake_id, fill


def labels(store) -> dict[str, str]:
    return {k: d.label for k, d in store.current_labels().items()}


def test_redo_decides_the_undone_label_again(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.1])
    a = fake_id(0)
    d = store.record_decision(a, "dr a", "fracture", note="distal radius", model_version="m1", probability=0.9,
                              reading_mode="aided", shown_ms=1200)
    u = store.undo_last("dr a")
    assert labels(store) == {}
    r = store.redo_last("dr a")
    assert r.kind == "decide" and r.is_redo and not r.is_undo and r.undoes == u.id
    assert (r.label, r.note, r.model_version, r.probability, r.reading_mode) == ("fracture", "distal radius", "m1", 0.9, "aided")
    assert r.image_id == a and r.reviewer == "dr a" and r.uid and r.uid != d.uid
    assert labels(store) == {a: "fracture"}
    assert [e.kind for e in store.decision_history(a)] == ["decide", "undo", "decide"]  # appended, nothing rewritten
    assert store.redo_last("dr a") is None  # nothing more to redo


def test_redo_follows_the_undo_stack_and_a_fresh_decision_ends_it(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.8, 0.7])
    a, b, c = fake_id(0), fake_id(1), fake_id(2)
    store.record_decision(a, "r", "fracture")
    store.record_decision(b, "r", "no_fracture")
    store.undo_last("r")  # b
    store.undo_last("r")  # a
    assert store.redo_last("r").image_id == a  # the latest undo first
    assert store.redo_last("r").image_id == b
    assert labels(store) == {a: "fracture", b: "no_fracture"}
    assert store.redo_last("r") is None

    store.undo_last("r")  # b (the redo of b is undone like any decision)
    assert labels(store) == {a: "fracture"}
    store.record_decision(c, "r", "doubt")  # a fresh decision: the undone b can no longer be redone
    assert store.redo_last("r") is None
    assert labels(store) == {a: "fracture", c: "doubt"}


def test_undo_redo_undo_brings_back_the_earlier_label(store, tmp_path):
    fill(store, tmp_path, [0.5])
    i = fake_id(0)
    store.record_decision(i, "r", "fracture")
    store.record_decision(i, "r", "no_fracture")
    assert store.undo_last("r").restored.label == "fracture"
    r = store.redo_last("r")
    assert r.label == "no_fracture" and store.current_labels([i])[i].id == r.id
    assert store.undo_last("r").restored.label == "fracture"  # undoing the redo: back to the earlier label
    assert store.redo_last("r").label == "no_fracture"  # and redoing that undo again
    assert [e.kind for e in store.decision_history(i)] == ["decide", "decide", "undo", "decide", "undo", "decide"]


def test_redo_is_per_reader(store, tmp_path):
    fill(store, tmp_path, [0.5])
    i = fake_id(0)
    store.record_decision(i, "dr a", "fracture")
    store.record_decision(i, "dr b", "no_fracture")
    store.undo_last("dr a")
    assert store.redo_last("dr b") is None  # dr b undid nothing
    assert store.redo_last("nobody") is None
    store.redo_last("dr a")
    assert {r: d.label for r, d in store.labels_by_reader()[i].items()} == {"dr a": "fracture", "dr b": "no_fracture"}


def test_redo_survives_reopening_the_store(store_url, tmp_path):
    s = open_store(store_url, backups_keep=0)
    fill(s, tmp_path, [0.9, 0.8])
    a, b = fake_id(0), fake_id(1)
    s.record_decision(a, "r", "fracture")
    s.record_decision(b, "r", "doubt")
    s.undo_last("r")
    s.undo_last("r")
    s.close()
    s = open_store(store_url, backups_keep=0)  # the app restarted: the undo stack is read from the log
    try:
        assert s.redo_last("r").image_id == a
        s.close()
        s = open_store(store_url, backups_keep=0)
        assert s.redo_last("r").image_id == b
        assert labels(s) == {a: "fracture", b: "doubt"}
        assert s.redo_last("r") is None
    finally:
        s.close()


def test_a_redo_keeps_its_link_to_the_undo_when_copied(store, another_url, tmp_path):
    from core.store.copy import copy_database, decision_digest

    fill(store, tmp_path, [0.5])
    i = fake_id(0)
    store.record_decision(i, "r", "fracture")
    store.undo_last("r")
    store.redo_last("r")
    target = open_store(another_url, backups_keep=0)
    try:
        report = copy_database(store, target)
        assert report.verified, report.problems
        assert decision_digest(store) == decision_digest(target)
        hist = target.decision_history(i)
        assert [e.kind for e in hist] == ["decide", "undo", "decide"]
        assert hist[1].undoes == hist[0].id and hist[2].is_redo and hist[2].undoes == hist[1].id
        assert target.current_labels([i])[i].id == hist[2].id
        target.undo_last("r")  # the copy's stack works on: the redo is undone, then redone again
        assert target.redo_last("r").label == "fracture"
    finally:
        target.close()
