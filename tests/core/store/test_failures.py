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


class _PgError(Exception):
    """Stands in for a psycopg error: what the classification reads is ``sqlstate``."""

    def __init__(self, sqlstate: str, text: str = "server said no") -> None:
        super().__init__(text)
        self.sqlstate = sqlstate


@pytest.mark.parametrize("state", ["40001", "40P01", "55P03", "08006", "57P01", "23505"])
def test_postgres_transient_sqlstates_are_retried(tmp_path, state):
    from sqlalchemy.exc import DBAPIError

    s = open_test_store(tmp_path)
    calls = []

    def flaky(conn):
        calls.append(1)
        if len(calls) == 1:
            raise DBAPIError("UPDATE", {}, _PgError(state))
        return "done"

    assert run_write(s.engine, flaky) == "done" and len(calls) == 2
    s.close()


@pytest.mark.parametrize("state, kind", [("42P01", StoreError.UNAVAILABLE), ("53100", StoreError.DISK_FULL),
                                         ("28P01", StoreError.UNAVAILABLE), ("42501", StoreError.READ_ONLY)])
def test_postgres_other_sqlstates_are_not_retried(tmp_path, state, kind):
    from sqlalchemy.exc import DBAPIError

    s = open_test_store(tmp_path)
    calls = []

    def bad(conn):
        calls.append(1)
        raise DBAPIError("UPDATE", {}, _PgError(state))

    with pytest.raises(StoreError) as info:
        run_write(s.engine, bad)
    assert len(calls) == 1 and info.value.kind == kind
    s.close()


def test_a_real_serialization_failure_is_retried(pg_url):
    """Two transactions at SERIALIZABLE that conflict: the server aborts one with 40001, and
    run_write re-runs it instead of failing."""
    import threading

    from sqlalchemy import text

    s = open_store(pg_url, backups_keep=0)
    with s.engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))
    barrier = threading.Barrier(2)
    attempts = []

    def bump(conn):
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        n = conn.execute(text("SELECT n FROM counter")).scalar()
        attempts.append(1)
        if len(attempts) <= 2:
            barrier.wait(10)  # both have read before either writes
        conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    threads = [threading.Thread(target=run_write, args=(s.engine, bump)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with s.engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar() == 2  # neither update lost
    assert len(attempts) == 3  # one of them was re-run
    s.close()


def test_unreachable_server_is_a_clear_message_without_password(tmp_path):
    url = f"postgresql://clinic:s3cret-pw@/labels?host={tmp_path}&connect_timeout=2"  # no server there
    with pytest.raises(StoreError) as info:
        open_store(url, backups_keep=0)
    msg = str(info.value)
    assert "s3cret" not in msg and "***" in msg
    assert info.value.kind == StoreError.UNAVAILABLE and "cannot be reached" in msg


def test_urls_are_redacted_and_passwords_not_storable():
    from core.store.urls import UrlError, check_storable, redact, server_of

    assert redact("postgresql+psycopg://dr:pw@db.clinic:5432/labels") == "postgresql+psycopg://dr:***@db.clinic:5432/labels"
    assert "pw" not in redact("not a url ://dr:pw@host")
    assert check_storable("postgresql://dr@db.clinic/labels?sslmode=verify-full") .endswith("verify-full")
    assert check_storable("postgresql:///?service=clinic")
    for bad in ("postgresql://dr:pw@db/labels", "postgresql://dr@db/labels?password=pw"):
        with pytest.raises(UrlError) as info:
            check_storable(bad)
        assert ".pgpass" in str(info.value) and "pw" not in str(info.value).replace(".pgpass", "")
    assert server_of("postgresql://dr@db.clinic:5433/labels") == "db.clinic:5433"
    assert server_of("sqlite:///x.db") is None
