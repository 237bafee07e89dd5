"""personal feed: an index on stories.updated_at for the feed's incremental refresh

The feed keeps its state in memory (see docs/feed.md); what it needs from the schema is a
cheap "stories changed since T" query, which every API process runs every two seconds.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 11:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.create_index("ix_stories_updated", ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_index("ix_stories_updated")
