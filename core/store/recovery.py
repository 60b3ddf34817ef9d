"""Getting a clinic's decisions back after a damage: list the automatic backups, restore one, or
salvage what can still be read from a damaged file. Used by ``fracture-triage db`` and by the app's
damaged-database dialog. SQLite only (a server database has its own backups).

* ``backups_of(db_path)``: this database's backups (newest first), each with its time, size and how
  many decisions it holds (read from the backup itself; an unreadable backup says so).
* ``restore(db_path, backup)``: the backup is checked (SQLite ``quick_check`` and the schema), the
  current database file (with its ``-wal``/``-shm``) is moved aside to ``<name>.before-restore-<UTC
  time>`` — never overwritten, never deleted — and the backup is copied into place with SQLite's
  backup API, then migrated to the newest schema. Refused while another program holds the database.
* ``salvage(damaged, to)``: reads every row of every table that SQLite can still read from a copy of
  the damaged file (rowid ranges, narrowed down row by row around damaged pages), writes them into a
  NEW database at ``to`` (which must not exist) and reports per table what was read and what could
  not be. Decisions and predictions whose image or reviewer row was lost keep their image id; a
  placeholder image / reviewer row is made for them (counted). The damaged file is never written.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from core.store.errors import StoreError

# tables in the order their rows can be inserted (parents first)
TABLES = ("meta", "image", "reviewer", "location", "scan_error", "prediction", "decision", "model_event")
OPTIONAL = {"model_event"}  # added by revision 0006: a database from before it simply has none
_CHUNK = 512
_MAX_SPAN = 20_000_000  # a rowid range larger than this means a damaged max(rowid): scan instead


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    taken_at: Optional[datetime]
    size: int
    decisions: Optional[int]  # None: the backup cannot be read
    images: Optional[int]
    problem: str = ""


@dataclass
class TableSalvage:
    read: int = 0
    unreadable: int = 0  # rows (or rowid ranges counted per row) SQLite refused to read
    note: str = ""


@dataclass
class SalvageReport:
    source: Path
    target: Path
    tables: dict[str, TableSalvage] = field(default_factory=dict)
    placeholder_images: int = 0
    placeholder_reviewers: int = 0
    links_cleared: int = 0  # replaces/undoes pointing at a decision that was lost
    schema_damaged: bool = False

    @property
    def decisions(self) -> int:
        return self.tables.get("decision", TableSalvage()).read

    @property
    def predictions(self) -> int:
        return self.tables.get("prediction", TableSalvage()).read

    @property
    def unreadable(self) -> int:
        return sum(t.unreadable for t in self.tables.values())


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _sidecars(path: Path) -> list[Path]:
    return [Path(str(path) + s) for s in ("-wal", "-shm")]


def _taken_at(path: Path) -> Optional[datetime]:
    stem = path.stem
    for part in reversed(stem.split("-")):
        try:
            return datetime.strptime(part, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def _count(path: Path) -> tuple[Optional[int], Optional[int], str]:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                return None, None, "damaged"
            d = conn.execute("SELECT count(*) FROM decision WHERE kind = 'decide'").fetchone()[0]
            i = conn.execute("SELECT count(*) FROM image").fetchone()[0]
            return int(d), int(i), ""
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return None, None, f"cannot be read ({exc})"


def backups_of(db_path: Path, backup_dir: Optional[Path] = None) -> list[BackupInfo]:
    """The automatic backups of ``db_path`` (newest first), described."""
    from core.paths import app_dirs
    from core.store.backup import list_backups

    folder = backup_dir or app_dirs().backups
    out = []
    for p in reversed(list_backups(Path(db_path), folder)):
        decisions, images, problem = _count(p)
        out.append(BackupInfo(p, _taken_at(p), p.stat().st_size, decisions, images, problem))
    return out


def _refuse_if_held(db_path: Path) -> None:
    """StoreError BUSY when another program has the database open for writing right now."""
    if not db_path.exists():
        return
    try:
        conn = sqlite3.connect(str(db_path), timeout=1.0, isolation_level=None)
    except sqlite3.DatabaseError:
        return  # a damaged file: nothing can hold it usefully
    try:
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            from core.store.errors import busy_error

            raise busy_error(str(db_path)) from None
    except sqlite3.DatabaseError:
        pass
    finally:
        conn.close()


def move_aside(path: Path, why: str) -> Optional[Path]:
    """Rename ``path`` (and its -wal/-shm) to ``<name>.<why>-<UTC time>``; never overwrites. None
    when there is nothing to move."""
    if not path.exists():
        for side in _sidecars(path):
            if side.exists():
                side.unlink()  # a -wal/-shm without its database belongs to nothing
        return None
    stamp = _stamp()
    target = path.with_name(f"{path.name}.{why}-{stamp}")
    n = 1
    while any(Path(str(target) + s).exists() for s in ("", "-wal", "-shm")):
        target = path.with_name(f"{path.name}.{why}-{stamp}-{n}")
        n += 1
    os.rename(path, target)
    for side in _sidecars(path):
        if side.exists():
            os.rename(side, Path(str(target) + side.name[len(path.name):]))
    return target


def check_backup(backup: Path) -> None:
    if not backup.is_file():
        raise StoreError(f"There is no backup file {backup}.", StoreError.UNAVAILABLE)
    decisions, _images, problem = _count(backup)
    if decisions is None:
        raise StoreError(f"The backup {backup} {problem or 'cannot be read'}; choose another one.",
                         StoreError.CORRUPT)


def _copy_sqlite(src: Path, dst: Path) -> None:
    """A consistent copy with SQLite's backup API, written under a temporary name, fsynced, renamed."""
    tmp = dst.with_name("." + dst.name + ".partial")
    if tmp.exists():
        tmp.unlink()
    s = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=10)
    try:
        d = sqlite3.connect(str(tmp))
        try:
            s.backup(d)
            d.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            d.close()
    finally:
        s.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dst)


def restore(db_path: Path, backup: Path) -> Optional[Path]:
    """Put ``backup`` in place of ``db_path``; returns where the previous file was moved (None when
    there was none). The caller must not hold the database open."""
    db_path, backup = Path(db_path), Path(backup)
    check_backup(backup)
    if db_path.exists() and backup.resolve() == db_path.resolve():
        raise StoreError("That backup is the database itself.", StoreError.UNAVAILABLE)
    _refuse_if_held(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    staged = db_path.with_name("." + db_path.name + ".restoring")
    _copy_sqlite(backup, staged)  # before anything moves: a failed copy leaves the database as it was
    moved = move_aside(db_path, "before-restore")
    os.replace(staged, db_path)
    from core.store.opening import open_store

    open_store("sqlite:///" + str(db_path), backups_keep=0).close()  # migrate to the newest schema
    return moved


# ----------------------------------------------------------------------------------------- salvage
def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")').fetchall()]


def _read_range(conn, table: str, cols: list[str], lo: int, hi: int, out: list, stats: TableSalvage) -> None:
    q = f'SELECT {", ".join(f"{chr(34)}{c}{chr(34)}" for c in cols)} FROM "{table}" WHERE rowid BETWEEN ? AND ?'
    try:
        rows = conn.execute(q, (lo, hi)).fetchall()
    except sqlite3.DatabaseError:
        if lo == hi:
            stats.unreadable += 1
            return
        mid = (lo + hi) // 2
        _read_range(conn, table, cols, lo, mid, out, stats)
        _read_range(conn, table, cols, mid + 1, hi, out, stats)
        return
    out.extend(rows)


def _read_table(conn, table: str, cols: list[str], stats: TableSalvage) -> list[tuple]:
    out: list[tuple] = []
    try:
        lo, hi = conn.execute(f'SELECT min(rowid), max(rowid) FROM "{table}"').fetchone()
    except sqlite3.DatabaseError:
        lo = hi = None
    if lo is not None and hi is not None and hi - lo <= _MAX_SPAN:
        for start in range(int(lo), int(hi) + 1, _CHUNK):
            _read_range(conn, table, cols, start, min(start + _CHUNK - 1, int(hi)), out, stats)
        return out
    # the table's b-tree cannot even give its rowid range: read in order until it breaks
    q = f'SELECT {", ".join(f"{chr(34)}{c}{chr(34)}" for c in cols)} FROM "{table}"'
    try:
        for row in conn.execute(q):
            out.append(row)
    except sqlite3.DatabaseError as exc:
        stats.note = f"reading stopped at a damaged page ({exc}); the rest of this table is lost"
        stats.unreadable += 1
    return out


def salvage(damaged: Path, to: Path) -> SalvageReport:
    """Copy every readable row of ``damaged`` into a new database at ``to`` (see the module docstring)."""
    damaged, to = Path(damaged), Path(to)
    if not damaged.is_file():
        raise StoreError(f"There is no file {damaged} to salvage from.", StoreError.UNAVAILABLE)
    if to.exists():
        raise StoreError(f"{to} already exists; give a new file name (nothing is ever overwritten).",
                         StoreError.UNAVAILABLE)
    report = SalvageReport(damaged, to)
    with tempfile.TemporaryDirectory(prefix="ft-salvage-") as tmp:
        copy = Path(tmp) / "damaged.sqlite3"
        shutil.copyfile(damaged, copy)  # never open (or let SQLite recover into) the original
        for side in _sidecars(damaged):
            if side.exists() and side.name.endswith("-wal"):
                shutil.copyfile(side, Path(str(copy) + "-wal"))
        try:
            src = sqlite3.connect(str(copy), isolation_level=None)
            src.execute("PRAGMA writable_schema = OFF")
            present = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"Nothing can be read from {damaged}: even its list of tables is damaged ({exc}).",
                             StoreError.CORRUPT) from None
        rows: dict[str, tuple[list[str], list[tuple]]] = {}
        try:
            for table in TABLES:
                stats = report.tables.setdefault(table, TableSalvage())
                if table not in present and table in OPTIONAL:
                    stats.note = "not in this database (made before this table existed)"
                    continue
                if table not in present:
                    stats.note = "table missing from the damaged file"
                    report.schema_damaged = True
                    continue
                cols = _columns(src, table)
                rows[table] = (cols, _read_table(src, table, cols, stats))
                stats.read = len(rows[table][1])
        finally:
            src.close()
    _write_salvage(to, rows, report)
    return report


def _write_salvage(to: Path, rows: dict[str, tuple[list[str], list[tuple]]], report: SalvageReport) -> None:
    from core.store.opening import open_store

    to.parent.mkdir(parents=True, exist_ok=True)
    open_store("sqlite:///" + str(to), backups_keep=0, check=False).close()  # the newest schema, empty
    dst = sqlite3.connect(str(to), isolation_level=None)
    try:
        dst.execute("PRAGMA foreign_keys = OFF")
        dst.execute("BEGIN")
        for table in TABLES:
            if table not in rows:
                continue
            cols, data = rows[table]
            keep = [c for c in _columns(dst, table) if c in cols]
            idx = [cols.index(c) for c in keep]
            q = f'INSERT OR IGNORE INTO "{table}" ({", ".join(keep)}) VALUES ({", ".join("?" * len(keep))})'
            dst.executemany(q, ([r[i] for i in idx] for r in data))
        now = datetime.now(timezone.utc).isoformat(sep=" ")
        # rows whose parent was lost: keep them, with a placeholder parent
        lost_images = [r[0] for r in dst.execute(
            "SELECT DISTINCT image_id FROM (SELECT image_id FROM decision UNION SELECT image_id FROM prediction "
            "UNION SELECT image_id FROM location) WHERE image_id NOT IN (SELECT id FROM image)")]
        for image_id in lost_images:
            dst.execute("INSERT INTO image (id, size, notes, first_seen) VALUES (?, 0, ?, ?)",
                        (image_id, "image details lost in a damaged database (salvaged)", now))
        report.placeholder_images = len(lost_images)
        lost_reviewers = [r[0] for r in dst.execute(
            "SELECT DISTINCT reviewer_id FROM decision WHERE reviewer_id NOT IN (SELECT id FROM reviewer)")]
        for rid in lost_reviewers:
            dst.execute("INSERT INTO reviewer (id, name, created_at) VALUES (?, ?, ?)",
                        (rid, f"reviewer #{rid} (name lost in a damaged database)", now))
        report.placeholder_reviewers = len(lost_reviewers)
        cleared = 0
        for col in ("replaces_id", "undoes_id"):
            cleared += dst.execute(f"UPDATE decision SET {col} = NULL WHERE {col} IS NOT NULL AND {col} NOT IN "
                                   "(SELECT id FROM decision)").rowcount
        report.links_cleared = cleared
        # events from a file older than revision 0003 have no uid: give them one (db copy needs it)
        dst.execute("UPDATE decision SET uid = lower(hex(randomblob(16))) WHERE uid IS NULL")
        dst.execute("COMMIT")
        problems = dst.execute("PRAGMA foreign_key_check").fetchall()
        if problems:  # cannot happen after the placeholders above; never leave a half-consistent file silently
            report.tables.setdefault("decision", TableSalvage()).note += f" ({len(problems)} links still dangling)"
    finally:
        dst.close()
