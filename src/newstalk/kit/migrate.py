"""Run and inspect Alembic migrations for the configured database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, pool

from newstalk.kit.db import ensure_sqlite_dir

# Alembic's script folder, found by path: kit runs the migrations but must not import them
# (their env.py imports every domain's models, a layer above kit).
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(sync_url: str) -> Config:
    """An Alembic config pointed at our migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", sync_url.replace("%", "%%"))
    return cfg


def upgrade(sync_url: str, revision: str = "head") -> None:
    """Migrate the database to ``revision``."""
    ensure_sqlite_dir(sync_url)
    command.upgrade(alembic_config(sync_url), revision)


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def revision_of(conn: Connection) -> str | None:
    """The revision of the database behind an open connection."""
    return MigrationContext.configure(conn).get_current_revision()


def current_revision(sync_url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    engine = create_engine(sync_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return revision_of(conn)
    finally:
        engine.dispose()
