"""A real HTTP server on 127.0.0.1 that serves feeds tests build, with ETag and Last-Modified.

Tests mutate ``server.routes`` while it runs; each route answers 304 to a matching
If-None-Match. Requests are counted per path.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


@dataclass
class Route:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    location: str | None = None
    delay_s: float = 0.0
    # False: no ETag and no 304 (a server without conditional GET).
    validators: bool = True
    cache_control: str | None = None

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@dataclass
class FeedServer:
    host: str
    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    not_modified: Counter[str] = field(default_factory=Counter)
    user_agents: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path
            server.hits[path] += 1
            server.user_agents.append(self.headers.get("User-Agent", ""))
            route = server.routes.get(path)
            if route is None:
                self._send(404, b"not found", "text/plain")
                return
            if route.delay_s:
                time.sleep(route.delay_s)
            if route.location:
                self.send_response(route.status)
                self.send_header("Location", route.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if route.validators and route.status == 200 and self.headers.get("If-None-Match") == route.etag:
                server.not_modified[path] += 1
                self.send_response(304)
                self.send_header("ETag", route.etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = route.etag if route.validators else None
            self._send(
                route.status, route.body, route.content_type, etag=etag, cache_control=route.cache_control
            )

        def _send(
            self,
            status: int,
            body: bytes,
            ctype: str,
            etag: str | None = None,
            cache_control: str | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if etag:
                self.send_header("ETag", etag)
            if cache_control:
                self.send_header("Cache-Control", cache_control)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def serve() -> Iterator[FeedServer]:
    """Run a FeedServer in a thread for the duration of a fixture."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(FeedServer("127.0.0.1", 0)))
    state = FeedServer("127.0.0.1", httpd.server_address[1])
    httpd.RequestHandlerClass = _handler(state)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass(frozen=True)
class Item:
    title: str
    link: str
    body: str
    published: datetime


def items(
    prefix: str, n: int, *, base_url: str, lang: str = "en", start: datetime | None = None
) -> list[Item]:
    """n distinct items, newest first, one every 10 minutes."""
    t0 = start or datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    out = []
    for i in range(n):
        if lang == "ko":
            title = f"{prefix} 기사 {i}: 시의회, 예산안 {i + 10}억 원 처리"
            body = (
                f"{prefix} 시의회는 {i + 10}억 원 규모의 예산안을 처리했다. 의원들은 {i}번째 안건을 논의했다."
            )
        else:
            title = f"{prefix} story {i}: council approves budget of {i + 10} million"
            body = (
                f"The {prefix} council approved a budget of {i + 10} million dollars after debating item {i}."
            )
        out.append(Item(title, f"{base_url}/{prefix}/{i}", body, t0 + timedelta(minutes=10 * i)))
    return sorted(out, key=lambda it: it.published, reverse=True)


def rss(
    title: str, entries: Sequence[Item], *, lang: str = "en", hub: str | None = None, ttl: str | None = None
) -> bytes:
    """An RSS 2.0 document; ``ttl`` is the channel's ``<ttl>`` (minutes) when given."""
    hub_link = f'<atom:link rel="hub" href="{escape(hub)}"/>' if hub else ""
    if ttl is not None:
        hub_link += f"<ttl>{escape(ttl)}</ttl>"
    body = "".join(
        f"<item><title>{escape(e.title)}</title><link>{escape(e.link)}?utm_source=feed</link>"
        f"<guid>{escape(e.link)}</guid><pubDate>{format_datetime(e.published)}</pubDate>"
        f"<description>{escape(e.body)}</description></item>"
        for e in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
        f"<channel><title>{escape(title)}</title><link>http://example.org/</link><language>{lang}</language>"
        f"{hub_link}{body}</channel></rss>"
    ).encode()


def atom(title: str, entries: Sequence[Item]) -> bytes:
    """An Atom 1.0 document."""
    body = "".join(
        f'<entry><title>{escape(e.title)}</title><link href="{escape(e.link)}"/><id>{escape(e.link)}</id>'
        f'<updated>{e.published.isoformat()}</updated><content type="text">{escape(e.body)}</content></entry>'
        for e in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:test:{escape(title)}</id>"
        f"<updated>2026-11-20T09:00:00Z</updated>{body}</feed>"
    ).encode()
