"""HTTP plumbing shared by every router: problem+json errors, dependencies, metrics, cursors."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newstalk.errors import InvalidInput, NewsTalkError
from newstalk.kit import metrics

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, *, slug: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem response."""
    body = {
        "type": f"https://newstalk.dev/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as application/problem+json."""

    @app.exception_handler(NewsTalkError)
    async def _domain(_: Request, exc: NewsTalkError) -> JSONResponse:
        resp = problem(exc.status_code, exc.title, exc.detail, slug=exc.slug)
        if exc.status_code == 401:
            resp.headers["WWW-Authenticate"] = "Bearer"
        return resp

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body",
                "reason": err.get("msg", "invalid"),
            }
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem(422, "Invalid input", detail, slug="invalid-input", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        resp = problem(exc.status_code, detail, detail, slug=f"http-{exc.status_code}")
        for key, value in (exc.headers or {}).items():
            resp.headers[key] = value
        return resp

    out_of_range = "api: a number in the request is out of range; ids and counts are at most 2**63-1"

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        # SQLite refuses integers beyond 64 bits when binding them (an id of 10**30 in a
        # path or body); that is bad input, not a server fault.
        log.info("api: %s %s: %s", request.method, request.url.path, exc)
        return problem(422, "Invalid input", out_of_range, slug="invalid-input")

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        # PostgreSQL's counterpart: SQLSTATE 22003 numeric_value_out_of_range (bigint overflow).
        if getattr(exc.orig, "sqlstate", None) == "22003":
            log.info("api: %s %s: %s", request.method, request.url.path, exc.orig)
            return problem(422, "Invalid input", out_of_range, slug="invalid-input")
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("api: unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "api: unexpected error; see the server log", slug="internal")


class MetricsMiddleware:
    """Counts requests and latency by route template, never by raw path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            metrics.HTTP_REQUESTS.labels(template, method, str(status)).inc()
            metrics.HTTP_LATENCY.labels(template, method).observe(time.perf_counter() - start)


def encode_cursor(*parts: Any) -> str:
    """An opaque cursor for keyset pagination."""
    return base64.urlsafe_b64encode(json.dumps(parts, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """Parse a cursor made by ``encode_cursor`` or raise InvalidInput."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput("api: cursor is not valid; pass the next_cursor of a previous page") from None
    if not isinstance(parts, list) or len(parts) != size:
        raise InvalidInput("api: cursor is not valid; pass the next_cursor of a previous page")
    return parts


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Refuses request bodies over a cap with 413, checking Content-Length and the streamed bytes.

    ``large_prefixes`` get ``large_limit`` (OPML imports, WebSub pushes); everything else ``limit``.
    """

    def __init__(
        self, app: ASGIApp, *, limit: int, large_limit: int, large_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.limit = limit
        self.large_limit = large_limit
        self.large_prefixes = large_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        cap = self.large_limit if path.startswith(self.large_prefixes) else self.limit
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            await self._reject(scope, receive, send, cap)
            return
        seen = 0
        started = rejected = False

        async def limited_receive() -> Message:
            nonlocal seen, started, rejected
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap and not rejected:
                    # Answer now: frameworks turn errors raised while reading a body into a 400.
                    rejected = True
                    if not started:
                        started = True
                        await self._reject(scope, receive, send, cap)
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, limited_receive, tracking_send)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        detail = f"api: request body is larger than {cap} bytes"
        await problem(413, "Payload too large", detail, slug="too-large")(scope, receive, send)
