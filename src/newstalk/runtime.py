"""The resources a process builds at start-up and hands to the API, workers and scheduler."""

from __future__ import annotations

from dataclasses import dataclass

from newstalk.config import Settings
from newstalk.kit.bus.dbqueue import DbQueueTransport
from newstalk.kit.db import Database
from newstalk.kit.http import Fetcher
from newstalk.pipeline.stages import routes


@dataclass
class Services:
    settings: Settings
    db: Database
    transport: DbQueueTransport
    fetcher: Fetcher

    @classmethod
    def build(cls, settings: Settings) -> Services:
        """Open the database, transport and fetcher; nothing is built at import time."""
        db = Database.open(settings.async_database_url)
        transport = DbQueueTransport(db, routes())
        db.transport = transport
        fetcher = Fetcher(
            user_agent=settings.user_agent,
            timeout_s=settings.fetch_timeout_s,
            max_bytes=settings.fetch_max_bytes,
            max_redirects=settings.fetch_max_redirects,
            per_host_limit=settings.fetch_per_host_limit,
            allow_private_networks=settings.allow_private_networks,
        )
        return cls(settings=settings, db=db, transport=transport, fetcher=fetcher)

    async def aclose(self) -> None:
        await self.fetcher.aclose()
        await self.db.dispose()
