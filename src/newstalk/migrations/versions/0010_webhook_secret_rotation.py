"""webhook signing-secret rotation: the previous secret and when it stops signing

After ``POST /api/v1/webhooks/{id}/rotate-secret`` deliveries are signed with the new and
the previous secret for an overlap window (``webhooks.SECRET_OVERLAP``, 24 h); both columns
are null outside it. Nullable columns added in a batch: SQLite and PostgreSQL alike.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newstalk.kit.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_secret", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("previous_secret_expires_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_column("previous_secret_expires_at")
        batch_op.drop_column("previous_secret")
