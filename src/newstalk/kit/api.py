"""HTTP plumbing shared by every router: problem+json errors, metrics, cursors, cached pages."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newstalk.errors import InvalidInput, NewsTalkError, RateLimited
from newstalk.kit import logs, metrics, ratelimit, tracing

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
# Where deps.optional_principal leaves the request's principal (or its Unauthorized) in the scope.
PRINCIPAL_SCOPE_KEY = "newstalk_principal"
# Set by the web pages on the API calls they make in process (never by the network): the
# page request already counted against the caller's rate limit, its calls do not count again.
INTERNAL_SCOPE_KEY = "newstalk_internal"


class Caller(Protocol):
    @property
    def user_id(self) -> int | None: ...


class CallerCache(Protocol):
    """What the page cache needs of accounts.principals.PrincipalCache (kit does not import accounts)."""

    def get(self, credential: str) -> Caller | None: ...


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


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestContextMiddleware:
    """Gives each request an id (the caller's ``X-Request-ID`` when it is sane, else a new
    one), binds it to every log line the request makes and to the events it queues, opens the
    request's server span under the caller's ``traceparent``, and returns the id in
    ``X-Request-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (
            self._http(scope, receive, send) if scope["type"] == "http" else self.app(scope, receive, send)
        )

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        parent = {k: headers[k] for k in ("traceparent", "tracestate") if k in headers}
        method = scope.get("method", "GET")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
                if span is not None:
                    span.set_attribute("http.response.status_code", int(message["status"]))
            await send(message)

        with (
            logs.bind(request_id=request_id),
            tracing.span(
                method, parent=parent, kind="server", attributes={"http.request.method": method}
            ) as span,
        ):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                if span is not None:
                    template = getattr(scope.get("route"), "path", None) or "unmatched"
                    span.update_name(f"{method} {template}")
                    span.set_attribute("http.route", template)


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
        declared = None
        chunked = False
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if declared is None and not chunked:
            # HTTP/1.1 without either header has no body: nothing to count (most GETs).
            await self.app(scope, receive, send)
            return
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


@dataclass(frozen=True, slots=True)
class Page:
    """A rendered JSON page, kept with what it takes to answer it again without the database."""

    body: bytes
    etag: bytes
    # The matched route: its template labels metrics and picks the rate-limit bucket on a hit.
    route: Any
    expires_at: float
    headers: tuple[tuple[bytes, bytes], ...]
    # Asked on every hit (private pages only): False drops the page and the endpoint answers.
    valid: Callable[[], bool] | None = None


class PageCache:
    """Rendered GET pages (news, stories, trending; a listener's own preferences) for a few seconds.

    Every client asks for the same first pages; rendering each once per ``ttl_s`` takes the
    database query and the serialization off every other request. Pages are keyed by path
    and normalized query string and are the same for every caller (anonymous or not), so
    the answer is identical to a fresh one up to ``ttl_s`` old: other processes' writes show
    within that bound, writes through this process's API clear the paths they touch at once.
    A per-request freshness query was measured and rejected: it puts a database round trip
    back on every request, which is most of what the cache saves. Size is bounded by bytes,
    least recently stored pages go first.

    Private pages (``owner`` set: what one listener sees of their own data) are keyed by
    path, query and owner, are only ever answered to that owner, carry
    ``Cache-Control: private, no-cache``, and are dropped as soon as their owner writes
    anything through this process (``invalidate_owner``).
    """

    def __init__(
        self, ttl_s: float, *, max_bytes: int = 32 * 1024 * 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_bytes = max_bytes
        self._clock = clock
        self._pages: OrderedDict[str, Page] = OrderedDict()
        self._bytes = 0
        self._paths: dict[str, bool] = {}  # path -> whether its pages are private
        self._owners: dict[str, int] = {}  # key of a private page -> its owner
        # owner -> serial of their last write through this process (see owner_version)
        self._owner_writes: OrderedDict[int, int] = OrderedDict()
        self._write_serial = 0
        self._forgotten_serial = 0  # the newest serial dropped from _owner_writes
        self._inflight: dict[str, asyncio.Future[Page | None]] = {}
        max_age = math.ceil(ttl_s)
        self.cache_control = f"public, max-age={max_age}".encode() if max_age > 0 else b"no-cache"
        self.private_cache_control = b"private, no-cache"

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def serves(self, path: str) -> bool:
        """Whether pages of this path were ever cached (a set lookup before any parsing)."""
        return path in self._paths

    @property
    def has_private_pages(self) -> bool:
        return bool(self._owners)

    def private(self, path: str) -> bool:
        """Whether this path's pages are per owner (only meaningful when ``serves(path)``)."""
        return self._paths.get(path, False)

    def get(self, key: str) -> Page | None:
        page = self._pages.get(key)
        if page is None:
            return None
        if page.expires_at <= self._clock() or (page.valid is not None and not page.valid()):
            self._drop(key)
            return None
        return page

    def put(
        self,
        key: str,
        path: str,
        body: bytes,
        route: Any,
        *,
        owner: int | None = None,
        valid: Callable[[], bool] | None = None,
    ) -> Page:
        control = self.cache_control if owner is None else self.private_cache_control
        page = make_page(body, route, control, self._clock() + self.ttl_s)
        if valid is not None:
            page = dataclasses.replace(page, valid=valid)
        if not self.enabled or len(body) > self.max_bytes // 8:
            return page
        self._drop(key)
        self._pages[key] = page
        self._bytes += len(body)
        self._paths[path] = owner is not None
        if owner is not None:
            self._owners[key] = owner
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._pages)))
        return page

    async def render(
        self,
        key: str,
        path: str,
        route: Any,
        make: Callable[[], Awaitable[bytes]],
        *,
        owner: int | None = None,
        valid: Callable[[], bool] | None = None,
    ) -> Page:
        """The cached page, or render it once while concurrent requests for it wait (no stampede)."""
        page = self.get(key)
        if page is not None:
            return page
        waiting = self._inflight.get(key)
        if waiting is not None:
            page = await asyncio.shield(waiting)
            if page is not None:
                return page
        done: asyncio.Future[Page | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = done
        rendered: Page | None = None
        try:
            rendered = self.put(key, path, await make(), route, owner=owner, valid=valid)
        finally:
            # Waiters of a failed render (bad input, a cancelled request) render for themselves.
            done.set_result(rendered)
            if self._inflight.get(key) is done:
                del self._inflight[key]
        return rendered

    def invalidate(self, *paths: str) -> None:
        """Forget every cached page of these paths (after a write through this process)."""
        for key in [k for k in self._pages if k.split("?", 1)[0].split("#", 1)[0] in paths]:
            self._drop(key)

    def invalidate_owner(self, owner: int) -> None:
        """Forget every private page of this owner and move their ``owner_version`` (after they wrote)."""
        self._write_serial += 1
        self._owner_writes[owner] = self._write_serial
        self._owner_writes.move_to_end(owner)
        while len(self._owner_writes) > 100_000:
            _, serial = self._owner_writes.popitem(last=False)
            self._forgotten_serial = max(self._forgotten_serial, serial)
        if not self._owners:
            return
        for key in [k for k, o in self._owners.items() if o == owner]:
            self._drop(key)

    def owner_version(self, owner: int) -> int:
        """A number that changes whenever this owner writes through this process.

        Other per-listener caches (the feed's listener profiles) compare it to skip a
        freshness query while it holds; an owner forgotten to bound memory reads as the
        newest forgotten serial, which only ever moves forward (a spurious change, never a
        missed one).
        """
        return self._owner_writes.get(owner, self._forgotten_serial)

    def _drop(self, key: str) -> None:
        page = self._pages.pop(key, None)
        if page is not None:
            self._bytes -= len(page.body)
        self._owners.pop(key, None)


def make_page(body: bytes, route: Any, cache_control: bytes, expires_at: float) -> Page:
    etag = b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
    headers = (
        (b"content-type", b"application/json"),
        (b"etag", etag),
        (b"cache-control", cache_control),
    )
    return Page(body=body, etag=etag, route=route, expires_at=expires_at, headers=headers)


def page_key(scope: Scope) -> str:
    """Path plus the raw query parameters sorted by name.

    The sort is stable, so repeats of one name keep their order (the last one wins), and
    the answer to the key is the answer to the request. Spellings that differ only in
    percent-encoding get separate entries: harmless, and cheaper than decoding every hit.
    """
    path: str = scope["path"]
    query: bytes = scope.get("query_string", b"")
    if not query:
        return path
    if b"&" in query:
        params: list[bytes] = query.split(b"&")
        params.sort(key=_param_name)
        query = b"&".join(params)
    return f"{path}?{query.decode('latin-1')}"


def private_key(key: str, owner: int) -> str:
    """The key of an owner's private page: the page key plus ``#owner`` (never a public key)."""
    return f"{key}#{owner}"


def _param_name(param: bytes) -> bytes:
    return param.partition(b"=")[0]


def not_modified(if_none_match: bytes | str | None, etag: bytes) -> bool:
    """RFC 9110 weak comparison of If-None-Match against our (strong) ETag."""
    if not if_none_match:
        return False
    raw = if_none_match.encode("latin-1") if isinstance(if_none_match, str) else if_none_match
    for tag in raw.split(b","):
        tag = tag.strip()
        if tag == b"*" or tag.removeprefix(b"W/") == etag:
            return True
    return False


def page_cache(request: Request) -> PageCache:
    cache: PageCache = request.app.state.page_cache
    return cache


async def cached_json(
    request: Request,
    make: Callable[[], Awaitable[bytes]],
    *,
    owner: int | None = None,
    valid: Callable[[], bool] | None = None,
) -> Response:
    """Answer a GET with the cached rendering of this path and query, or render it with ``make``.

    ``make`` returns the JSON body; it runs at most once per key and TTL in this process.
    The response carries an ETag (304 on a matching If-None-Match). A public page (no
    ``owner``) is the same for every caller, signed in or not, and its Cache-Control lets a
    CDN or browser keep it as long as this process does. A page that depends on who asks
    passes ``owner`` (the listener's user id, after the endpoint checked the credential):
    it is keyed by owner too and only ever answered to that owner. ``valid`` (private
    pages) is asked on every later hit, after ``make`` ran: a page whose inputs may have
    changed answers False and is rendered again.
    """
    cache = page_cache(request)
    key = page_key(request.scope)
    if owner is not None:
        key = private_key(key, owner)
    page = await cache.render(
        key, request.scope["path"], request.scope.get("route"), make, owner=owner, valid=valid
    )
    return page_response(page, request.headers.get("if-none-match"))


def page_response(page: Page, if_none_match: bytes | str | None) -> Response:
    if not_modified(if_none_match, page.etag):
        response = Response(status_code=304)
        response.raw_headers = [h for h in page.headers if h[0] != b"content-type"]
        return response
    response = Response(page.body)
    response.raw_headers = [(b"content-length", str(len(page.body)).encode()), *page.headers]
    return response


def invalidate_pages(request: Request, *paths: str) -> None:
    """Drop this process's cached pages of these paths; call after a write that changes them."""
    page_cache(request).invalidate(*paths)


class PageCacheMiddleware:
    """Answers GETs of cached pages before routing, with the same rate limit and metrics.

    The endpoint path (routing, parameter validation, dependencies) is most of the cost of
    a cached page; a page is only here after its endpoint validated that exact query and
    rendered it, so answering again is the endpoint's own answer.

    A request with ``Authorization`` is answered here only when its credential is in the
    principal cache (``app.state.principal_cache``: resolved and checked against the
    database in the last few seconds, and not invalidated since), so a bad, revoked or
    unknown credential always goes through the endpoint and its authentication. It then
    counts against the listener's rate-limit bucket, gets public pages as anyone would,
    and gets private pages of its own account only. A write (not a GET) by a signed-in
    caller drops that caller's private pages and moves their ``owner_version`` when its
    answer starts (after the endpoint committed).
    """

    def __init__(self, app: ASGIApp, *, cache: PageCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] != "GET":
            if scope["method"] in ("HEAD", "OPTIONS"):
                await self.app(scope, receive, send)
            else:
                await self.app(scope, receive, self._dropping_owner_pages(scope, send))
            return
        if not self.cache.serves(scope["path"]):
            await self.app(scope, receive, send)
            return
        if_none_match = None
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"if-none-match":
                if_none_match = value
        caller: Caller | None = None
        if authorization is not None:
            caller = self._known_caller(scope, authorization)
            if caller is None:
                await self.app(scope, receive, send)
                return
        key = page_key(scope)
        if self.cache.private(scope["path"]):
            if caller is None or caller.user_id is None:
                await self.app(scope, receive, send)
                return
            key = private_key(key, caller.user_id)
        page = self.cache.get(key)
        if page is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = page.route
        if caller is not None:
            scope[PRINCIPAL_SCOPE_KEY] = caller
        policy: ratelimit.Policy | None = getattr(scope["app"].state, "rate_limits", None)
        if policy is not None and not scope.get(INTERNAL_SCOPE_KEY):
            template = page.route.path
            if caller is not None and caller.user_id is not None and template not in ratelimit.ADDRESS_ROUTES:
                who = f"user:{caller.user_id}"
            else:
                client = scope.get("client")
                who = f"ip:{client[0] if client else 'unknown'}"
            decision = await ratelimit.check(scope, policy, "GET", template, who)
            if decision is not None and not decision.allowed:
                error = RateLimited(ratelimit.refusal(decision))
                await problem(error.status_code, error.title, error.detail, slug=error.slug)(
                    scope, receive, send
                )
                return
        if not_modified(if_none_match, page.etag):
            headers = [h for h in page.headers if h[0] != b"content-type"]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [(b"content-length", str(len(page.body)).encode()), *page.headers]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": page.body})

    @staticmethod
    def _known_caller(scope: Scope, authorization: bytes) -> Caller | None:
        """The principal of a credential in the principal cache, or None (the endpoint decides)."""
        callers: CallerCache | None = getattr(scope["app"].state, "principal_cache", None)
        if callers is None:
            return None
        scheme, _, credential = authorization.decode("latin-1").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return None
        return callers.get(credential)

    def _dropping_owner_pages(self, scope: Scope, send: Send) -> Send:
        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                caller = scope.get(PRINCIPAL_SCOPE_KEY)
                owner = getattr(caller, "user_id", None)
                if isinstance(owner, int):
                    self.cache.invalidate_owner(owner)
            await send(message)

        return send_wrapper


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every answer to a POST, PUT, PATCH or DELETE that sets none.

    Those answers carry what must never sit in a browser or proxy cache: access and refresh
    tokens, new API keys, webhook signing secrets, podcast feed tokens.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)
