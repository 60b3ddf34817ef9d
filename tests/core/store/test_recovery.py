"""Recovery after a damage: `db backups` lists, `db restore` puts a backup in place (the current file
moved aside, never overwritten), `db salvage` rescues every readable decision and prediction from a
damaged file into a new database and reports what could not be read."""

from __future__ import annotations

import os
import sqlite3

import pytest

from core.cli import main
from core.store import StoreError, open_store
from core.store import recovery
from core.store.backup import backup_now
from tests.core.store.helpers import db_url, fake_id, fill


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FRACTURE_TRIAGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FRACTURE_TRIAGE_DB", raising=False)
    return tmp_path / "home"


def _store_with(tmp_path, n_images: int, n_decisions: int):
    s = open_store(db_url(tmp_path), backups_keep=0)
    fill(s, tmp_path, [i / max(1, n_images) for i in range(n_images)])
    for i in range(n_decisions):
        s.record_decision(fake_id(i), "dr a", "fracture" if i % 2 else "no_fracture")
    return s


def test_backups_listed_and_restored_current_moved_aside(tmp_path, home, capsys):
    db = tmp_path / "labels.db"
    s = _store_with(tmp_path, 10, 4)
    s.close()
    backup = backup_now(db, home / "data" / "backups")
    s = open_store(db_url(tmp_path), backups_keep=0)
    for i in range(4, 8):
        s.record_decision(fake_id(i), "dr b", "doubt")
    s.close()
    before = db.read_bytes()
    assert main(["db", "--db", db_url(tmp_path), "backups"]) == 0
    out = capsys.readouterr().out
    assert "1. " in out and "4 decisions, 10 images" in out and backup.name in out
    assert main(["db", "--db", db_url(tmp_path), "restore", "1"]) == 0
    out = capsys.readouterr().out
    assert "Restored" in out and "moved to" in out
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("labels.db.before-restore-")]
    assert len(moved) == 1 and moved[0].read_bytes() == before  # kept byte for byte
    s = open_store(db_url(tmp_path), backups_keep=0)
    assert len(s.current_labels()) == 4  # the backup's state
    s.close()


def test_restore_refuses_a_damaged_backup_and_a_held_database(tmp_path, home):
    db = tmp_path / "labels.db"
    _store_with(tmp_path, 3, 1).close()
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError):
        recovery.restore(db, bad)
    good = backup_now(db, home / "data" / "backups")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError) as info:
            recovery.restore(db, good)
        assert info.value.kind == StoreError.BUSY
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not any(p.name.startswith("labels.db.before-restore-") for p in tmp_path.iterdir())


def _damage(path, pages: range, page_size: int = 4096) -> None:
    raw = bytearray(path.read_bytes())
    for p in pages:
        off = p * page_size
        if off + 200 < len(raw):
            raw[off + 8: off + 200] = os.urandom(192)
    path.write_bytes(bytes(raw))


def test_salvage_reads_what_it_can_and_reports_the_rest(tmp_path, home, capsys):
    db = tmp_path / "labels.db"
    s = _store_with(tmp_path, 400, 300)
    s.close()
    c = sqlite3.connect(db)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n_pages = c.execute("PRAGMA page_count").fetchone()[0]
    c.close()
    _damage(db, range(n_pages // 2, n_pages // 2 + 3))
    damaged_bytes = db.read_bytes()
    new = tmp_path / "rescued.sqlite3"
    assert main(["db", "salvage", str(db), "--to", str(new)]) == 0
    out = capsys.readouterr().out
    assert "decisions:" in out and "predictions:" in out
    assert db.read_bytes() == damaged_bytes  # the damaged file is never written
    report_line = [line for line in out.splitlines() if "decisions:" in line][0]
    read = int(report_line.split()[1])
    assert 0 < read <= 300
    s = open_store(f"sqlite:///{new}", backups_keep=0)
    try:
        labels = s.current_labels()
        assert len(labels) >= 1 and all(d.reviewer for d in labels.values())
    finally:
        s.close()
    with pytest.raises(SystemExit) if False else pytest.raises(Exception):
        recovery.salvage(db, new)  # never overwrites


def test_salvage_of_an_intact_file_loses_nothing(tmp_path, home):
    db = tmp_path / "labels.db"
    s = _store_with(tmp_path, 50, 20)
    want = {k: (v.label, v.reviewer) for k, v in s.current_labels().items()}
    s.close()
    report = recovery.salvage(db, tmp_path / "copy.sqlite3")
    assert report.unreadable == 0 and report.decisions == 20 and report.predictions == 50
    s = open_store(f"sqlite:///{tmp_path / 'copy.sqlite3'}", backups_keep=0)
    try:
        assert {k: (v.label, v.reviewer) for k, v in s.current_labels().items()} == want
    finally:
        s.close()


def test_damaged_message_points_at_the_recovery_commands(tmp_path, home):
    db = tmp_path / "labels.db"
    db.write_bytes(b"garbage " * 1000)
    with pytest.raises(StoreError) as info:
        open_store(db_url(tmp_path), backups_keep=0)
    text = str(info.value)
    assert "fracture-triage db backups" in text and "db restore" in text and "db salvage" in text
