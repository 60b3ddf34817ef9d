"""Opening a database costs O(1) when nothing changed: SQLite's whole-file quick_check runs on the
first open of a day and after the file changed (a damage from outside shows), and an up-to-date schema
is confirmed with one query, without importing Alembic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import event

from core.store import opening
from tests.core.store.helpers import db_url, fill, open_test_store

ROOT = Path(__file__).resolve().parents[3]


def _quick_checks(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = opening.make_engine

    def counting(url, **kw):
        engine = real(url, **kw)

        @event.listens_for(engine, "before_cursor_execute")
        def _count(conn, cursor, statement, *args):  # noqa: ANN001
            if "quick_check" in statement:
                seen.append(statement)

        return engine

    monkeypatch.setattr(opening, "make_engine", counting)
    return seen


def test_quick_check_only_when_due(tmp_path, monkeypatch):
    seen = _quick_checks(monkeypatch)
    s = open_test_store(tmp_path)
    fill(s, tmp_path, [0.5] * 5)
    s.close()
    first = len(seen)
    assert first == 1
    open_test_store(tmp_path).close()
    assert len(seen) == first  # unchanged since the check: header only
    db = tmp_path / "labels.db"
    os.utime(db, ns=(db.stat().st_atime_ns, db.stat().st_mtime_ns + 10_000_000))  # touched from outside
    open_test_store(tmp_path).close()
    assert len(seen) == first + 1


def test_up_to_date_schema_does_not_import_alembic(tmp_path):
    open_test_store(tmp_path).close()
    code = ("import sys; from core.store import open_store; "
            f"open_store({db_url(tmp_path)!r}, backups_keep=0).close(); print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_known_head_agrees_with_alembic():
    from core.store import migrate

    assert migrate.known_head() == migrate.head_revision()
