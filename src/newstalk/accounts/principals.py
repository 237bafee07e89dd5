"""A short-lived, in-process cache of resolved credentials, so most signed-in requests skip the lookup.

``deps.optional_principal`` resolves a bearer credential against the database once, then
answers the same credential from here for ``ttl_s`` seconds (``NEWSTALK_AUTH_CACHE_TTL_S``,
default 10; 0 turns it off). Entries are keyed by a keyed BLAKE2b hash of the credential
(the key is random per process), never by the token or API key itself; an access token's
entry never outlives the token. Size is bounded; least recently stored entries go first.

Invalidation: the API clears entries in this process as soon as a change commits (logout,
refresh-token reuse, role change, account deletion, API-key revocation: ``invalidate``),
and ``InvalidationFanout`` tells every other process through a ``kit.pubsub`` broadcaster
(Redis pub/sub on ``<prefix>auth.invalidate`` when ``NEWSTALK_REDIS_URL`` is set), which
applies it to its own cache at once. The message names ids only (account, login session,
API key), never a credential or its hash (the hash key is per process). Pub/sub is at
most once: a process that misses a message (Redis down, not yet subscribed) drops the
entry within ``ttl_s``, as without Redis. A lookup that raced an invalidation is not
stored (a generation counter), so a logout in this process can never be undone by a
request that read the database just before it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from newstalk.accounts.service import Principal
from newstalk.kit import metrics
from newstalk.kit.pubsub import Broadcaster, Codec

log = logging.getLogger(__name__)


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

    def apply(self, message: Invalidation) -> None:
        """Apply an invalidation made by another process."""
        if message.everything:
            self.clear()
        else:
            self.invalidate(
                user_id=message.user_id, session_id=message.session_id, api_key_id=message.api_key_id
            )


@dataclass(frozen=True, slots=True)
class Invalidation:
    """What one process tells the others: forget these ids' entries (or all). No credential."""

    origin: str
    user_id: int | None = None
    session_id: int | None = None
    api_key_id: int | None = None
    everything: bool = False

    def to_json(self) -> str:
        return json.dumps(
            {
                "origin": self.origin,
                "user_id": self.user_id,
                "session_id": self.session_id,
                "api_key_id": self.api_key_id,
                "everything": self.everything,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> Invalidation:
        d = json.loads(raw)
        ids = {name: d.get(name) for name in ("user_id", "session_id", "api_key_id")}
        for name, value in ids.items():
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise TypeError(f"{name} is not an integer")
        return cls(origin=str(d["origin"]), everything=bool(d.get("everything")), **ids)


INVALIDATION_CODEC: Codec[Invalidation] = Codec(Invalidation.to_json, Invalidation.from_json)


class InvalidationFanout:
    """Sends this process's principal-cache invalidations to every other process and applies theirs.

    Publishing never fails the change that caused it: when Redis is down or slower than
    ``timeout_s``, the other processes drop their entries within the cache's TTL instead
    (logged once per outage, counted in ``newstalk_auth_invalidation_publish_errors_total``).
    """

    def __init__(self, broadcaster: Broadcaster[Invalidation], *, timeout_s: float) -> None:
        self.broadcaster = broadcaster
        self.timeout_s = timeout_s
        # Tells this process's own messages apart (it has applied them already).
        self.origin = secrets.token_hex(8)
        self._failing = False

    async def publish(
        self,
        *,
        user_id: int | None = None,
        session_id: int | None = None,
        api_key_id: int | None = None,
        everything: bool = False,
    ) -> None:
        """Tell the other processes; call after the change committed and this process's cache was cleared."""
        message = Invalidation(self.origin, user_id, session_id, api_key_id, everything)
        try:
            await asyncio.wait_for(self.broadcaster.publish([message]), self.timeout_s)
        except Exception as exc:
            metrics.AUTH_INVALIDATION_PUBLISH_ERRORS.inc()
            if not self._failing:
                log.warning(
                    "accounts: could not tell other processes to drop cached credentials (%s); "
                    "they drop them within NEWSTALK_AUTH_CACHE_TTL_S until Redis answers again",
                    exc or type(exc).__name__,
                )
            self._failing = True
            return
        if self._failing:
            log.info("accounts: principal-cache invalidations reach other processes again")
            self._failing = False

    def listen(self, cache: Callable[[], PrincipalCache | None]) -> Callable[[], None]:
        """Apply other processes' invalidations to ``cache()`` (looked up per message); returns unsubscribe."""

        def apply(message: Invalidation) -> None:
            if message.origin == self.origin:
                return
            target = cache()
            if target is not None:
                target.apply(message)

        return self.broadcaster.subscribe(apply)
