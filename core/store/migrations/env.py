"""Alembic environment: runs the revisions on the connection that ``core.store.migrate`` passes in
``config.attributes["connection"]`` (already inside a ``BEGIN IMMEDIATE`` transaction). Importing
this module outside an Alembic run does nothing."""

from __future__ import annotations

from alembic import context


def _run() -> None:
    from core.store.models import SQLModel

    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,  # SQLite ALTER TABLE support for later revisions
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if getattr(context, "config", None) is not None:  # only inside an Alembic run
    _run()
