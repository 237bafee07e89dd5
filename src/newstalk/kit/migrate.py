"""Run and inspect Alembic migrations for the configured database.

Alembic and SQLAlchemy are imported inside the functions that need them: a CLI command
that only checks the schema is current (:func:`schema_revisions`) reads the migration
files' text and one row of ``alembic_version`` through the plain driver, which costs a few
milliseconds instead of importing Alembic, every migration module and SQLAlchemy.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from newstalk.kit import dbapi

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

# Alembic's script folder, found by path: kit runs the migrations but must not import them
# (their env.py imports every domain's models, a layer above kit).
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_REVISION = re.compile(r"""^revision(?:\s*:[^=\n]+)?\s*=\s*["']([^"'\n]+)["']\s*$""", re.M)
_DOWN_REVISION = re.compile(r"""^down_revision(?:\s*:[^=\n]+)?\s*=\s*(?:None|["']([^"'\n]+)["'])\s*$""", re.M)


def alembic_config(sync_url: str) -> Config:
    """An Alembic config pointed at our migrations and the given database."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", sync_url.replace("%", "%%"))
    return cfg


def upgrade(sync_url: str, revision: str = "head") -> None:
    """Migrate the database to ``revision``."""
    from alembic import command

    from newstalk.kit.db import ensure_sqlite_dir

    ensure_sqlite_dir(sync_url)
    command.upgrade(alembic_config(sync_url), revision)


def head_revision() -> str | None:
    """The newest revision the code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def revision_of(conn: Connection) -> str | None:
    """The revision of the database behind an open connection."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def current_revision(sync_url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    from sqlalchemy import create_engine, pool

    engine = create_engine(sync_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return revision_of(conn)
    finally:
        engine.dispose()


def text_head_revision() -> str | None:
    """The head revision read from the migration files' text; None unless there is exactly one
    head and every file states ``revision`` and ``down_revision`` as plain strings (or None)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        if revision is None:
            continue  # __init__.py, helpers
        down = _DOWN_REVISION.search(source)
        if down is None:
            return None  # a merge (tuple of parents) or something unusual: ask Alembic
        revisions.add(revision.group(1))
        if down.group(1):
            parents.add(down.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def schema_revisions(sync_url: str) -> tuple[str | None, str | None]:
    """(the database's revision, the code's head) for a start-up check, cheaply when possible.

    Reads ``alembic_version`` with one query through the plain driver (:mod:`kit.dbapi`, no
    SQLAlchemy import) and the head from the files' text; falls back to Alembic itself when
    either is ambiguous. A SQLite file that does not exist is not created. Connection errors
    propagate.
    """
    head = text_head_revision()
    if head is None:
        return current_revision(sync_url), head_revision()
    try:
        with dbapi.connect(sync_url) as conn:
            if not dbapi.has_table(conn, "alembic_version"):
                return None, head
            rows = [row[0] for row in dbapi.fetch_all(conn, "SELECT version_num FROM alembic_version")]
    except dbapi.DatabaseMissing:
        return None, head
    if len(rows) > 1:
        return current_revision(sync_url), head_revision()
    return (str(rows[0]) if rows else None), head
