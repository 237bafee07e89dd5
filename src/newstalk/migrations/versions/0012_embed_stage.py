"""article_embeddings (the embed stage's output) and stage_leases (the stories writer's lease)

``article_embeddings`` holds, per article, what the ``embed`` stage computed from it in one
pass: the e5 vector of its headline and the other per-article features the stories stage
clusters on (MinHash, keywords, entities, lead, sentiment), with the content hash and the
model they were computed from (a redelivered event with the same hash computes nothing).
``stage_leases`` holds one row per single-writer stage: which worker holds it and until
when (docs/pipeline.md, "Embeddings and the stories writer").

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newstalk.kit.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "article_embeddings",
        sa.Column("article_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("minhash", sa.LargeBinary(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("lead", sa.JSON(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=True),
        sa.Column("computed_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_embeddings_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_article_embeddings")),
    )
    op.create_table(
        "stage_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_stage_leases")),
    )


def downgrade() -> None:
    op.drop_table("stage_leases")
    op.drop_table("article_embeddings")
