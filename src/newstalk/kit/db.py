"""Database engine, sessions and the unit of work; the one place that commits.

SQLite (embedded default) runs in WAL mode; write units start with BEGIN IMMEDIATE so
two writers never deadlock upgrading a read lock, while read-only units stay deferred
and never block writers. PostgreSQL uses plain transactions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, case, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from newstalk.kit.dbapi import sqlite_path

if TYPE_CHECKING:
    from newstalk.kit.bus import Event, Transport

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT primary keys autoincrement on PostgreSQL; SQLite only autoincrements INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("db: naive datetime given; use timezone-aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def smaller(a: Any, b: Any) -> ColumnElement[Any]:
    """SQL for the smaller of two values, on SQLite and PostgreSQL alike (no LEAST in SQLite)."""
    return case((a < b, a), else_=b)


def larger(a: Any, b: Any) -> ColumnElement[Any]:
    """SQL for the larger of two values (no GREATEST in SQLite)."""
    return case((a > b, a), else_=b)


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Build the async engine for a sqlite+aiosqlite or postgresql+psycopg URL.

    ``hide_parameters``: a failed statement's error never carries its bound values, which
    hold password hashes, webhook signing secrets and tokens (issue 13).
    """
    if url.startswith("sqlite"):
        ensure_sqlite_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        hide_parameters=True,
    )


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite database file; other URLs are left alone."""
    path = sqlite_path(url) if url.startswith("sqlite") else None
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN/SAVEPOINT work as written.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        readonly = conn.get_execution_options().get("newstalk_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


@dataclass
class Database:
    """Engine plus the session factories the service hands out."""

    engine: AsyncEngine
    writer: async_sessionmaker[AsyncSession]
    reader: async_sessionmaker[AsyncSession]
    transport: Transport | None = None

    @classmethod
    def open(cls, url: str, *, pool_size: int = 10) -> Database:
        engine = create_engine(url, pool_size=pool_size)
        reader_bind = engine.execution_options(newstalk_readonly=True)
        return cls(
            engine=engine,
            writer=async_sessionmaker(engine, expire_on_commit=False),
            reader=async_sessionmaker(reader_bind, expire_on_commit=False),
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[UnitOfWork]:
        """A write transaction: commits results and buffered events together, or neither."""
        async with self.writer() as session:
            uow = UnitOfWork(session=session, transport=self.transport)
            try:
                yield uow
                await uow.flush_events()
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session; never commits. Objects stay readable after it closes."""
        async with self.reader() as session:
            yield session


class RequestSession:
    """One HTTP request's database access (``deps.DbDep``): one read session, opened on first use.

    Authentication, rate limiting and the endpoint share it, so a signed-in read costs one
    session, not one per dependency; a request that never touches the database (a cached
    page, a principal from the principal cache) opens none. Writes go through ``unit()``,
    which is ``Database.unit()`` exactly (its own transaction: commit with the events, or
    roll back); the read session is closed first, so a request holds one connection at a time.
    """

    __slots__ = ("_session", "db")

    def __init__(self, db: Database) -> None:
        self.db = db
        self._session: AsyncSession | None = None

    @property
    def opened(self) -> bool:
        return self._session is not None

    async def read(self) -> AsyncSession:
        """The request's read-only session (the same object on every call until ``close``)."""
        if self._session is None:
            self._session = self.db.reader()
        return self._session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """The request's read session in a ``with`` block, for code shaped like ``Database.read()``.

        Leaving the block does not close it: the request's end does (``close``).
        """
        yield await self.read()

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[UnitOfWork]:
        """A write transaction, as ``Database.unit()``; the read session is closed before it begins."""
        await self.close()
        async with self.db.unit() as uow:
            yield uow

    async def close(self) -> None:
        """End the read session (rolled back: it never writes); a later ``read()`` opens a new one."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()


@dataclass
class UnitOfWork:
    """One transaction; events emitted inside it are written with it and dropped on rollback."""

    session: AsyncSession
    transport: Transport | None
    events: list[Event] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        """Buffer an event to leave with this transaction."""
        self.events.append(event)

    async def flush_events(self) -> None:
        if not self.events:
            return
        if self.transport is None:
            raise RuntimeError("db: events emitted but no transport is configured")
        events, self.events = self.events, []
        await self.transport.publish(self.session, events)
