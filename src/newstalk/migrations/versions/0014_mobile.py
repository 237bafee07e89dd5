"""mobile app: push devices and listening positions

``push_devices`` holds the Expo push tokens of a listener's app installs (one owner per
token); ``listening_positions`` where a listener stopped in each audio file. Both go with
the account (ON DELETE CASCADE). Plain tables: SQLite and PostgreSQL alike.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 13:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newstalk.kit.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "push_devices",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("token", sa.String(length=255), nullable=False),
        sa.Column("platform", sa.String(length=8), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("platform IN ('ios', 'android')", name=op.f("ck_push_devices_platform")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_push_devices_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_devices")),
        sa.UniqueConstraint("token", name=op.f("uq_push_devices_token")),
    )
    with op.batch_alter_table("push_devices", schema=None) as batch_op:
        batch_op.create_index("ix_push_devices_user", ["user_id"], unique=False)

    op.create_table(
        "listening_positions",
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("audio_id", sa.String(length=64), nullable=False),
        sa.Column("position_s", sa.Float(), nullable=False),
        sa.Column("updated_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("position_s >= 0", name=op.f("ck_listening_positions_position")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_listening_positions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "audio_id", name=op.f("pk_listening_positions")),
    )


def downgrade() -> None:
    op.drop_table("listening_positions")
    with op.batch_alter_table("push_devices", schema=None) as batch_op:
        batch_op.drop_index("ix_push_devices_user")
    op.drop_table("push_devices")
