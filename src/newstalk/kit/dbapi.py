"""Plain DB-API connections for the CLI's short read-only commands.

Importing SQLAlchemy (core, ORM, asyncio) costs a CLI process about a quarter of a second,
more than the query it runs. ``newstalk sources list`` and the schema check before it read
a few rows, so they open the driver directly: ``sqlite3`` from the standard library, or
psycopg for PostgreSQL. Everything that writes, and the service itself, goes through
:mod:`newstalk.kit.db`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any


class DatabaseMissing(Exception):
    """The SQLite file does not exist yet (nothing was ever migrated into it)."""


def sqlite_path(url: str) -> str | None:
    """The file behind a ``sqlite[+driver]:///path`` URL; None for an in-memory database."""
    if ":///" not in url:
        return None
    path = url.split(":///", 1)[1].split("?", 1)[0]
    return path if path and path != ":memory:" else None


@contextmanager
def connect(sync_url: str) -> Iterator[Any]:
    """A read-only DB-API connection to the database behind a SQLAlchemy-style URL.

    Raises :class:`DatabaseMissing` for a SQLite file that does not exist (it is never
    created here); connection errors of the driver propagate.
    """
    scheme = sync_url.partition("://")[0].split("+", 1)[0]
    if scheme == "sqlite":
        path = sqlite_path(sync_url)
        if path is None or not Path(path).is_file():
            raise DatabaseMissing(path or ":memory:")
        conn: Any = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    elif scheme in ("postgresql", "postgres"):
        import psycopg

        conn = psycopg.connect("postgresql://" + sync_url.partition("://")[2], autocommit=True)
    else:
        raise ValueError(f"unsupported database URL scheme {scheme!r}")
    with closing(conn):
        yield conn


def has_table(conn: Any, name: str) -> bool:
    """Whether ``name`` is a table the connection can see."""
    cur = conn.cursor()
    if isinstance(conn, sqlite3.Connection):
        cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return cur.fetchone() is not None
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
    return bool(cur.fetchone()[0])


def fetch_all(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one parameterless query."""
    cur = conn.cursor()
    cur.execute(sql)
    return list(cur.fetchall())
