"""Index decision.undoes_id: "is this decision undone?" is asked for every undo and every current
label, and was a table scan per question in 0001.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_decision_undoes", "decision", ["undoes_id"])


def downgrade() -> None:
    op.drop_index("ix_decision_undoes", table_name="decision")
