"""SQL building blocks that must behave the same on SQLite and PostgreSQL: the stored form of a path
(``path_key``), the case-sensitive "inside this folder" condition (``under``), and single-statement
upserts (``insert_ignore``, ``upsert``) that never race into a unique-key violation.

Why not plain ``LIKE``: SQLite's LIKE ignores ASCII case (opening ``/DATA/XR`` would list
``/data/xr``) while PostgreSQL's does not. SQLite gets ``GLOB`` (case-sensitive, and able to use the
index on ``path``), PostgreSQL gets ``LIKE`` (case-sensitive); both with their wildcards escaped.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath
from typing import Iterable, Optional, Sequence

from sqlalchemy import Table, or_
from sqlalchemy.engine import Connection

# Linux file names may hold bytes that are not UTF-8 (Python keeps them as lone surrogates
# U+DC80..U+DCFF, PEP 383), which SQLite text cannot store. They are stored as the private-use
# characters U+F780..U+F7FF instead — reversible, and prefix matching on folders still works.
_SURROGATE_TO_PUA = {0xDC80 + b: 0xF780 + b for b in range(128)}
_PUA_TO_SURROGATE = {v: k for k, v in _SURROGATE_TO_PUA.items()}
_SURROGATES = re.compile("[\udc80-\udcff]")
_PUAS = re.compile("[\uf780-\uf7ff]")  # str.translate is slow (a dict look-up per character): only when needed


def _to_key(text: str) -> str:
    return text if text.isascii() or not _SURROGATES.search(text) else text.translate(_SURROGATE_TO_PUA)


def path_key(path: Path | str) -> str:
    """How a file system path is stored (absolute; non-UTF-8 bytes escaped, see above)."""
    if isinstance(path, PurePath) and path.is_absolute():  # what the scan hands over: no new Path object
        return _to_key(str(path))
    return _to_key(str(Path(path).absolute()))


def name_key(name: str) -> str:
    return _to_key(name)


def path_from_key(key: str) -> str:
    """The file system path for a stored path (undoes ``path_key``'s escaping of non-UTF-8 bytes)."""
    return key if key.isascii() or not _PUAS.search(key) else key.translate(_PUA_TO_SURROGATE)


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def under(column, root: Optional[Path | str], dialect: str):  # noqa: ANN001
    """SQL condition: ``column`` (a stored path) is ``root`` itself or inside it, case-sensitively."""
    if root is None:
        return None
    base = path_key(root).rstrip("/\\")
    if dialect == "sqlite":
        g = _glob_escape(base)
        return or_(column == base, column.op("GLOB")(g + "/*"), column.op("GLOB")(g + "\\*"))
    p = _like_escape(base)
    return or_(column == base, column.like(p + "/%", escape="\\"), column.like(p + "\\\\%", escape="\\"))


def _insert(conn: Connection, table: Table):
    name = conn.dialect.name  # each dialect's insert imported only when used (start-up, issue 15)
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert(table)
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert

        return insert(table)
    raise NotImplementedError(f"the label store supports SQLite and PostgreSQL, not {name}")


def insert_ignore(conn: Connection, table: Table, values: dict, keys: Sequence[str]) -> bool:
    """INSERT unless a row with the same ``keys`` exists (one statement); True if it inserted."""
    stmt = _insert(conn, table).values(**values).on_conflict_do_nothing(index_elements=list(keys))
    # RETURNING, not rowcount: psycopg reports no row count for an INSERT that returns a generated key
    return conn.execute(stmt.returning(table.c[keys[0]])).first() is not None


def upsert(
    conn: Connection, table: Table, values: dict, keys: Sequence[str], update: Iterable[str], *, newer: str = ""
) -> None:
    """INSERT, or on a conflict over ``keys`` UPDATE the ``update`` columns to the new values (only
    where the stored ``newer`` column is older than the new one, when ``newer`` is given)."""
    stmt = _insert(conn, table).values(**values)
    where = (table.c[newer] < stmt.excluded[newer]) if newer else None
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in update},
                                      where=where)
    conn.execute(stmt)


def insert_ignore_many(conn: Connection, table: Table, rows: list[dict], keys: Sequence[str]) -> None:
    """``insert_ignore`` for many rows: one statement, executed once per row by the driver (executemany).
    Every row has the same keys."""
    if rows:
        conn.execute(_insert(conn, table).on_conflict_do_nothing(index_elements=list(keys)), rows)


def upsert_many(conn: Connection, table: Table, rows: list[dict], keys: Sequence[str], update: Iterable[str]) -> None:
    """``upsert`` for many rows (executemany of one statement); no two rows may share ``keys``."""
    if rows:
        stmt = _insert(conn, table)
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in update})
        conn.execute(stmt, rows)


def chunks(ids: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    """``ids`` in pieces small enough for an IN list on every engine."""
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


__all__ = ["path_key", "name_key", "path_from_key", "under", "insert_ignore", "upsert", "insert_ignore_many", "upsert_many",
           "chunks"]
