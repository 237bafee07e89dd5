"""Real accounts for tests: rows in the test database and tokens issued by the service."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from argon2 import PasswordHasher

from newstalk.accounts import service
from newstalk.accounts.models import Role, User
from newstalk.config import Settings
from newstalk.kit.db import Database, utcnow

PASSWORD = "correct horse battery staple"


@functools.cache
def password_hash() -> str:
    # Hashed once per run: argon2id takes ~0.3 s, and most tests only need a token.
    return PasswordHasher().hash(PASSWORD)


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: Role
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def make_account(settings: Settings, role: Role, email: str | None = None) -> Account:
    """An account with ``role`` and a fresh login session, written straight to the database."""
    db = Database.open(settings.async_database_url)
    try:
        async with db.unit() as uow:
            now = utcnow()
            user = User(
                email=email or f"{role.value}-{now.timestamp():.6f}@example.org",
                display_name=role.value,
                password_hash=password_hash(),
                role=role.value,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(user)
            await uow.session.flush()
            pair = await service.start_session(uow, settings, user, "pytest")
        return Account(user.id, user.email, role, pair.access_token, pair.refresh_token)
    finally:
        await db.dispose()
