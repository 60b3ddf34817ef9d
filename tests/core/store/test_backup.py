"""Daily backups with SQLite's online backup API: at most one per UTC day, newest N kept, complete."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from core.store import open_store
from core.store.backup import daily_backup, list_backups
from tests.core.store.helpers import db_url, fake_id, fill, open_test_store


def test_open_backs_up_once_a_day_and_keeps_n(tmp_path):
    backups = tmp_path / "backups"
    s = open_store(db_url(tmp_path), backups_keep=3, backup_dir=backups)
    fill(s, tmp_path, [0.5, 0.6])
    s.record_decision(fake_id(1), "r", "fracture")
    s.close()
    first = list_backups(tmp_path / "labels.db", backups)
    assert len(first) == 1  # taken at the first open
    open_store(db_url(tmp_path), backups_keep=3, backup_dir=backups).close()
    assert list_backups(tmp_path / "labels.db", backups) == first  # same day: no second backup

    day = datetime.now(timezone.utc)
    for n in range(1, 6):
        daily_backup(tmp_path / "labels.db", backups, 3, now=day + timedelta(days=n))
    kept = list_backups(tmp_path / "labels.db", backups)
    assert len(kept) == 3 and first[0] not in kept
    c = sqlite3.connect(kept[-1])  # a complete, consistent database with the decision
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert c.execute("SELECT label FROM decision").fetchall() == [("fracture",)]
    c.close()
    assert not [p for p in backups.iterdir() if p.name.endswith(".partial")]


def test_backups_of_two_databases_stay_apart(tmp_path):
    backups = tmp_path / "backups"
    (tmp_path / "x").mkdir()
    open_store(db_url(tmp_path), backups_keep=1, backup_dir=backups).close()
    open_store(db_url(tmp_path / "x"), backups_keep=1, backup_dir=backups).close()
    assert len(list_backups(tmp_path / "labels.db", backups)) == 1
    assert len(list_backups(tmp_path / "x" / "labels.db", backups)) == 1


def test_zero_keep_disables_backups(tmp_path):
    open_test_store(tmp_path).close()
    assert list_backups(tmp_path / "labels.db", tmp_path / "backups") == []
