"""sources: why the poll interval is what it is, an interval set per source, item and push times

``poll_reason`` is shown in source health ("freshness target", "busy feed", "dormant: last
item 4 days ago", "error backoff: …", "set by source", "websub push + safety poll");
``poll_interval_s`` is an interval an admin set for the source (null: adaptive);
``last_item_at`` the newest item date the feed showed, ``last_push_at`` the last signed
WebSub push. Nullable columns added in a batch: SQLite and PostgreSQL alike.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newstalk.kit.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("poll_reason", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("poll_interval_s", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("last_item_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("last_push_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("last_push_at")
        batch_op.drop_column("last_item_at")
        batch_op.drop_column("poll_interval_s")
        batch_op.drop_column("poll_reason")
