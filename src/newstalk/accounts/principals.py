"""A short-lived, in-process cache of resolved credentials, so most signed-in requests skip the lookup.

``deps.optional_principal`` resolves a bearer credential against the database once, then
answers the same credential from here for ``ttl_s`` seconds (``NEWSTALK_AUTH_CACHE_TTL_S``,
default 10; 0 turns it off). Entries are keyed by a keyed BLAKE2b hash of the credential
(the key is random per process), never by the token or API key itself; an access token's
entry never outlives the token. Size is bounded; least recently stored entries go first.

Invalidation: the API clears entries in this process as soon as a change commits (logout,
refresh-token reuse, role change, account deletion, API-key revocation: ``invalidate``).
Other processes (API replicas, the CLI's ``users set-role``) see the change within ``ttl_s``.
A lookup that raced an invalidation is not stored (a generation counter), so a logout in
this process can never be undone by a request that read the database just before it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from newstalk.accounts.service import Principal


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    expires_at: float


class PrincipalCache:
    """Credential hash -> Principal for a few seconds, in this process."""

    def __init__(
        self, ttl_s: float, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self.generation = 0  # bumped by every invalidation

    def __len__(self) -> int:
        return len(self._entries)

    def digest(self, credential: str) -> bytes:
        return hashlib.blake2b(credential.encode(), digest_size=20, key=self._key).digest()

    def get(self, credential: str) -> Principal | None:
        """The cached principal for this credential, or None (never cached, expired or invalidated)."""
        if not self._entries:
            return None
        key = self.digest(credential)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._entries[key]
            return None
        return entry.principal

    def put(self, credential: str, principal: Principal, *, generation: int) -> None:
        """Remember a principal resolved from the database, unless an invalidation ran since ``generation``."""
        if self.ttl_s <= 0 or generation != self.generation:
            return
        now = self._clock()
        expires_at = now + self.ttl_s
        if principal.expires_at is not None:
            # An access token's entry ends with the token (mapped from wall clock to this clock).
            expires_at = min(expires_at, now + (principal.expires_at.timestamp() - time.time()))
        if expires_at <= now:
            return
        key = self.digest(credential)
        self._entries.pop(key, None)
        self._entries[key] = _Entry(principal, expires_at)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate(
        self, *, user_id: int | None = None, session_id: int | None = None, api_key_id: int | None = None
    ) -> None:
        """Forget every entry of this account, login session or API key (after the change committed)."""
        self.generation += 1
        doomed = [
            key
            for key, entry in self._entries.items()
            if (user_id is not None and entry.principal.user_id == user_id)
            or (session_id is not None and entry.principal.session_id == session_id)
            or (api_key_id is not None and entry.principal.api_key_id == api_key_id)
        ]
        for key in doomed:
            del self._entries[key]

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
