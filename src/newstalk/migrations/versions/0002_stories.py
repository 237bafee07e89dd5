"""stories

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 06:12:06.348135
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newstalk.kit.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("merged_into_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("category_score", sa.Float(), nullable=True),
        sa.Column("sentiment", sa.Float(), nullable=True),
        sa.Column("article_count", sa.Integer(), nullable=False),
        sa.Column("outlet_count", sa.Integer(), nullable=False),
        sa.Column("trending_score", sa.Float(), nullable=False),
        sa.Column("trending_reason", sa.Text(), nullable=True),
        sa.Column("trending_detail", sa.JSON(), nullable=True),
        sa.Column("centroid", sa.LargeBinary(), nullable=True),
        sa.Column("first_seen_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["stories.id"],
            name=op.f("fk_stories_merged_into_id_stories"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stories")),
    )
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.create_index("ix_stories_category", ["category", "last_seen_at", "id"], unique=False)
        batch_op.create_index("ix_stories_recent", ["status", "last_seen_at", "id"], unique=False)
        batch_op.create_index("ix_stories_trending", ["status", "trending_score", "id"], unique=False)

    op.create_table(
        "article_features",
        sa.Column("article_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("minhash", sa.LargeBinary(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=True),
        sa.Column("lead", sa.JSON(), nullable=False),
        sa.Column("duplicate_of_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("duplicate_score", sa.Float(), nullable=True),
        sa.Column("computed_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_features_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["articles.id"],
            name=op.f("fk_article_features_duplicate_of_id_articles"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_article_features")),
    )
    with op.batch_alter_table("article_features", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_article_features_duplicate_of_id"), ["duplicate_of_id"], unique=False
        )

    op.create_table(
        "story_articles",
        sa.Column("article_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("story_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("added_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_story_articles_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["story_id"], ["stories.id"], name=op.f("fk_story_articles_story_id_stories"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_story_articles")),
    )
    with op.batch_alter_table("story_articles", schema=None) as batch_op:
        batch_op.create_index("ix_story_articles_story", ["story_id", "added_at"], unique=False)

    op.create_table(
        "story_blocks",
        sa.Column("story_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("article_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_story_blocks_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["story_id"], ["stories.id"], name=op.f("fk_story_blocks_story_id_stories"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("story_id", "article_id", name=op.f("pk_story_blocks")),
    )


def downgrade() -> None:
    op.drop_table("story_blocks")
    with op.batch_alter_table("story_articles", schema=None) as batch_op:
        batch_op.drop_index("ix_story_articles_story")

    op.drop_table("story_articles")
    with op.batch_alter_table("article_features", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_features_duplicate_of_id"))

    op.drop_table("article_features")
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_index("ix_stories_trending")
        batch_op.drop_index("ix_stories_recent")
        batch_op.drop_index("ix_stories_category")

    op.drop_table("stories")
