"""Serve a labelled stream as one RSS feed per outlet on 127.0.0.1, revealing items wave by wave."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

from newstalk.replay.stream import StreamItem


class StreamFeeds:
    """Outlet feeds over a stream; ``revealed`` items (in stream order) are visible, the rest not yet.

    ``/feeds/{n}.xml`` is outlet n's RSS, ``/articles/{id}`` an article page (so links open).
    """

    def __init__(self, items: list[StreamItem]) -> None:
        self.items = items
        self.revealed = 0
        self.revealed_at: dict[str, datetime] = {}
        self.outlets = sorted({i.outlet for i in items})
        self._outlet_no = {name: n for n, name in enumerate(self.outlets)}
        self._by_id = {i.id: i for i in items}
        self._pos = {i.id: n for n, i in enumerate(items)}
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def base(self) -> str:
        assert self._server is not None
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def feed_url(self, outlet: str) -> str:
        return f"{self.base}/feeds/{self._outlet_no[outlet]}.xml"

    def article_url(self, item_id: str) -> str:
        return f"{self.base}/articles/{quote(item_id, safe='')}"

    def item_for_url(self, url: str) -> StreamItem | None:
        _, _, tail = url.partition("/articles/")
        return self._by_id.get(unquote(tail.split("?")[0])) if tail else None

    def language_of(self, outlet: str) -> str:
        langs: dict[str, int] = defaultdict(int)
        for i in self.items:
            if i.outlet == outlet:
                langs[i.language] += 1
        return max(langs, key=lambda k: langs[k])

    def rss(self, outlet: str) -> bytes:
        with self._lock:
            visible = [i for i in self.items[: self.revealed] if i.outlet == outlet]
        entries = "".join(
            f"<item><title>{escape(i.title)}</title><link>{escape(self.article_url(i.id))}</link>"
            f'<guid isPermaLink="false">{escape(i.id)}</guid><pubDate>{format_datetime(i.published)}</pubDate>'
            f"<description>{escape(i.body or i.title)}</description></item>"
            for i in reversed(visible)
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{escape(outlet)}</title><link>{self.base}/</link>"
            f"<language>{self.language_of(outlet)}</language><description>{escape(outlet)}</description>"
            f"{entries}</channel></rss>"
        ).encode()

    def page(self, item: StreamItem) -> bytes:
        paragraphs = "".join(
            f"<p>{escape(p)}</p>" for p in (item.body or item.title).split("\n") if p.strip()
        )
        return (
            f'<!doctype html><html lang="{item.language}"><head><meta charset="utf-8">'
            f"<title>{escape(item.title)}</title></head><body><article><h1>{escape(item.title)}</h1>"
            f"{paragraphs}</article></body></html>"
        ).encode()

    def start(self) -> None:
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                body, ctype, code = b"not found", "text/plain", 404
                if path.startswith("/feeds/") and path.endswith(".xml"):
                    try:
                        outlet = feeds.outlets[int(path[len("/feeds/") : -len(".xml")])]
                    except (ValueError, IndexError):
                        pass
                    else:
                        body, ctype, code = feeds.rss(outlet), "application/rss+xml; charset=utf-8", 200
                elif (item := feeds.item_for_url(path)) is not None and feeds._pos[item.id] < feeds.revealed:
                    body, ctype, code = feeds.page(item), "text/html; charset=utf-8", 200
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="replay-feeds", daemon=True).start()

    def reveal(self, count: int) -> None:
        now = datetime.now(UTC)
        with self._lock:
            before, self.revealed = self.revealed, min(len(self.items), max(self.revealed, count))
            for item in self.items[before : self.revealed]:
                self.revealed_at[item.id] = now

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
