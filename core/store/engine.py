"""The SQLAlchemy engine factory (never called at import time) and the one place where a write
transaction is retried when SQLite reports "database is locked".

SQLite connections get, on every connect: ``busy_timeout`` (wait up to ``BUSY_TIMEOUT_S`` for another
writer), ``foreign_keys=ON``, ``journal_mode=WAL`` (readers never block the writer) and
``synchronous=FULL`` (a committed transaction is fsynced before ``COMMIT`` returns). The pysqlite
driver's own transaction handling is switched off so that write transactions start with
``BEGIN IMMEDIATE`` (they take the write lock up front and wait for it, instead of failing half-way
with SQLITE_BUSY when two processes write at once).
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.store.errors import StoreError, classify, is_locked

BUSY_TIMEOUT_S = 10.0
WRITE_ATTEMPTS = 3  # each attempt already waits up to BUSY_TIMEOUT_S inside SQLite
_BEGIN_OPTION = "fracture_triage_begin"

T = TypeVar("T")


def sqlite_path(url: str) -> Optional[Path]:
    """The database file of a SQLite URL (None for other databases and in-memory SQLite)."""
    u = make_url(url)
    if not u.drivername.startswith("sqlite"):
        return None
    db = u.database or ""
    if not db or db == ":memory:":
        return None
    if db.startswith("file:"):
        db = db[5:].split("?", 1)[0]
    return Path(db)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> Engine:
    """A configured engine for ``url`` (any SQLAlchemy URL; SQLite gets the pragmas above)."""
    u = make_url(url)
    if not u.drivername.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(
        url,
        connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
    )
    busy_ms = int(busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cur.execute("PRAGMA foreign_keys = ON")
            if sqlite_path(url) is not None:
                mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = FULL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def describe(engine: Engine) -> str:
    path = sqlite_path(str(engine.url))
    return str(path) if path is not None else engine.url.render_as_string(hide_password=True)


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a (deferred) read transaction: one consistent snapshot for several queries."""
    try:
        with engine.connect() as conn:
            with conn.begin():
                yield conn
    except DBAPIError as exc:
        if isinstance(exc, IntegrityError):
            raise
        raise classify(exc, describe(engine)) from exc


def run_write(engine: Engine, work: Callable[[Connection], T], *, attempts: int = WRITE_ATTEMPTS) -> T:
    """Run ``work(conn)`` in one write transaction (``BEGIN IMMEDIATE`` on SQLite) and commit it.

    THE one place that retries on "database is locked": the whole transaction is re-run (``work``
    must only touch the database). Any other driver error, or still locked after the last attempt,
    becomes a clear ``StoreError``. When this returns, the transaction is committed (and, with
    ``synchronous=FULL``, on disk).
    """
    last: Optional[BaseException] = None
    for attempt in range(attempts):
        try:
            with engine.connect() as conn:
                conn = conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
                with conn.begin():
                    result = work(conn)
                return result
        except DBAPIError as exc:
            if isinstance(exc, IntegrityError):
                raise
            if not is_locked(exc):
                raise classify(exc, describe(engine)) from exc
            last = exc
            time.sleep(random.uniform(0.01, 0.1) * (attempt + 1))
    assert last is not None
    raise classify(last, describe(engine)) from last


@contextmanager
def immediate_connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a ``BEGIN IMMEDIATE`` transaction (used for migrations at open)."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        with conn.begin():
            yield conn


__all__ = ["make_engine", "run_write", "read_connection", "immediate_connection", "sqlite_path", "StoreError"]
