"""Request rate limits: GCRA buckets in process or in Redis, and the ASGI middleware that applies them.

GCRA (the generic cell rate algorithm) keeps one timestamp per bucket, the "theoretical
arrival time": a limit of L per period P lets a full bucket take L requests at once and
then one every P/L seconds. In Redis one Lua script reads and writes it atomically,
with Redis's own clock, so any number of API processes enforce one limit.

The check runs as an application-wide dependency, after routing, so it knows the route
template; a small middleware copies its headers onto whatever response follows.
Headers: ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` (seconds until
the bucket is full) and ``RateLimit-Policy`` (``100;w=60``) on every limited response,
``Retry-After`` (seconds) on 429. When Redis cannot be reached within
``NEWSTALK_REDIS_TIMEOUT_S`` the check falls back to in-process buckets (each API process
then enforces the limit on its own) and Redis is tried again after ``FALLBACK_HOLD_S``;
``newstalk_ratelimit_errors_total`` counts the failures and
``newstalk_ratelimit_fallback_total`` the checks made in process. Limits stay on (login
included), and a hung Redis costs one short timeout per hold period, not one per request.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newstalk.kit import metrics

log = logging.getLogger(__name__)

PERIOD_S = 60.0
# After a Redis failure, checks stay in process this long before Redis is tried again.
FALLBACK_HOLD_S = 5.0
# Built-in per-route limits (requests per minute per caller; 0: unlimited), under
# NEWSTALK_RATE_LIMIT_ROUTES. Probes, scrapes and signed hub pushes are never limited;
# password guessing is.
DEFAULT_ROUTE_LIMITS: dict[str, int] = {
    "GET /health": 0,
    "GET /ready": 0,
    "GET /metrics": 0,
    "GET /websub/{source_id}": 0,
    "POST /websub/{source_id}": 0,
    "POST /api/v1/auth/login": 10,
    "POST /api/v1/auth/register": 5,
    "POST /api/v1/auth/refresh": 30,
    # The web app's sign-in forms and background refresh (newstalk.web) take the same limits.
    "POST /login": 10,
    "POST /register": 5,
    "POST /session/refresh": 30,
    # Runs claim detection, embeddings and the verifier in the API process.
    "POST /api/v1/fact-check": 10,
    # Each resolves the target's host; a ping is a real POST to someone's server.
    "POST /api/v1/webhooks": 10,
    "POST /api/v1/webhooks/{webhook_id}/test": 10,
    # A new secret each time; receivers must keep up with it.
    "POST /api/v1/webhooks/{webhook_id}/rotate-secret": 10,
    # Questions about a story run retrieval (and the chat model, when configured) per request.
    "POST /api/v1/stories/{story_id}/ask": 20,
    # Embeds every query with e5 in the API process (~11 ms of CPU) besides the SQL search.
    "GET /api/v1/search": 60,
    # Synthesis of new text costs seconds of CPU; listeners also have a daily quota.
    "POST /api/v1/voice": 10,
    # Client telemetry needs no sign-in: a batch of up to 50 events a minute or so per app.
    "POST /api/v1/telemetry": 30,
}


# Routes that act on an account named in the body: always counted per client address,
# whatever credential rides along (else any valid token of one's own buys a fresh bucket).
# Telemetry is anonymous by contract: counted per address even when a token rides along.
ADDRESS_ROUTES = frozenset(
    {"/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/telemetry", "/login", "/register"}
)
ACCOUNT_PERIOD_S = 3600.0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: float
    retry_after_s: float


def _decide(limit: int, period_s: float, allowed: bool, tat_rel: float, new_rel: float) -> Decision:
    """Turn GCRA times (relative to now) into counts and waits."""
    interval = period_s / limit
    if allowed:
        remaining = max(0, math.floor((period_s - new_rel) / interval + 1e-9))
        return Decision(True, limit, remaining, max(0.0, new_rel), 0.0)
    return Decision(False, limit, 0, max(0.0, tat_rel), max(0.0, new_rel - period_s))


class Limiter(Protocol):
    async def hit(self, key: str, limit: int, period_s: float = PERIOD_S) -> Decision: ...

    async def aclose(self) -> None: ...


class MemoryLimiter:
    """GCRA buckets in this process (one API process, tests, ``newstalk up``)."""

    def __init__(self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._tat: dict[str, float] = {}
        self._max_keys = max_keys
        self._clock = clock

    async def hit(self, key: str, limit: int, period_s: float = PERIOD_S) -> Decision:
        now = self._clock()
        tat = max(self._tat.get(key, now), now)
        new_tat = tat + period_s / limit
        allowed = new_tat - now <= period_s + 1e-9
        if allowed:
            if len(self._tat) >= self._max_keys and key not in self._tat:
                self._sweep(now)
            self._tat[key] = new_tat
        return _decide(limit, period_s, allowed, tat - now, new_tat - now)

    def _sweep(self, now: float) -> None:
        # Buckets whose arrival time has passed are full again: forgetting them changes nothing.
        self._tat = {k: v for k, v in self._tat.items() if v > now}
        if len(self._tat) >= self._max_keys:
            self._tat.clear()

    async def aclose(self) -> None:
        self._tat.clear()


_GCRA_LUA = """
local period = tonumber(ARGV[1])
local interval = period / tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local allowed = 0
if new_tat - now <= period + 1e-9 then
  allowed = 1
  redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1)
end
return {allowed, string.format('%.6f', tat - now), string.format('%.6f', new_tat - now)}
"""


class RedisLimiter:
    """GCRA buckets in Redis, shared by every process that uses the same Redis and prefix."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        timeout_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, health_check_interval=30
        )
        self._script = self._redis.register_script(_GCRA_LUA)
        self._prefix = prefix
        self._fallback = MemoryLimiter(clock=clock)
        self._clock = clock
        self._redis_down_until = 0.0
        self._last_error_log = 0.0

    async def hit(self, key: str, limit: int, period_s: float = PERIOD_S) -> Decision:
        if self._clock() < self._redis_down_until:
            metrics.RATELIMIT_FALLBACK.inc()
            return await self._fallback.hit(key, limit, period_s)
        try:
            allowed, tat_rel, new_rel = await self._script(keys=[self._prefix + key], args=[period_s, limit])
        except Exception as exc:
            metrics.RATELIMIT_ERRORS.inc()
            metrics.RATELIMIT_FALLBACK.inc()
            self._redis_down_until = self._clock() + FALLBACK_HOLD_S
            if self._clock() - self._last_error_log > 60:
                self._last_error_log = self._clock()
                log.warning(
                    "ratelimit: Redis failed (%s); counting in this process for %.0f s, then retrying Redis",
                    type(exc).__name__,
                    FALLBACK_HOLD_S,
                )
            return await self._fallback.hit(key, limit, period_s)
        return _decide(limit, period_s, bool(int(allowed)), float(tat_rel), float(new_rel))

    async def aclose(self) -> None:
        await self._fallback.aclose()
        await self._redis.aclose()


def build_limiter(redis_url: str | None, prefix: str, *, timeout_s: float = 0.1) -> Limiter:
    """Redis-backed (with an in-process fallback) when a URL is configured, in process otherwise."""
    if redis_url:
        return RedisLimiter(redis_url, prefix=prefix, timeout_s=timeout_s)
    return MemoryLimiter()


SCOPE_KEY = "newstalk_ratelimit"


@dataclass(frozen=True, slots=True)
class Policy:
    """The limits one application applies: a default per caller and per-route overrides."""

    limiter: Limiter
    default: int
    routes: dict[str, int]

    def bucket(self, method: str, template: str) -> tuple[str, int]:
        """The bucket a route counts against and its limit; routes with their own limit get their own."""
        key = f"{method} {template}"
        if key in self.routes:
            return key, self.routes[key]
        return "default", self.default


async def check(scope: Scope, policy: Policy, method: str, template: str, who: str) -> Decision | None:
    """Count one request; the headers to send go in the scope. None when the route is unlimited."""
    bucket, limit = policy.bucket(method, template)
    if limit <= 0:
        return None
    decision = await policy.limiter.hit(f"rl:{bucket}:{who}", limit)
    scope[SCOPE_KEY] = headers(decision)
    if not decision.allowed:
        metrics.RATELIMIT_REJECTED.labels(bucket).inc()
    return decision


async def check_account(policy: Policy, email: str, limit: int) -> Decision:
    """Count one sign-in attempt against the targeted account (by email), ``limit`` an hour."""
    target = hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    decision = await policy.limiter.hit(f"rl:account:{target}", limit, ACCOUNT_PERIOD_S)
    if not decision.allowed:
        metrics.RATELIMIT_REJECTED.labels("account").inc()
    return decision


def headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    """RateLimit-* headers for a decision, and Retry-After when it refused."""
    out = [
        (b"ratelimit-limit", str(decision.limit).encode()),
        (b"ratelimit-remaining", str(decision.remaining).encode()),
        (b"ratelimit-reset", str(math.ceil(decision.reset_s)).encode()),
        (b"ratelimit-policy", f"{decision.limit};w={int(PERIOD_S)}".encode()),
    ]
    if not decision.allowed:
        out.append((b"retry-after", str(retry_after(decision)).encode()))
    return out


def retry_after(decision: Decision) -> int:
    return max(1, math.ceil(decision.retry_after_s))


def refusal(decision: Decision) -> str:
    """The problem detail of a 429."""
    return f"ratelimit: more than {decision.limit} requests a minute; retry in {retry_after(decision)} s"


class RateLimitHeadersMiddleware:
    """Adds the headers ``check`` left in the scope to the response, whatever the endpoint returned."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and SCOPE_KEY in scope:
                message["headers"] = [*message.get("headers", []), *scope[SCOPE_KEY]]
            await send(message)

        await self.app(scope, receive, send_with_headers)
