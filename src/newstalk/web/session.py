"""The browser session: HttpOnly cookies holding the API tokens, CSRF tokens, security headers.

Cookies: ``nt_access`` (the access token, lives as long as it does), ``nt_refresh`` (the
refresh token), ``nt_csrf`` (a random nonce), ``nt_lang`` (the language switch's choice) and
``nt_lang_pref`` (the UI language adopted from the listener's preferred languages). All are HttpOnly, SameSite=Lax, and Secure
outside development. A form or script proves it comes from our page by sending the CSRF
token, an HMAC of the nonce under the JWT secret, which only our pages render.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newstalk.config import Environment, Settings
from newstalk.kit.api import problem

ACCESS_COOKIE = "nt_access"
REFRESH_COOKIE = "nt_refresh"
CSRF_COOKIE = "nt_csrf"
LANG_COOKIE = "nt_lang"  # the language the listener chose with the header's switch
LANG_PREF_COOKIE = "nt_lang_pref"  # adopted from their preferred languages (sign-in, register, settings)
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Scripts and styles only from this origin: no inline script, no eval, no CDN.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def csrf_token(settings: Settings, nonce: str) -> str:
    """The token pages render for this browser's nonce (cookie-tossing cannot forge it)."""
    key = settings.jwt_secret.get_secret_value().encode()
    return hmac.new(key, b"csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def csrf_valid(settings: Settings, nonce: str | None, token: str | None) -> bool:
    if not nonce or not token:
        return False
    return hmac.compare_digest(csrf_token(settings, nonce), token)


@dataclass
class CookieJar:
    """Cookies a page decided to set or clear; applied to whatever response it returns."""

    secure: bool
    updates: dict[str, tuple[str, int]] = field(default_factory=dict)
    removals: set[str] = field(default_factory=set)

    def put(self, name: str, value: str, max_age: int) -> None:
        self.updates[name] = (value, max_age)
        self.removals.discard(name)

    def drop(self, name: str) -> None:
        self.removals.add(name)
        self.updates.pop(name, None)

    def apply(self, response: Response) -> None:
        for name, (value, max_age) in self.updates.items():
            response.set_cookie(
                name, value, max_age=max_age, path="/", secure=self.secure, httponly=True, samesite="lax"
            )
        for name in self.removals:
            response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="lax")


def secure_cookies(settings: Settings) -> bool:
    return settings.environment is not Environment.development


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


class CookieAuthMiddleware:
    """Lets the browser's session cookie stand in for ``Authorization: Bearer`` on every route.

    A request that sends its own Authorization header is left alone. A write (not GET/HEAD/
    OPTIONS) to ``/api/`` authenticated by the cookie must carry ``X-CSRF-Token``; without
    a valid one it is refused (403) before it reaches the endpoint. Web pages check the
    token of their forms themselves.
    """

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        if any(name == b"authorization" for name, _ in headers):
            await self.app(scope, receive, send)
            return
        cookies = HTTPConnection(scope).cookies
        access = cookies.get(ACCESS_COOKIE)
        if not access:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in SAFE_METHODS and scope["path"].startswith("/api/"):
            token = next((v.decode("latin-1") for n, v in headers if n == CSRF_HEADER.encode()), None)
            if not csrf_valid(self.settings, cookies.get(CSRF_COOKIE), token):
                await problem(
                    403,
                    "Forbidden",
                    "csrf: a write signed in by the browser session needs the page's X-CSRF-Token header",
                    slug="forbidden",
                )(scope, receive, send)
                return
        scope["headers"] = [*headers, (b"authorization", f"Bearer {access}".encode("latin-1"))]
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """Content-Security-Policy and friends on every HTML answer; a header the answer set itself
    wins (``/docs`` and ``/redoc`` bring their own policy, ``web.app.with_docs_csp``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                content_type = next((v for n, v in headers if n == b"content-type"), b"")
                if content_type.startswith(b"text/html"):
                    present = {n.lower() for n, _ in headers}
                    headers.extend(
                        (k.encode(), v.encode())
                        for k, v in SECURITY_HEADERS.items()
                        if k.encode() not in present
                    )
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)
