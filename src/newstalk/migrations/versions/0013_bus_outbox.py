"""bus: the Kafka transport's outbox and processed-event keys

``bus_outbox`` holds the events a stage wrote in its transaction until the relay has
published them to Kafka; ``bus_processed`` the (stage, event id) pairs whose results are
committed, so a redelivered event is skipped. The one relay that publishes holds
``stage_leases['relay']`` (0012).
The queue table transport (the default) leaves both empty.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import newstalk.kit.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bus_outbox",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("topic", sa.String(length=128), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=True),
        sa.Column("dedup_key", sa.String(length=255), nullable=True),
        sa.Column("partition_key", sa.String(length=255), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("first_seen_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("available_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bus_outbox")),
    )
    with op.batch_alter_table("bus_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bus_outbox_unsent",
            ["available_at", "id"],
            unique=False,
            postgresql_where=sa.text("sent_at IS NULL"),
        )
        batch_op.create_index(
            "uq_bus_outbox_pending_key",
            ["topic", "dedup_key"],
            unique=True,
            sqlite_where=sa.text("sent_at IS NULL"),
            postgresql_where=sa.text("sent_at IS NULL"),
        )
    op.create_table(
        "bus_processed",
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("processed_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("stage", "event_id", name=op.f("pk_bus_processed")),
    )
    with op.batch_alter_table("bus_processed", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bus_processed_processed_at"), ["processed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bus_processed", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bus_processed_processed_at"))
    op.drop_table("bus_processed")
    with op.batch_alter_table("bus_outbox", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_bus_outbox_pending_key",
            sqlite_where=sa.text("sent_at IS NULL"),
            postgresql_where=sa.text("sent_at IS NULL"),
        )
        batch_op.drop_index("ix_bus_outbox_unsent", postgresql_where=sa.text("sent_at IS NULL"))
    op.drop_table("bus_outbox")
