"""Password hashing (argon2id), JWT access tokens, and random refresh tokens and API keys.

Refresh tokens and API keys are 256-bit random strings, so a plain SHA-256 is enough to
store them (nothing to brute-force); passwords get argon2id. Hashing runs in a thread and
at most ``HASH_CONCURRENCY`` at a time (a burst queues): each one takes 64 MiB and ~0.1-0.5 s of CPU.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from newstalk.errors import Unauthorized

API_KEY_PREFIX = "ntk_"
ISSUER = "newstalk"
AUDIENCE = "newstalk-api"
ALGORITHM = "HS256"
HASH_CONCURRENCY = 2
T = TypeVar("T")

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4)


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the email is unknown, so a login takes as long either way.
    return _hasher.hash(secrets.token_hex(16))


@functools.cache
def _hash_pool() -> ThreadPoolExecutor:
    # Its own small pool: a burst of logins queues here instead of taking every default thread.
    return ThreadPoolExecutor(max_workers=HASH_CONCURRENCY, thread_name_prefix="argon2")


async def _off_loop(fn: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_hash_pool(), fn)


async def hash_password(password: str) -> str:
    """The argon2id hash of a password, computed off the event loop."""
    return await _off_loop(lambda: _hasher.hash(password))


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; an unknown user (None) costs the same time and is False."""

    def check() -> bool:
        try:
            return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await _off_loop(check)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def next_refresh_token(secret: str, previous: str) -> str:
    """The refresh token that replaces ``previous``: HMAC-derived, so a retried rotation gets it again.

    Only its hash is stored, like every refresh token; without the server secret the
    successor of a token cannot be computed from it.
    """
    mac = hmac.new(secret.encode(), b"newstalk-refresh-successor:" + previous.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def new_api_key() -> str:
    """A personal API key: a recognisable prefix, then 256 random bits."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def looks_like_api_key(credential: str) -> bool:
    return credential.startswith(API_KEY_PREFIX)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    session_id: int
    role: str
    expires_at: datetime


def issue_access_token(
    secret: str, *, user_id: int, session_id: int, role: str, now: datetime, ttl_s: int
) -> str:
    """A signed HS256 JWT naming the user, the login session and the role at issue time."""
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "sid": session_id,
        "role": role,
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_access_token(secret: str, token: str) -> AccessClaims:
    """Verify signature, issuer, audience, type and expiry, or raise Unauthorized saying which."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "sid", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized(
            "auth: access token expired; get a new one from POST /api/v1/auth/refresh"
        ) from None
    except jwt.InvalidTokenError:
        raise Unauthorized("auth: access token is not valid; log in again") from None
    if (
        claims.get("typ") != "access"
        or not str(claims["sub"]).isdigit()
        or not isinstance(claims["sid"], int)
    ):
        raise Unauthorized("auth: access token is not valid; log in again")
    return AccessClaims(
        user_id=int(claims["sub"]),
        session_id=claims["sid"],
        role=str(claims.get("role", "")),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )
