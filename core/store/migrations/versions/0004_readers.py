"""Several readers: a role per reviewer (reader / adjudicator); per decision the role it was made
in, the reading mode (aided / blinded), the milliseconds from showing the image to the decision and
the database user; and claims (an image a reader has open, with an expiry).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True).with_variant(sa.DateTime(), "sqlite")


def upgrade() -> None:
    op.add_column("reviewer", sa.Column("role", sa.String(), nullable=False, server_default="reader"))
    op.add_column("decision", sa.Column("role", sa.String(), nullable=True))
    op.add_column("decision", sa.Column("reading_mode", sa.String(), nullable=True))
    op.add_column("decision", sa.Column("shown_ms", sa.Integer(), nullable=True))
    op.add_column("decision", sa.Column("db_user", sa.String(), nullable=True))
    op.create_table(
        "claim",
        sa.Column("image_id", sa.String(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["image.id"]),
        sa.ForeignKeyConstraint(["reviewer_id"], ["reviewer.id"]),
        sa.PrimaryKeyConstraint("image_id"),
    )


def downgrade() -> None:
    op.drop_table("claim")
    with op.batch_alter_table("decision") as batch:
        for col in ("db_user", "shown_ms", "reading_mode", "role"):
            batch.drop_column(col)
    with op.batch_alter_table("reviewer") as batch:
        batch.drop_column("role")
