"""The scope gate: each prediction's verdict (``scope``: in_scope / out_of_scope, ``scope_reason``)
and the append-only ``scope_override`` events (a reader marked an out-of-scope image "in scope after
all", or withdrew that mark: who, when, for which model version and verdict).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prediction") as batch:
        batch.add_column(sa.Column("scope", sa.String(), nullable=True))
        batch.add_column(sa.Column("scope_reason", sa.String(), nullable=True))
    op.create_table(
        "scope_override",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("image_id", sa.String(), sa.ForeignKey("image.id"), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), sa.ForeignKey("reviewer.id"), nullable=False),
        sa.Column("in_scope", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True).with_variant(sa.DateTime(), "sqlite"), nullable=False),
        sa.Column("model_version", sa.String(), nullable=True),
        sa.Column("scope_reason", sa.String(), nullable=True),
    )
    op.create_index("ix_scope_override_image", "scope_override", ["image_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_scope_override_image", table_name="scope_override")
    op.drop_table("scope_override")
    with op.batch_alter_table("prediction") as batch:
        batch.drop_column("scope_reason")
        batch.drop_column("scope")
