"""Writes the fixture database of each released schema (``fixtures/schema_NNNN.db``), used by
``test_migrations.py`` to prove that an older database is upgraded in place without loss.

Run once per released schema revision and commit the result (never regenerate an old one):
    .venv/bin/python -m tests.core.store.make_fixtures 0001
Rows are written with plain SQL as that revision's schema defines them (not with today's Store code).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from sqlalchemy import text

from core.store import migrate
from core.store.engine import migration_connection, make_engine

FIXTURES = Path(__file__).resolve().parent / "fixtures"

ROWS_0001 = [
    "INSERT INTO image (id, size, width, height, format, notes, study_uid, series_uid, sop_uid, modality, "
    "body_part, view_position, first_seen) VALUES "
    "('{a}', 1000, 2000, 2500, 'JPEG', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2025-01-02 10:00:00.000000'),"
    "('{b}', 2000, 512, 512, 'DICOM', 'first frame of 2', '1.2.3', '1.2.3.4', '1.2.3.4.5', 'DX', 'WRIST', 'PA', "
    "'2025-01-02 10:00:01.000000'),"
    "('{c}', 3000, 640, 480, 'PNG', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2025-01-02 10:00:02.000000')",
    "INSERT INTO location (path, name, image_id, size, mtime_ns, last_seen) VALUES "
    "('/clinic/xr/a.jpg', 'a.jpg', '{a}', 1000, 1700000000000000000, '2025-01-02 10:00:00.000000'),"
    "('/clinic/xr/b.dcm', 'b.dcm', '{b}', 2000, 1700000000000000001, '2025-01-02 10:00:01.000000'),"
    "('/clinic/xr/c.png', 'c.png', '{c}', 3000, 1700000000000000002, '2025-01-02 10:00:02.000000'),"
    "('/clinic/xr/copy/a.jpg', 'a.jpg', '{a}', 1000, 1700000000000000003, '2025-01-02 10:00:03.000000')",
    "INSERT INTO scan_error (path, name, image_id, size, mtime_ns, error, error_kind, seen_at) VALUES "
    "('/clinic/xr/broken.jpg', 'broken.jpg', NULL, 10, 1, 'truncated JPEG', 'truncated', '2025-01-02 10:00:04.000000')",
    "INSERT INTO prediction (image_id, model_version, probability, created_at) VALUES "
    "('{a}', '0.1.0', 0.91, '2025-01-02 10:00:00.000000'), ('{b}', '0.1.0', 0.42, '2025-01-02 10:00:01.000000'),"
    "('{c}', '0.1.0', 0.05, '2025-01-02 10:00:02.000000'), ('{a}', '0.2.0', 0.88, '2025-02-01 09:00:00.000000')",
    "INSERT INTO reviewer (name, created_at) VALUES ('dr who', '2025-01-03 08:00:00.000000'), "
    "('AB', '2025-01-03 08:00:00.000000')",
    "INSERT INTO decision (image_id, reviewer_id, kind, label, note, created_at, model_version, probability, "
    "replaces_id, undoes_id) VALUES "
    "('{a}', 1, 'decide', 'fracture', NULL, '2025-01-03 08:01:00.000000', '0.1.0', 0.91, NULL, NULL),"
    "('{b}', 1, 'decide', 'no_fracture', NULL, '2025-01-03 08:02:00.000000', '0.1.0', 0.42, NULL, NULL),"
    "('{b}', 2, 'decide', 'doubt', 'check', '2025-01-03 08:03:00.000000', '0.1.0', 0.42, 2, NULL),"
    "('{c}', 1, 'decide', 'fracture', NULL, '2025-01-03 08:04:00.000000', '0.1.0', 0.05, NULL, NULL),"
    "('{c}', 1, 'undo', NULL, NULL, '2025-01-03 08:05:00.000000', '0.1.0', 0.05, NULL, 4)",
    "INSERT INTO meta (key, value) VALUES ('export_pseudonym_secret', '{secret}')",
]
IDS = {"a": "a" * 64, "b": "b" * 64, "c": "c" * 64, "secret": "5e" * 32}


def make(revision: str) -> Path:
    if revision != "0001":
        raise SystemExit(f"no fixture recipe for revision {revision}")
    path = FIXTURES / f"schema_{revision}.db"
    if path.exists():
        raise SystemExit(f"{path} exists: released fixtures are never regenerated")
    FIXTURES.mkdir(exist_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    with migration_connection(engine) as conn:
        migrate.upgrade(conn, revision)
        for sql in ROWS_0001:
            conn.execute(text(sql.format(**IDS)))
    engine.dispose()
    c = sqlite3.connect(path)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.execute("PRAGMA journal_mode=DELETE")
    c.execute("VACUUM")
    c.close()
    return path


if __name__ == "__main__":
    print(make(sys.argv[1] if len(sys.argv) > 1 else "0001"))
