"""The SQLAlchemy engine factory (never called at import time) and the one place where a write
transaction is retried (SQLite "database is locked"; PostgreSQL transient SQLSTATEs).

SQLite connections get, on every connect: ``busy_timeout`` (wait up to ``BUSY_TIMEOUT_S`` for another
writer), ``foreign_keys=ON``, ``journal_mode=WAL`` (readers never block the writer) and
``synchronous=FULL`` (a committed transaction is fsynced before ``COMMIT`` returns). The pysqlite
driver's own transaction handling is switched off so that write transactions start with
``BEGIN IMMEDIATE`` (they take the write lock up front and wait for it, instead of failing half-way
with SQLITE_BUSY when two processes write at once).

PostgreSQL connections (psycopg 3) get ``connect_timeout`` (a down server fails in seconds, not
minutes), ``application_name`` (the server's ``pg_stat_activity`` shows who is connected),
``lock_timeout``, ``statement_timeout`` and ``idle_in_transaction_session_timeout``, unless the URL sets
them itself. The server's own settings decide durability (``synchronous_commit``; on by default).
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.store.errors import StoreError, classify, is_connection_lost, is_transient
from core.store.urls import parse, redact, sqlite_path

BUSY_TIMEOUT_S = 10.0
WRITE_ATTEMPTS = 4  # SQLite: each attempt already waits up to BUSY_TIMEOUT_S inside SQLite
PG_CONNECT_TIMEOUT_S = 10
PG_LOCK_TIMEOUT_MS = 10_000
PG_STATEMENT_TIMEOUT_MS = 60_000
PG_IDLE_IN_TRANSACTION_MS = 120_000
APPLICATION_NAME = "fracture-triage"
MIGRATION_LOCK_KEY = 0x46545249  # pg_advisory_xact_lock key around schema upgrades ("FTRI")
_BEGIN_OPTION = "fracture_triage_begin"

T = TypeVar("T")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _pg_engine(url: str) -> Engine:
    from core.store.passwords import with_password

    u = with_password(parse(url))  # the OS keyring's password, if one is kept for this account
    query = {k.lower() for k in u.query}
    args: dict = {}
    if "connect_timeout" not in query:
        args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    if "application_name" not in query:
        args["application_name"] = APPLICATION_NAME
    if "options" not in query:
        args["options"] = (f"-c lock_timeout={PG_LOCK_TIMEOUT_MS} -c statement_timeout={PG_STATEMENT_TIMEOUT_MS} "
                           f"-c idle_in_transaction_session_timeout={PG_IDLE_IN_TRANSACTION_MS}")
    return create_engine(u, pool_pre_ping=True, pool_size=4, max_overflow=4, connect_args=args)


def make_engine(url: str, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> Engine:
    """A configured engine for ``url`` (SQLite or PostgreSQL; see the module docstring)."""
    u = make_url(url)
    if not u.drivername.startswith("sqlite"):
        return _pg_engine(url)
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
    """Where the database is, for messages: the SQLite file, or the URL without its password."""
    path = sqlite_path(str(engine.url))
    return str(path) if path is not None else redact(engine.url.render_as_string(hide_password=True))


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a (deferred) read transaction: one consistent snapshot for several queries
    (on PostgreSQL: REPEATABLE READ, so every query sees the same committed state)."""
    try:
        with engine.connect() as conn:
            if not is_sqlite(engine):
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn
    except DBAPIError as exc:
        if isinstance(exc, IntegrityError):
            raise
        raise classify(exc, describe(engine)) from exc


def run_write(engine: Engine, work: Callable[[Connection], T], *, attempts: int = WRITE_ATTEMPTS) -> T:
    """Run ``work(conn)`` in one write transaction (``BEGIN IMMEDIATE`` on SQLite) and commit it.

    THE one place that retries: on a transient error (``errors.is_transient``: SQLite busy,
    PostgreSQL serialization failure, deadlock, lock timeout, lost connection, a unique key taken
    by a concurrent writer) the whole transaction is re-run, so ``work`` must only touch the
    database, and writes that must never happen twice (decision events) carry their own unique id.
    Any other driver error, or still failing after the last attempt, becomes a clear ``StoreError``
    (an ``IntegrityError`` that is not a race is re-raised as it is: it is a bug). When this returns,
    the transaction is committed (and durable).
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
            if not is_transient(exc):
                if isinstance(exc, IntegrityError):
                    raise
                raise classify(exc, describe(engine)) from exc
            last = exc
            if is_connection_lost(exc):
                engine.pool.dispose()  # drop the other connections the server may have closed too
            time.sleep(random.uniform(0.01, 0.1) * (attempt + 1))
    assert last is not None
    if isinstance(last, IntegrityError):
        raise last
    raise classify(last, describe(engine)) from last


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside the transaction that schema upgrades run in: ``BEGIN IMMEDIATE`` on
    SQLite, and on PostgreSQL a transaction holding ``pg_advisory_xact_lock(MIGRATION_LOCK_KEY)``,
    so two processes opening a new database at once upgrade it one after the other (the second
    finds it at head). PostgreSQL DDL is transactional, so a failed upgrade leaves nothing behind."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        with conn.begin():
            if not is_sqlite(engine):
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            yield conn


__all__ = ["make_engine", "run_write", "read_connection", "migration_connection",
           "sqlite_path", "is_sqlite", "describe", "StoreError"]
