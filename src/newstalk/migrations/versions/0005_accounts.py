"""accounts: users, login sessions, refresh tokens, API keys, listener preferences and feedback

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 08:55:20.095312
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newstalk.kit.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('listener', 'editor', 'admin')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_keys",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index("ix_api_keys_user", ["user_id", "id"], unique=False)

    op.create_table(
        "auth_sessions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_refreshed_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=32), nullable=True),
        sa.Column("user_agent", sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_auth_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
    )
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_auth_sessions_user", ["user_id", "id"], unique=False)

    op.create_table(
        "feedback_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("story_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("created_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'listened' AND percent IS NOT NULL AND percent >= 0 AND percent <= 100) OR (kind <> 'listened' AND percent IS NULL)",
            name=op.f("ck_feedback_events_percent"),
        ),
        sa.CheckConstraint(
            "kind IN ('opened', 'listened', 'skipped', 'liked', 'disliked', 'shared')",
            name=op.f("ck_feedback_events_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["story_id"], ["stories.id"], name=op.f("fk_feedback_events_story_id_stories"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_feedback_events_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_events")),
    )
    with op.batch_alter_table("feedback_events", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_events_story", ["story_id", "created_at"], unique=False)
        batch_op.create_index("ix_feedback_events_user", ["user_id", "id"], unique=False)

    op.create_table(
        "listener_outlets",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stance", sa.String(length=8), nullable=False),
        sa.CheckConstraint("stance IN ('follow', 'mute')", name=op.f("ck_listener_outlets_stance")),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_listener_outlets_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_listener_outlets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "source_id", name=op.f("pk_listener_outlets")),
    )
    with op.batch_alter_table("listener_outlets", schema=None) as batch_op:
        batch_op.create_index("ix_listener_outlets_source", ["source_id"], unique=False)

    op.create_table(
        "listener_preferences",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("muted_topics", sa.JSON(), nullable=False),
        sa.Column("voice", sa.String(length=32), nullable=True),
        sa.Column("playback_speed", sa.Float(), nullable=False),
        sa.Column("updated_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "playback_speed >= 0.8 AND playback_speed <= 2.0", name=op.f("ck_listener_preferences_speed")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_listener_preferences_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_listener_preferences")),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", newstalk.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_sessions.id"],
            name=op.f("fk_refresh_tokens_session_id_auth_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_refresh_tokens_session", ["session_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_refresh_tokens_session")

    op.drop_table("refresh_tokens")
    op.drop_table("listener_preferences")
    with op.batch_alter_table("listener_outlets", schema=None) as batch_op:
        batch_op.drop_index("ix_listener_outlets_source")

    op.drop_table("listener_outlets")
    with op.batch_alter_table("feedback_events", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_events_user")
        batch_op.drop_index("ix_feedback_events_story")

    op.drop_table("feedback_events")
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_sessions_user")

    op.drop_table("auth_sessions")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_user")

    op.drop_table("api_keys")
    op.drop_table("users")
