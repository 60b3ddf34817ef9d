"""PostgreSQL as a first-class store: 64-bit sizes and mtimes, times with time zone, and a unique id
per decision event.

- ``image.size``, ``location.size/mtime_ns``, ``scan_error.size/mtime_ns`` become BIGINT on PostgreSQL
  (a nanosecond mtime does not fit int4). SQLite's INTEGER is 64-bit already: nothing to change.
- Every time column becomes ``timestamp with time zone`` on PostgreSQL. Values written before were
  converted by the server into its own time zone on the way in, so they are read back in the
  server's default ``TimeZone``. SQLite stores UTC text either way: nothing to change.
- ``decision.uid``: a random 32-hex id, filled in for every existing event, unique. Writers make it
  before the first attempt, so a write retried after a lost connection, or an event copied between
  databases (``db copy``), is never stored twice.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_INT64 = {"image": ["size"], "location": ["size", "mtime_ns"], "scan_error": ["size", "mtime_ns"]}
_TIMES = {
    "image": ["first_seen"],
    "location": ["last_seen"],
    "scan_error": ["seen_at"],
    "prediction": ["created_at"],
    "reviewer": ["created_at"],
    "decision": ["created_at"],
}


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        tz = bind.execute(sa.text("SELECT reset_val FROM pg_settings WHERE name = 'TimeZone'")).scalar() or "UTC"
        for table, cols in _INT64.items():
            for col in cols:
                op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{col}" TYPE BIGINT')
        for table, cols in _TIMES.items():
            for col in cols:
                op.execute(
                    sa.text(
                        f'ALTER TABLE "{table}" ALTER COLUMN "{col}" TYPE TIMESTAMP WITH TIME ZONE '
                        f"USING \"{col}\" AT TIME ZONE '{tz.replace(chr(39), '')}'"
                    )
                )
    op.add_column("decision", sa.Column("uid", sa.String(length=32), nullable=True))
    if postgres:
        op.execute("UPDATE decision SET uid = md5(random()::text || clock_timestamp()::text || id::text)")
    else:
        op.execute("UPDATE decision SET uid = lower(hex(randomblob(16)))")
    op.create_index("uq_decision_uid", "decision", ["uid"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_decision_uid", table_name="decision")
    with op.batch_alter_table("decision") as batch:
        batch.drop_column("uid")
    if op.get_bind().dialect.name == "postgresql":
        for table, cols in _TIMES.items():
            for col in cols:
                op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{col}" TYPE TIMESTAMP WITHOUT TIME ZONE '
                           f"USING \"{col}\" AT TIME ZONE 'UTC'")
        for table, cols in _INT64.items():
            for col in cols:
                op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{col}" TYPE INTEGER')
