"""queue_jobs.priority: a stage's due jobs are claimed higher priority first

A story's short first edition is queued for speech at priority 0 and its full script,
held back five minutes, at -1; a voice a listener asked for at 1. Without it a full script
that fell due was claimed ahead of every newer first edition (oldest ``available_at``
first), so new stories waited behind long syntheses. Existing rows get 0: the order they
were claimed in before.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 20:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue_jobs") as batch:
        batch.add_column(
            sa.Column("priority", sa.SmallInteger(), server_default=sa.text("0"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("queue_jobs") as batch:
        batch.drop_column("priority")
