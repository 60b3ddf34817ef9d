"""``db copy``: SQLite -> PostgreSQL and back, idempotent, verified by counts and a checksum of the
decisions; nothing lost, nothing duplicated, times and links intact."""

from __future__ import annotations

import json

import pytest

from core.cli import main
from core.store import open_store
from core.store.copy import copy_database, decision_digest
from tests.core.store.helpers import db_url, error_item, fake_id, fill, item


def _populate(url: str, root, n: int = 30) -> None:
    s = open_store(url, backups_keep=0)
    fill(s, root, [i / n for i in range(n)])
    s.record_scan_results(root, [item(root / "copy" / "img0000.png", 0, None, status="duplicate"),
                                 error_item(root / "bad.jpg")])
    s.record_scan_results(root, [item(root / f"img{i:04d}.png", i, 0.5, model="m2") for i in range(5)])
    for i in range(n):
        s.record_decision(fake_id(i), "dr a", ("fracture", "no_fracture", "doubt")[i % 3], note=f"n{i}" if i % 5 == 0 else None,
                          model_version="m1", probability=i / n)
        if i % 4 == 0:
            s.record_decision(fake_id(i), "dr b", "doubt")
    s.undo_last("dr a")
    s.undo_last("dr b")
    s.pseudonym_secret()  # made on first use (an export)
    s.close()


def test_sqlite_to_postgres_and_back(tmp_path, pg_url):
    src = db_url(tmp_path, "workstation.db")
    _populate(src, tmp_path)
    a, b = open_store(src, backups_keep=0), open_store(pg_url, backups_keep=0)
    try:
        first = copy_database(a, b)
        assert first.verified, first.problems
        assert first.tables["decision"].copied == first.tables["decision"].source == 30 + 8 + 2
        assert first.tables["image"].copied == 30 and first.tables["location"].copied == 31
        assert first.secret == "copied"
        again = copy_database(a, b)  # idempotent: nothing new
        assert again.verified and all(c.copied == 0 for c in again.tables.values())
        assert decision_digest(a) == decision_digest(b)
        assert {k: (v.label, v.reviewer, v.decided_at) for k, v in a.current_labels().items()} == \
            {k: (v.label, v.reviewer, v.decided_at) for k, v in b.current_labels().items()}
        assert [(r.image_id, r.path, r.probability) for r in a.image_rows(tmp_path, "m1")] == \
            [(r.image_id, r.path, r.probability) for r in b.image_rows(tmp_path, "m1")]
        assert b.error_rows(tmp_path)[0].error == "truncated JPEG"
        assert a.pseudonym_secret() == b.pseudonym_secret()
        hist = b.decision_history(fake_id(28))  # dr a, dr b, then dr b's undo
        assert [d.kind for d in hist] == ["decide", "decide", "undo"] and hist[2].undoes == hist[1].id
    finally:
        a.close()
        b.close()
    back = db_url(tmp_path, "back.db")  # and back into a new SQLite file, through the CLI
    assert main(["db", "copy", "--from", pg_url, "--to", back]) == 0
    c, a = open_store(back, backups_keep=0), open_store(src, backups_keep=0)
    try:
        assert decision_digest(c) == decision_digest(a)
    finally:
        a.close()
        c.close()


def test_copy_merges_two_workstations_and_reports_json(tmp_path, capsys):
    one, two, shared = (db_url(tmp_path, f"{n}.db") for n in ("one", "two", "shared"))
    _populate(one, tmp_path / "x", 10)
    _populate(two, tmp_path / "y", 6)
    assert main(["db", "copy", "--from", one, "--to", shared, "--json"]) == 0
    capsys.readouterr()
    assert main(["db", "copy", "--from", two, "--to", shared, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] and report["tables"]["decision"]["copied"] == 6 + 2 + 2
    assert report["pseudonym_secret"].startswith("target kept its own")
    s = open_store(shared, backups_keep=0)
    try:
        assert len(s.all_decisions()) == (10 + 3 + 2) + (6 + 2 + 2)
        assert len({d.uid for d in s.all_decisions()}) == len(s.all_decisions())
    finally:
        s.close()


def test_copy_detects_a_tampered_target(tmp_path, monkeypatch):
    src, dst = db_url(tmp_path, "a.db"), db_url(tmp_path, "b.db")
    _populate(src, tmp_path, 6)
    a, b = open_store(src, backups_keep=0), open_store(dst, backups_keep=0)
    try:
        assert copy_database(a, b).verified
        with b.engine.begin() as conn:  # someone edits a copied decision in the target
            conn.exec_driver_sql("UPDATE decision SET label = 'fracture' WHERE label = 'doubt'")
        report = copy_database(a, b)
        assert not report.verified and "checksum" in report.problems[0]
    finally:
        a.close()
        b.close()


def test_copy_refuses_same_database(tmp_path, capsys):
    url = db_url(tmp_path)
    assert main(["db", "copy", "--from", url, "--to", url]) == 2
    assert "same database" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["nonsense", "postgresql://x@/y?host=/nonexistent-socket-dir&connect_timeout=1"])
def test_copy_with_an_unusable_target_is_a_clear_error(tmp_path, bad, capsys):
    src = db_url(tmp_path)
    _populate(src, tmp_path, 3)
    assert main(["db", "copy", "--from", src, "--to", bad]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_events_without_uid_get_one_before_copying(tmp_path, store_url):
    src = db_url(tmp_path, "hand.db")
    _populate(src, tmp_path, 4)
    a = open_store(src, backups_keep=0)
    with a.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE decision SET uid = NULL WHERE id <= 2")
    b = open_store(store_url, backups_keep=0)
    try:
        first = copy_database(a, b)
        assert first.verified and first.tables["decision"].copied == first.tables["decision"].source
        assert copy_database(a, b).tables["decision"].copied == 0
    finally:
        a.close()
        b.close()
