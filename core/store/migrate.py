"""Schema migrations, run programmatically with Alembic (scripts in ``core/store/migrations``; no
alembic.ini). ``open_store`` calls ``upgrade`` inside a ``BEGIN IMMEDIATE`` transaction, so two
processes opening a new database at once do not both create it, and a failed upgrade leaves the
database as it was (SQLite DDL is transactional)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from sqlalchemy import text
from sqlalchemy.engine import Connection

if TYPE_CHECKING:  # pragma: no cover
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_REV = re.compile(r"^(down_revision|revision)\s*(?::\s*[^=]+)?=\s*(?:\(?\s*)?(None|['\"][^'\"]+['\"])", re.M)


@lru_cache(maxsize=1)
def known_head() -> Optional[str]:
    """The head revision read from the migration scripts' ``revision``/``down_revision`` lines without
    importing Alembic (start-up cost), or None when they cannot be read that simply (Alembic decides)."""
    revs, downs = set(), set()
    for f in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict((k, v) for k, v in _REV.findall(f.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        revs.add(found["revision"].strip("'\""))
        if found.get("down_revision", "None") != "None":
            downs.add(found["down_revision"].strip("'\""))
    heads = revs - downs
    return heads.pop() if len(heads) == 1 else None


def _stored_revision(connection: Connection) -> Optional[str]:
    """``alembic_version`` read with one query (None when the table is missing or empty)."""
    try:
        with connection.begin_nested():
            row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    except Exception:  # noqa: BLE001 - a new database: no table yet
        return None
    return row[0] if row else None


def alembic_config(connection: Optional[Connection] = None) -> "Config":
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> Optional[str]:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Bring the schema to ``revision`` on ``connection`` (which must already be in a transaction).
    An up-to-date database costs one query: Alembic is imported only when there is work to do."""
    if revision == "head":
        head = known_head()
        if head is not None and _stored_revision(connection) == head:
            return
    from alembic import command
    from alembic.script import ScriptDirectory

    current = current_revision(connection)
    if revision == "head" and current == head_revision():
        return
    if current is not None:
        script = ScriptDirectory.from_config(alembic_config())
        if current not in {s.revision for s in script.walk_revisions()}:
            from core.store.errors import StoreError

            raise StoreError(
                f"This database was written by a newer version of the app (schema {current}); "
                "update the app, or open another database.",
                StoreError.UNAVAILABLE,
            )
    command.upgrade(alembic_config(connection), revision)
