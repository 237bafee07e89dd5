"""One error hierarchy for the whole service; each class maps to an HTTP status.

Messages name their place and say what to do, for example
``"sources: feed returned HTTP 404; the source was paused after 5 failures"``.
The API renders them as application/problem+json.
"""

from __future__ import annotations


class NewsTalkError(Exception):
    """Base class; ``detail`` is a one-line, user-facing message."""

    status_code: int = 500
    title: str = "Internal error"
    slug: str = "internal"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(NewsTalkError):
    status_code = 422
    title = "Invalid input"
    slug = "invalid-input"


class NotFound(NewsTalkError):
    status_code = 404
    title = "Not found"
    slug = "not-found"


class Conflict(NewsTalkError):
    status_code = 409
    title = "Conflict"
    slug = "conflict"


class Unauthorized(NewsTalkError):
    status_code = 401
    title = "Unauthorized"
    slug = "unauthorized"


class Forbidden(NewsTalkError):
    status_code = 403
    title = "Forbidden"
    slug = "forbidden"


class RateLimited(NewsTalkError):
    """Too many requests; the response carries Retry-After and RateLimit-* headers."""

    status_code = 429
    title = "Too many requests"
    slug = "rate-limited"


class Unavailable(NewsTalkError):
    status_code = 503
    title = "Service unavailable"
    slug = "unavailable"


class ConfigError(NewsTalkError):
    """Settings are wrong; raised at start-up, never during a request."""

    slug = "config"


class FetchError(NewsTalkError):
    """A remote resource could not be fetched; ``reason`` is a short machine-readable tag."""

    status_code = 502
    title = "Fetch failed"
    slug = "fetch-failed"
    reason: str = "error"

    def __init__(self, detail: str, *, reason: str | None = None) -> None:
        super().__init__(detail)
        if reason is not None:
            self.reason = reason


class BlockedAddress(FetchError):
    """The URL resolves to a private, loopback, link-local or metadata address."""

    status_code = 422
    title = "Address not allowed"
    slug = "blocked-address"
    reason = "blocked-address"


class FeedParseError(NewsTalkError):
    """The body is not a feed we can read."""

    status_code = 422
    title = "Feed could not be parsed"
    slug = "feed-parse"
