"""Schema migrations, run programmatically with Alembic (scripts in ``core/store/migrations``; no
alembic.ini). ``open_store`` calls ``upgrade`` inside a ``BEGIN IMMEDIATE`` transaction, so two
processes opening a new database at once do not both create it, and a failed upgrade leaves the
database as it was (SQLite DDL is transactional)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Optional[Connection] = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> Optional[str]:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Bring the schema to ``revision`` on ``connection`` (which must already be in a transaction)."""
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
