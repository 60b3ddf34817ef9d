"""model_event: the clinic's calibrations (thresholds refitted on its own labels), reverts to the card's
thresholds, and model activations, as append-only events (who, when, on what basis).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_event",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("model_name", sa.String(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("suspicious", sa.Float(), nullable=True),
        sa.Column("definite", sa.Float(), nullable=True),
        sa.Column("basis", sa.String(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True).with_variant(sa.DateTime(), "sqlite"), nullable=False),
    )
    op.create_index("ix_model_event_version", "model_event", ["model_version", "id"])


def downgrade() -> None:
    op.drop_index("ix_model_event_version", table_name="model_event")
    op.drop_table("model_event")
