"""Study decisions in the store, on SQLite and PostgreSQL: one transaction with an event per view
(study key, unit, study score, shared batch), undone as a whole; per-view decisions keep their unit;
revision 0007 upgrades a 0006 database with its decisions intact."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.store import StoreError, migrate, open_store
from tests.core.store.helpers import fake_id, fill


def test_study_decision_is_one_event_per_view(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.2, 0.4])
    views = [(fake_id(0), "m1", 0.9), (fake_id(1), "m1", 0.2)]
    done = store.record_study_decision(views, "dr s", "fracture", study="abc123abc123", study_score=0.9,
                                       reading_mode="aided", shown_ms=1200)
    assert [d.image_id for d in done] == [fake_id(0), fake_id(1)]
    assert {(d.unit, d.study, d.study_score, d.label, d.reviewer) for d in done} == {
        ("study", "abc123abc123", 0.9, "fracture", "dr s")}
    assert [d.probability for d in done] == [0.9, 0.2] and len({d.batch for d in done}) == 1 and done[0].batch
    assert len({d.uid for d in done}) == 2
    cur = store.current_labels()
    assert set(cur) == {fake_id(0), fake_id(1)} and cur[fake_id(1)].unit == "study"
    # a later per-view decision replaces one view's label only
    v = store.record_decision(fake_id(1), "dr s", "no_fracture", study="abc123abc123", unit="view", study_score=0.9,
                              probability=0.2, model_version="m1")
    assert v.unit == "view" and v.batch is None and v.replaces == done[1].id
    # undo: the view decision first, then the whole study decision at once
    u1 = store.undo_last("dr s")
    assert u1.undoes == v.id and u1.group == ()
    u2 = store.undo_last("dr s")
    assert {u2.undoes, *(g.undoes for g in u2.group)} == {done[0].id, done[1].id}
    assert all(x.restored is None for x in (u2, *u2.group)) and u2.batch == done[0].batch
    assert store.current_labels() == {}
    assert store.undo_last("dr s") is None


def test_a_study_decision_is_all_or_nothing(store, tmp_path):
    fill(store, tmp_path, [0.9])
    with pytest.raises(StoreError, match="not in the database"):
        store.record_study_decision([(fake_id(0), "m1", 0.9), (fake_id(99), "m1", 0.5)], "dr s", "doubt",
                                    study="k" * 12)
    assert store.current_labels() == {}  # the first view's event was rolled back with the second
    with pytest.raises(ValueError, match="at least one view"):
        store.record_study_decision([], "dr s", "doubt", study="k")
    with pytest.raises(ValueError, match="unit"):
        store.record_decision(fake_id(0), "dr s", "doubt", unit="series")


def test_0006_database_upgrades_to_0007_with_decisions_kept(store_url, tmp_path):
    from core.store.engine import make_engine, migration_connection

    engine = make_engine(store_url)
    with migration_connection(engine) as conn:
        migrate.upgrade(conn, "0006")
        conn.execute(text("INSERT INTO image (id, size, first_seen) VALUES (:i, 5, '2025-01-02 03:04:05')"),
                     {"i": "a" * 64})
        conn.execute(text("INSERT INTO reviewer (name, created_at, role) VALUES ('dr o', '2025-01-02 03:04:05', 'reader')"))
        conn.execute(text("INSERT INTO decision (image_id, reviewer_id, kind, label, created_at, uid) VALUES "
                          "(:i, 1, 'decide', 'fracture', '2025-01-02 03:04:06', :u)"), {"i": "a" * 64, "u": "0" * 32})
    engine.dispose()
    s = open_store(store_url, backups_keep=0)
    try:
        with s.engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
        d = s.current_labels()["a" * 64]
        assert (d.label, d.reviewer, d.study, d.unit, d.batch) == ("fracture", "dr o", None, None, None)
        assert s.undo_last("dr o").group == ()
    finally:
        s.close()


def test_redo_of_a_study_decision_redoes_every_view_and_undo_takes_them_back_together(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.2, 0.4])
    views = [(fake_id(0), "m1", 0.9), (fake_id(1), "m1", 0.2), (fake_id(2), "m1", 0.4)]
    done = store.record_study_decision(views, "dr s", "fracture", study="abc123abc123", study_score=0.9,
                                       reading_mode="blinded", shown_ms=800)
    undo = store.undo_last("dr s")
    assert len(undo.group) == 2 and store.current_labels() == {}
    redo = store.redo_last("dr s")
    redone = (redo, *redo.group)
    assert sorted(d.image_id for d in redone) == sorted(v[0] for v in views)
    assert all(d.is_redo and d.label == "fracture" and d.unit == "study" and d.study == "abc123abc123"
               and d.study_score == 0.9 and d.reading_mode == "blinded" and d.batch == done[0].batch for d in redone)
    assert {d.undoes for d in redone} == {undo.id, *(g.id for g in undo.group)}
    assert {k: v.label for k, v in store.current_labels().items()} == dict.fromkeys((v[0] for v in views), "fracture")
    assert store.redo_last("dr s") is None  # nothing more to redo: one redo redid the whole study
    # undo again: the redone views go back together, and can be redone once more
    again = store.undo_last("dr s")
    assert {again.undoes, *(g.undoes for g in again.group)} == {d.id for d in redone}
    assert store.current_labels() == {}
    assert len((lambda r: (r, *r.group))(store.redo_last("dr s"))) == 3


def test_redo_after_a_per_view_undo_redoes_that_view_only(store, tmp_path):
    fill(store, tmp_path, [0.9, 0.2])
    store.record_study_decision([(fake_id(0), "m1", 0.9), (fake_id(1), "m1", 0.2)], "dr s", "no_fracture",
                                study="k" * 12, study_score=0.9)
    v = store.record_decision(fake_id(1), "dr s", "fracture", study="k" * 12, unit="view", study_score=0.9)
    store.undo_last("dr s")
    redo = store.redo_last("dr s")
    assert redo.group == () and redo.image_id == fake_id(1) and redo.unit == "view" and redo.undoes != v.id
    assert {k: d.label for k, d in store.current_labels().items()} == {fake_id(0): "no_fracture", fake_id(1): "fracture"}


@pytest.mark.parametrize("revision", ["0001", "0002", "0003", "0004", "0005", "0006"])
def test_every_earlier_revision_upgrades_to_head_and_takes_study_decisions(store_url, tmp_path, revision):
    from core.store.engine import make_engine, migration_connection
    from tests.core.store.make_fixtures import IDS, ROWS_0001

    engine = make_engine(store_url)
    with migration_connection(engine) as conn:
        migrate.upgrade(conn, "0001")
        for sql in ROWS_0001:
            conn.execute(text(sql.format(**IDS).replace("17000000000000000", "")))  # int4-sized mtimes before 0003
        migrate.upgrade(conn, revision)
    engine.dispose()
    s = open_store(store_url, backups_keep=0)
    try:
        with s.engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
        assert {k: v.label for k, v in s.current_labels().items()} == {IDS["a"]: "fracture", IDS["b"]: "doubt"}
        done = s.record_study_decision([(IDS["a"], "0.1.0", 0.91), (IDS["c"], "0.1.0", 0.1)], "dr who", "no_fracture",
                                       study="s" * 12, study_score=0.91)
        assert {d.unit for d in done} == {"study"}
        undo = s.undo_last("dr who")
        assert len(undo.group) == 1
        assert len(s.redo_last("dr who").group) == 1
    finally:
        s.close()
