"""Studies: each decision event records the pseudonymous study key of its image (``study``), how it
was made (``unit``: 'study' — one key press on a study row decided every view —, 'view' — one view
of a study, in the study mode —, NULL — the image list), the study score shown (``study_score``) and,
for a study decision, the uid shared by its views' events (``batch``: undone together).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decision", sa.Column("study", sa.String(), nullable=True))
    op.add_column("decision", sa.Column("unit", sa.String(), nullable=True))
    op.add_column("decision", sa.Column("study_score", sa.Float(), nullable=True))
    op.add_column("decision", sa.Column("batch", sa.String(32), nullable=True))
    op.create_index("ix_decision_batch", "decision", ["batch"])


def downgrade() -> None:
    op.drop_index("ix_decision_batch", table_name="decision")
    with op.batch_alter_table("decision") as batch:
        for col in ("batch", "study_score", "unit", "study"):
            batch.drop_column(col)
