"""A damaged, read-only or full database gives a clear StoreError; a damaged file is moved aside
(never overwritten) and a new database can be started; "database is locked" is retried in one place."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from core.store import StoreError, open_store
from core.store.engine import run_write
from tests.core.store.helpers import db_url, fake_id, fill, open_test_store


def test_garbage_file_is_moved_aside_and_a_new_db_can_start(tmp_path):
    db = tmp_path / "labels.db"
    garbage = b"this is not a database at all " * 200
    db.write_bytes(garbage)
    with pytest.raises(StoreError) as info:
        open_store(db_url(tmp_path), backups_keep=0)
    err = info.value
    assert err.kind == StoreError.CORRUPT
    assert err.moved_to is not None and err.moved_to.read_bytes() == garbage
    assert str(err.moved_to) in str(err) and "new" in str(err)
    assert not db.exists()
    s = open_store(db_url(tmp_path), backups_keep=0)  # a new one starts
    s.close()
    # a second damaged file never overwrites the first one moved aside
    db.write_bytes(b"garbage again " * 300)
    os.remove(str(db) + "-wal") if os.path.exists(str(db) + "-wal") else None
    with pytest.raises(StoreError) as info2:
        open_store(db_url(tmp_path), backups_keep=0)
    assert info2.value.moved_to != err.moved_to
    assert err.moved_to.read_bytes() == garbage


def test_damaged_pages_are_detected(tmp_path):
    s = open_test_store(tmp_path)
    fill(s, tmp_path, [i / 300 for i in range(300)])
    s.close()
    db = tmp_path / "labels.db"
    import sqlite3

    c = sqlite3.connect(db)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    raw = bytearray(db.read_bytes())
    assert len(raw) > 8 * 4096
    for off in range(2 * 4096, len(raw) - 4096, 4096):
        raw[off + 10 : off + 400] = os.urandom(390)
    db.write_bytes(bytes(raw))
    with pytest.raises(StoreError) as info:
        open_store(db_url(tmp_path), backups_keep=0)
    assert info.value.kind == StoreError.CORRUPT and info.value.moved_to.exists()


def test_read_only_database(tmp_path):
    open_test_store(tmp_path).close()
    url = f"sqlite:///file:{tmp_path / 'labels.db'}?mode=ro&uri=true"
    with pytest.raises(StoreError) as info:
        s = open_store(url, backups_keep=0)
        fill(s, tmp_path, [0.5])
    assert info.value.kind == StoreError.READ_ONLY
    assert "read-only" in str(info.value)


def test_read_only_file_checked_before_opening(tmp_path, monkeypatch):
    open_test_store(tmp_path).close()
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(StoreError) as info:
        open_store(db_url(tmp_path), backups_keep=0)
    assert info.value.kind == StoreError.READ_ONLY and "read-only" in str(info.value)


def test_disk_full_is_a_clear_message_and_keeps_earlier_data(tmp_path):
    s = open_test_store(tmp_path)
    fill(s, tmp_path, [0.5])
    d = s.record_decision(fake_id(0), "r", "fracture")

    @event.listens_for(s.engine, "connect")
    def _tiny(dbapi_conn, _rec):  # simulate a full disk: the file may not grow
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    s.engine.dispose()
    with pytest.raises(StoreError) as info:
        fill(s, tmp_path, [0.1] * 2000)
    assert info.value.kind == StoreError.DISK_FULL
    assert "full" in str(info.value) and "NOT saved" in str(info.value)
    s.close()
    s2 = open_test_store(tmp_path)
    assert s2.current_labels()[fake_id(0)].id == d.id
    s2.close()


def test_locked_is_retried_then_reported(tmp_path):
    s = open_test_store(tmp_path)
    calls = []

    def flaky(conn):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return "done"

    assert run_write(s.engine, flaky) == "done" and len(calls) == 2

    def always(conn):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    with pytest.raises(StoreError) as info:
        run_write(s.engine, always, attempts=2)
    assert info.value.kind == StoreError.BUSY
    s.close()
