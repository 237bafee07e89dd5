"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 05:35:18.302647
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import newstalk.kit.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queue_jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=128), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_token", sa.String(length=36), nullable=True),
        sa.Column("first_seen_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_jobs")),
    )
    with op.batch_alter_table("queue_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_queue_jobs_claim", ["stage", "status", "available_at"], unique=False)
        batch_op.create_index(
            "uq_queue_jobs_pending_key",
            ["stage", "dedup_key"],
            unique=True,
            sqlite_where=sa.text("status <> 'dead'"),
            postgresql_where=sa.text("status <> 'dead'"),
        )

    op.create_table(
        "sources",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("feed_url", sa.String(length=2048), nullable=False),
        sa.Column("site_url", sa.String(length=2048), nullable=True),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("category", sa.String(length=128), nullable=True),
        sa.Column("full_text", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("etag", sa.String(length=512), nullable=True),
        sa.Column("last_modified", sa.String(length=128), nullable=True),
        sa.Column("fetch_interval_s", sa.Integer(), nullable=False),
        sa.Column("next_fetch_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_fetched_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_new_item_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=32), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("fetch_count", sa.Integer(), nullable=False),
        sa.Column("not_modified_count", sa.Integer(), nullable=False),
        sa.Column("article_count", sa.Integer(), nullable=False),
        sa.Column("websub_hub", sa.String(length=2048), nullable=True),
        sa.Column("websub_topic", sa.String(length=2048), nullable=True),
        sa.Column("websub_secret", sa.String(length=128), nullable=True),
        sa.Column("websub_state", sa.String(length=16), nullable=True),
        sa.Column("websub_lease_until", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("feed_url", name=op.f("uq_sources_feed_url")),
    )
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.create_index("ix_sources_due", ["status", "next_fetch_at"], unique=False)

    op.create_table(
        "tombstones",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("deleted_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tombstones")),
        sa.UniqueConstraint("url", name=op.f("uq_tombstones_url")),
    )
    with op.batch_alter_table("tombstones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tombstones_content_hash"), ["content_hash"], unique=False)

    op.create_table(
        "articles",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("guid", sa.String(length=2048), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=512), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("content_html", sa.Text(), nullable=False),
        sa.Column("content_text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("image_url", sa.String(length=2048), nullable=True),
        sa.Column("full_text_extracted", sa.Boolean(), nullable=False),
        sa.Column("published_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_seen_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stored_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_articles_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_articles_content_hash")),
        sa.UniqueConstraint("url", name=op.f("uq_articles_url")),
    )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_articles_language_listing", ["language", "published_at", "id"], unique=False
        )
        batch_op.create_index("ix_articles_listing", ["published_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_articles_source_id"), ["source_id"], unique=False)
        batch_op.create_index("ix_articles_source_listing", ["source_id", "published_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_source_listing")
        batch_op.drop_index(batch_op.f("ix_articles_source_id"))
        batch_op.drop_index("ix_articles_listing")
        batch_op.drop_index("ix_articles_language_listing")

    op.drop_table("articles")
    with op.batch_alter_table("tombstones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tombstones_content_hash"))

    op.drop_table("tombstones")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_index("ix_sources_due")

    op.drop_table("sources")
    with op.batch_alter_table("queue_jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_queue_jobs_pending_key",
            sqlite_where=sa.text("status <> 'dead'"),
            postgresql_where=sa.text("status <> 'dead'"),
        )
        batch_op.drop_index("ix_queue_jobs_claim")

    op.drop_table("queue_jobs")
