"""Alembic migrations: a new database is created at head, the models match the migrated schema, and the
database of every released schema (fixtures/schema_NNNN.db) is upgraded in place without loss."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from core.store import StoreError, migrate, open_store
from core.store.models import SQLModel
from tests.core.store.helpers import db_url, fake_id, fill, open_test_store

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RELEASED = sorted(FIXTURES.glob("schema_*.db"))


def test_new_database_is_at_head_and_matches_models(store_url):
    s = open_store(store_url, backups_keep=0)
    with s.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == [], diff
    s.close()


def test_a_fixture_exists_for_the_first_release():
    assert FIXTURES / "schema_0001.db" in RELEASED


@pytest.mark.parametrize("fixture", RELEASED, ids=lambda p: p.stem)
def test_released_schema_upgrades_in_place_without_loss(fixture, tmp_path):
    db = tmp_path / "labels.db"
    shutil.copy(fixture, db)
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    s = open_store(db_url(tmp_path), backups_keep=0)
    try:
        with s.engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
        assert "ix_decision_undoes" in {i["name"] for i in inspect(s.engine).get_indexes("decision")}
        cur = s.current_labels()
        assert {k: (v.label, v.reviewer) for k, v in cur.items()} == {a: ("fracture", "dr who"), b: ("doubt", "AB")}
        assert cur[b].replaces == 2 and cur[b].note == "check" and cur[a].probability == 0.91
        assert [d.kind for d in s.decision_history(c)] == ["decide", "undo"]
        rows = {r.image_id: r for r in s.image_rows(Path("/clinic/xr"), "0.1.0")}
        assert set(rows) == {a, b, c} and rows[b].body_part == "WRIST" and rows[b].view == "PA"
        assert {r.image_id: r.probability for r in s.image_rows(model_version="0.2.0")} == {a: 0.88, b: None, c: None}
        assert [e.error for e in s.error_rows()] == ["truncated JPEG"]
        assert s.pseudonym_secret() == bytes.fromhex("5e" * 32)
        assert set(s.paths_of(a)) == {"/clinic/xr/a.jpg", "/clinic/xr/copy/a.jpg"}
        assert s.known_location(Path("/clinic/xr/b.dcm"), 2000, 1700000000000000001, "0.1.0")[1] == 0.42
        # and the upgraded database keeps working
        fill(s, tmp_path, [0.3])
        d = s.record_decision(fake_id(0), "dr who", "no_fracture")
        assert s.undo_last("dr who").undoes == d.id
    finally:
        s.close()
    assert fixture.read_bytes()[:16] == b"SQLite format 3\x00"  # the committed fixture itself is untouched


def test_failed_migration_leaves_database_unchanged(tmp_path, monkeypatch):
    db = tmp_path / "labels.db"
    shutil.copy(FIXTURES / "schema_0001.db", db)
    from alembic import command

    def boom(cfg, rev):
        raise RuntimeError("simulated crash during upgrade")

    monkeypatch.setattr(command, "upgrade", boom)
    with pytest.raises(StoreError) as info:
        open_store(db_url(tmp_path), backups_keep=0)
    assert "left unchanged" in str(info.value)
    monkeypatch.undo()
    s = open_store(db_url(tmp_path), backups_keep=0)
    assert len(s.current_labels()) == 2
    s.close()


def test_database_from_a_newer_app_is_refused_clearly(tmp_path):
    import sqlite3

    open_test_store(tmp_path).close()
    c = sqlite3.connect(tmp_path / "labels.db")
    c.execute("UPDATE alembic_version SET version_num = '9999'")
    c.commit()
    c.close()
    with pytest.raises(StoreError) as info:
        open_store(db_url(tmp_path), backups_keep=0)
    assert "newer version" in str(info.value)


def test_postgres_0002_database_upgrades_with_times_converted(pg_url, pg_server):
    """A PostgreSQL database made by the app before revision 0003 (naive times, written in the
    server's time zone, Europe/Berlin here; int4 mtimes) upgrades in place: times become the right
    UTC instants, mtimes take 64-bit values, every decision gets a uid."""
    from datetime import datetime, timezone

    from sqlalchemy import text

    from core.store.engine import make_engine, migration_connection
    from tests.core.store.make_fixtures import IDS, ROWS_0001

    engine = make_engine(pg_url)
    with migration_connection(engine) as conn:
        migrate.upgrade(conn, "0002")
        for sql in ROWS_0001:
            conn.execute(text(sql.format(**IDS).replace("17000000000000000", "")))  # int4-sized mtimes
    engine.dispose()
    s = open_store(pg_url, backups_keep=0)
    try:
        with s.engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
        hist = s.decision_history("a" * 64)
        # stored as 08:01 Berlin local time (UTC+1 in January) -> 07:01 UTC
        assert hist[0].decided_at == datetime(2025, 1, 3, 7, 1, tzinfo=timezone.utc)
        assert all(d.uid and len(d.uid) == 32 for d in s.all_decisions())
        assert len({d.uid for d in s.all_decisions()}) == 5
        cur = s.current_labels()
        assert {k: v.label for k, v in cur.items()} == {"a" * 64: "fracture", "b" * 64: "doubt"}
        big = 1_733_000_000_123_456_789
        assert s.known_location(Path("/clinic/xr/b.dcm"), 2000, 1, "0.1.0")[1] == 0.42
        from tests.core.store.helpers import item

        it = item(Path("/clinic/xr/new.png"), 5, 0.5)
        it.mtime_ns = big
        s.record_scan_results(Path("/clinic/xr"), [it])
        assert s.known_location(it.path, it.size, big, "m1")[0] == it.image_id
    finally:
        s.close()
