"""What a database URL says, and how it may be shown: the one place that redacts passwords, tells a
SQLite file from a PostgreSQL server, and refuses a URL with a password where it would be stored.

Rules (medical manners): a URL is never shown, logged or stored with its password — ``redact`` is
used for every message, log line and ``info`` output. Passwords for a PostgreSQL server belong in
``~/.pgpass`` (``%APPDATA%\\postgresql\\pgpass.conf`` on Windows) or a libpq service file
(``postgresql+psycopg:///?service=clinic``), which libpq reads by itself; ``check_storable`` refuses a
URL with a password before it reaches ``settings.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from sqlalchemy.engine.url import URL, make_url
from sqlalchemy.exc import ArgumentError

POSTGRES_DRIVER = "postgresql+psycopg"


class UrlError(ValueError):
    """A database URL that cannot be used or stored; ``str()`` is the message to show."""


def parse(url: str) -> URL:
    try:
        u = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise UrlError(f"{redact(url)!r} is not a database URL (expected sqlite:///PATH or "
                       "postgresql://user@host/database)") from exc
    if u.drivername in ("postgresql", "postgres"):  # plain postgresql:// means psycopg 3 here
        u = u.set(drivername=POSTGRES_DRIVER)
    return u


def normalise(url: str) -> str:
    """``url`` with ``postgresql://`` mapped to the psycopg 3 driver (the one the app ships)."""
    return parse(url).render_as_string(hide_password=False)


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (also for text that does not parse as a URL)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL: hide anything between "://user:" and "@"
        import re

        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


def has_password(url: str) -> bool:
    try:
        u = make_url(url)
    except Exception:
        return False
    return bool(u.password) or "password" in {k.lower() for k in u.query}


def check_storable(url: str) -> str:
    """``url`` if it may be saved in settings; ``UrlError`` (saying where the password goes) if not."""
    if not url:
        return url
    parse(url)
    if has_password(url):
        raise UrlError(
            "The database address contains a password, which is never saved in the settings. Remove it "
            "from the address and put it in ~/.pgpass (one line: host:port:database:user:password, file "
            "mode 600) or in a PostgreSQL service file; the app reads it from there."
        )
    return url


def is_postgres(url: str) -> bool:
    try:
        return parse(url).get_backend_name() == "postgresql"
    except UrlError:
        return False


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


def server_of(url: str) -> Optional[str]:
    """Where a PostgreSQL URL connects (host[:port] or the Unix socket folder); None for SQLite."""
    if not is_postgres(url):
        return None
    u = parse(url)
    host = u.host or u.query.get("host") or "the local Unix socket"
    if isinstance(host, tuple):
        host = ",".join(host)
    return f"{host}:{u.port}" if u.port else str(host)


__all__ = ["UrlError", "parse", "normalise", "redact", "has_password", "check_storable", "is_postgres",
           "sqlite_path", "server_of", "POSTGRES_DRIVER"]
