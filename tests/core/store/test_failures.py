"""A damaged, read-only or full database gives a clear StoreError; a damaged file is moved aside
(never overwritten) and a new database can be started; "database is locked" is retried in one place."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from core.store import StoreError, open_store
from core.store.engine import run_write
from tests.core.store.helpers import (db_url, fake_id, fill, fill_disk, mount_small_disk, open_test_store,
                                    remount_read_only)


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


def _plain_words(err: StoreError) -> None:
    text = str(err)
    assert "http" not in text and "sqlalche.me" not in text and "sqlite3." not in text
    assert "Background on this error" not in text and "[SQL" not in text


def test_full_disk_gives_disk_io_error_in_plain_words_with_free_space(tmp_path):
    """A database on a disk with no space left: SQLite says 'disk I/O error' (not 'disk is full') on
    open and on every write; the message says the disk is full and how much is free."""
    disk = tmp_path / "disk"
    unmount = mount_small_disk(disk, "1m")
    if unmount is None:
        pytest.skip("cannot mount a small tmpfs here (needs root, as in CI)")
    try:
        s = open_test_store(disk)
        fill(s, disk, [0.5] * 10)
        s.close()
        fill_disk(disk)
        with pytest.raises(StoreError) as info:
            s = open_test_store(disk)
            fill(s, disk, [0.1] * 50)
        err = info.value
        assert err.kind == StoreError.DISK_FULL, str(err)
        assert "is full" in str(err) and "MB free" in str(err) and "NOT saved" in str(err)
        _plain_words(err)
    finally:
        unmount()


def test_disk_io_error_is_full_disk_only_when_space_is_short(tmp_path, monkeypatch):
    import sqlite3

    from core.store import errors

    exc = OperationalError("INSERT INTO x VALUES (?)", {"a": 1}, sqlite3.OperationalError("disk I/O error"))
    assert "sqlalche.me" in str(exc)  # what used to reach the user
    monkeypatch.setattr(errors, "free_bytes", lambda path: 300 * 1024)
    err = errors.classify(exc, str(tmp_path / "labels.db"))
    assert err.kind == StoreError.DISK_FULL and "(0.3 MB free)" in str(err)
    _plain_words(err)
    monkeypatch.setattr(errors, "free_bytes", lambda path: 50 * 2**30)
    err = errors.classify(exc, str(tmp_path / "labels.db"))
    assert err.kind == StoreError.IO_ERROR and "read or write error" in str(err)
    _plain_words(err)


def test_unknown_driver_error_never_carries_a_url(tmp_path):
    import sqlite3

    from core.store import errors

    exc = OperationalError("SELECT 1", {}, sqlite3.OperationalError("something odd happened"))
    err = errors.classify(exc, str(tmp_path / "labels.db"))
    assert "something odd happened" in str(err)
    _plain_words(err)


def test_read_only_media(tmp_path):
    disk = tmp_path / "cd"
    unmount = mount_small_disk(disk, "2m")
    if unmount is None:
        pytest.skip("cannot mount a small tmpfs here (needs root, as in CI)")
    try:
        s = open_test_store(disk)
        fill(s, disk, [0.5] * 3)
        s.close()
        assert remount_read_only(disk)
        with pytest.raises(StoreError) as info:
            s = open_test_store(disk)
            fill(s, disk, [0.1])
        err = info.value
        assert err.kind == StoreError.READ_ONLY and "read-only media" in str(err), str(err)
        _plain_words(err)
    finally:
        unmount()


def test_read_only_media_told_apart_from_permissions(tmp_path, monkeypatch):
    from core.store import errors

    open_test_store(tmp_path).close()

    class _Ro:
        f_flag = os.ST_RDONLY

    monkeypatch.setattr(os, "statvfs", lambda path: _Ro())
    with pytest.raises(StoreError) as info:
        open_store(db_url(tmp_path), backups_keep=0)
    assert info.value.kind == StoreError.READ_ONLY and "read-only media" in str(info.value)
    assert errors.on_read_only_media(tmp_path)


def test_database_held_by_another_program(tmp_path, monkeypatch):
    """Another program keeps the file locked (an exclusive lock, as a database viewer or a stuck
    process does): the message says so in plain words."""
    import sqlite3

    from core.store import engine as engine_mod

    s = open_test_store(tmp_path)
    fill(s, tmp_path, [0.5])
    s.close()
    other = sqlite3.connect(tmp_path / "labels.db", isolation_level=None)
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("CREATE TABLE held (x)")
    monkeypatch.setitem(engine_mod.make_engine.__kwdefaults__, "busy_timeout_s", 0.2)
    try:
        with pytest.raises(StoreError) as info:
            s = open_test_store(tmp_path)
            fill(s, tmp_path, [0.1])
        err = info.value
        assert err.kind == StoreError.BUSY and "held by another program" in str(err), str(err)
        _plain_words(err)
    finally:
        other.rollback() if other.in_transaction else None
        other.close()
