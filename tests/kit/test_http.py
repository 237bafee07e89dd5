"""Fetcher tests against a real threaded HTTP server on 127.0.0.1.

An autouse fixture wraps httpcore's connect so any attempt to open a socket to a
non-loopback address fails the test instead of sending traffic.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import socket
import threading
import time
import zlib
from collections.abc import Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar

import httpcore
import pytest

from newstalk.errors import BlockedAddress, FetchError, InvalidInput
from newstalk.kit import http as kit_http
from newstalk.kit.http import Fetcher, FetchResult, check_url, is_public_address

UA = "NewsTalk/0.1 (+https://github.com/newstalk)"
FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"
LOOPBACK = {"127.0.0.1", "::1"}


T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.active = 0
        self.max_active = 0


class Handler(BaseHTTPRequestHandler):
    state: ClassVar[State]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, status: int, location: str) -> None:
        self._send(status, b"", {"Location": location})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.state.requests.append(("POST", self.path, dict(self.headers)))
        self._send(202, b"got " + body)

    def do_GET(self) -> None:
        try:
            self._get()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    def _get(self) -> None:
        state = self.state
        with state.lock:
            state.requests.append(("GET", self.path, dict(self.headers)))
        parts = self.path.strip("/").split("/")
        name = parts[0]
        if name == "feed":
            if self.headers.get("If-None-Match") == '"v1"':
                self._send(304, b"", {"ETag": '"v1"'})
            else:
                self._send(200, FEED, {"ETag": '"v1"', "Content-Type": "application/rss+xml"})
        elif name == "lm":
            stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
            if self.headers.get("If-Modified-Since") == stamp:
                self._send(304)
            else:
                self._send(200, FEED, {"Last-Modified": stamp})
        elif name == "gzip":
            self._send(200, gzip.compress(FEED), {"Content-Encoding": "gzip"})
        elif name == "gzip2":
            body = gzip.compress(FEED[:20]) + gzip.compress(FEED[20:])
            self._send(200, body, {"Content-Encoding": "gzip"})
        elif name == "deflate-raw":
            comp = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            body = comp.compress(FEED) + comp.flush()
            self._send(200, body, {"Content-Encoding": "deflate"})
        elif name == "deflate":
            self._send(200, zlib.compress(FEED), {"Content-Encoding": "deflate"})
        elif name == "corrupt":
            self._send(200, b"not gzip at all", {"Content-Encoding": "gzip"})
        elif name == "bomb":
            self._send(200, BOMB, {"Content-Encoding": "gzip"})
        elif name == "big":
            self._send(200, b"x" * 200_000)
        elif name == "endless":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            chunk = b"y" * 16384
            for _ in range(100_000):
                self.wfile.write(chunk)
        elif name == "trickle":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for _ in range(200):
                self.wfile.write(b"z")
                self.wfile.flush()
                time.sleep(0.1)
        elif name in ("r301", "r302", "r308"):
            left = int(parts[1])
            if left == 0:
                self._send(200, FEED)
            else:
                self._redirect(int(name[1:]), f"/{name}/{left - 1}")
        elif name == "mixed":
            self._redirect(301, "/r302/1")
        elif name == "to":
            self._redirect(302, "http://" + "/".join(parts[1:]))
        elif name == "ftp":
            self._redirect(302, "ftp://example.com/feed")
        elif name == "slow":
            with state.lock:
                state.active += 1
                state.max_active = max(state.max_active, state.active)
            time.sleep(0.3)
            with state.lock:
                state.active -= 1
            self._send(200, b"ok")
        elif name == "status":
            self._send(int(parts[1]), b"nope")
        else:
            self._send(404, b"unknown")


BOMB = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-response (cap and deadline tests) are expected."""


@pytest.fixture
def server() -> Iterator[tuple[str, State]]:
    state = State()
    handler = type("BoundHandler", (Handler,), {"state": state})
    httpd = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every outgoing TCP connect and refuse any that is not loopback."""
    seen: list[str] = []
    original = httpcore.AnyIOBackend.connect_tcp

    async def guarded(self: httpcore.AnyIOBackend, host: str, port: int, **kw: Any) -> Any:
        seen.append(host)
        if host not in LOOPBACK:
            raise httpcore.ConnectError(f"test refused to connect to {host}")
        return await original(self, host, port, **kw)

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", guarded)
    return seen


def fetcher(**kw: Any) -> Fetcher:
    options: dict[str, Any] = {"user_agent": UA, "allow_private_networks": True, "timeout_s": 5.0}
    options.update(kw)
    return Fetcher(**options)


async def fetch_once(url: str, **kw: Any) -> FetchResult:
    f = fetcher(**kw)
    try:
        return await f.fetch(url)
    finally:
        await f.aclose()


async def expect_error(url: str, **kw: Any) -> FetchError:
    with pytest.raises(FetchError) as info:
        await fetch_once(url, **kw)
    return info.value


def test_etag_then_304(server: tuple[str, State]) -> None:
    base, state = server

    async def go() -> tuple[FetchResult, FetchResult]:
        f = fetcher()
        try:
            first = await f.fetch(f"{base}/feed")
            second = await f.fetch(f"{base}/feed", etag=first.etag)
            return first, second
        finally:
            await f.aclose()

    first, second = run(go())
    assert first.status == 200
    assert first.body == FEED
    assert first.etag == '"v1"'
    assert first.content_type == "application/rss+xml"
    assert first.permanent_url is None
    assert first.url == f"{base}/feed"
    assert second.status == 304
    assert second.body == b""
    assert second.etag == '"v1"'
    assert state.requests[1][2]["If-None-Match"] == '"v1"'
    assert all(r[2]["User-Agent"] == UA for r in state.requests)
    assert "rss+xml" in state.requests[0][2]["Accept"]


def test_last_modified_then_304(server: tuple[str, State]) -> None:
    base, _ = server

    async def go() -> tuple[FetchResult, FetchResult]:
        f = fetcher()
        try:
            first = await f.fetch(f"{base}/lm")
            second = await f.fetch(f"{base}/lm", last_modified=first.last_modified)
            return first, second
        finally:
            await f.aclose()

    first, second = run(go())
    assert first.last_modified == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert second.status == 304
    assert second.body == b""
    assert second.last_modified == first.last_modified


@pytest.mark.parametrize("path", ["gzip", "gzip2", "deflate", "deflate-raw"])
def test_compressed_bodies_are_decoded(server: tuple[str, State], path: str) -> None:
    base, state = server
    result = run(fetch_once(f"{base}/{path}"))
    assert result.body == FEED
    assert "gzip" in state.requests[0][2]["Accept-Encoding"]


def test_corrupt_gzip_is_a_decode_error(server: tuple[str, State]) -> None:
    base, _ = server
    assert run(expect_error(f"{base}/corrupt")).reason == "decode"


def test_gzip_bomb_is_cut_at_max_bytes(server: tuple[str, State]) -> None:
    base, _ = server
    assert len(BOMB) < 1024 * 1024
    error = run(expect_error(f"{base}/bomb", max_bytes=1024 * 1024))
    assert error.reason == "too-large"
    assert "/bomb" in error.detail


def test_decoder_never_expands_past_the_room() -> None:
    decoder = kit_http._Decoder("http://x/", "gzip")
    out = decoder.decode(BOMB, 1000)
    assert len(out) == 1001


def test_declared_length_over_cap(server: tuple[str, State]) -> None:
    base, _ = server
    assert run(expect_error(f"{base}/big", max_bytes=100_000)).reason == "too-large"


def test_endless_body_is_cut_at_cap(server: tuple[str, State]) -> None:
    base, _ = server
    assert run(expect_error(f"{base}/endless", max_bytes=100_000)).reason == "too-large"


def test_trickling_body_is_cut_by_deadline(server: tuple[str, State]) -> None:
    base, _ = server
    started = time.monotonic()
    error = run(expect_error(f"{base}/trickle", timeout_s=1.0))
    assert error.reason == "timeout"
    assert time.monotonic() - started < 4


def test_http_error_status(server: tuple[str, State]) -> None:
    base, _ = server
    error = run(expect_error(f"{base}/status/404"))
    assert error.reason == "http-404"
    assert error.detail == f"fetch: {base}/status/404 answered HTTP 404"


def test_five_redirects_ok_six_refused(server: tuple[str, State]) -> None:
    base, _ = server
    assert run(fetch_once(f"{base}/r302/5")).body == FEED
    assert run(expect_error(f"{base}/r302/6")).reason == "too-many-redirects"


@pytest.mark.parametrize("kind", ["r301", "r308"])
def test_permanent_chain_sets_permanent_url(server: tuple[str, State], kind: str) -> None:
    base, _ = server
    result = run(fetch_once(f"{base}/{kind}/3"))
    assert result.url == f"{base}/{kind}/0"
    assert result.permanent_url == f"{base}/{kind}/0"


def test_temporary_hop_clears_permanent_url(server: tuple[str, State]) -> None:
    base, _ = server
    result = run(fetch_once(f"{base}/mixed"))
    assert result.url == f"{base}/r302/0"
    assert result.permanent_url is None


def test_per_host_limit(server: tuple[str, State]) -> None:
    base, state = server

    async def go() -> None:
        f = fetcher(per_host_limit=2)
        try:
            await asyncio.gather(*(f.fetch(f"{base}/slow/{i}") for i in range(6)))
        finally:
            await f.aclose()

    run(go())
    assert state.max_active == 2


def test_post_form(server: tuple[str, State]) -> None:
    base, state = server

    async def go() -> tuple[int, bytes]:
        f = fetcher()
        try:
            return await f.post_form(f"{base}/hub", {"hub.mode": "subscribe", "hub.topic": "t"})
        finally:
            await f.aclose()

    status, body = run(go())
    assert status == 202
    assert body == b"got hub.mode=subscribe&hub.topic=t"
    assert state.requests[0][2]["User-Agent"] == UA


def test_post_json_returns_status_and_the_head_of_the_answer(server: tuple[str, State]) -> None:
    base, state = server

    async def go() -> tuple[int, bytes, str | None]:
        f = fetcher()
        try:
            return await f.post_json(f"{base}/hook", b'{"a":1}', {"X-Test": "yes"}, cap=6)
        finally:
            await f.aclose()

    status, head, retry_after = run(go())
    assert (status, head, retry_after) == (202, b'got {"', None)  # the answer cut at 6 bytes
    sent = state.requests[0][2]
    assert sent["Content-Type"] == "application/json"
    assert sent["Accept-Encoding"] == "identity"
    assert sent["X-Test"] == "yes"
    assert sent["User-Agent"] == UA


def test_post_json_keeps_the_address_guard(connections: list[str]) -> None:
    async def go() -> None:
        f = fetcher(allow_private_networks=False)
        try:
            await f.post_json("http://127.0.0.1:9/hook", b"{}", {}, cap=10)
        finally:
            await f.aclose()

    with pytest.raises(BlockedAddress):
        run(go())
    assert connections == []


def test_connect_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert run(expect_error(f"http://127.0.0.1:{port}/")).reason == "connect"


def test_tls_failure(server: tuple[str, State]) -> None:
    base, _ = server
    error = run(expect_error(base.replace("http://", "https://") + "/feed"))
    assert error.reason == "tls"


@pytest.mark.parametrize("url", ["ftp://example.com/feed", "file:///etc/passwd", "not a url"])
def test_bad_schemes_are_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput):
        run(fetch_once(url))


# SSRF guard


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("http://127.0.0.1:8080/feed", "a loopback address"),
        ("http://[::1]/feed", "a loopback address"),
        ("http://10.0.0.1/feed", "a private address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud-metadata address"),
        ("http://[::ffff:127.0.0.1]/feed", "a loopback address (embedded in IPv6)"),
        ("http://[fd00:ec2::254]/", "a cloud-metadata address"),
        ("http://100.100.100.200/", "a cloud-metadata address"),
        ("http://100.64.1.1/", "a shared (CGNAT) address"),
        ("http://0.0.0.0/", "an unspecified address"),
        ("http://[fe80::1]/", "a link-local address"),
    ],
)
def test_literal_blocked_before_any_connection(url: str, phrase: str, connections: list[str]) -> None:
    with pytest.raises(BlockedAddress) as info:
        run(fetch_once(url, allow_private_networks=False))
    assert connections == []
    assert phrase in info.value.detail
    assert info.value.detail.startswith(f"fetch: {url} resolves to ")
    assert "NEWSTALK_ALLOW_PRIVATE_NETWORKS=true" in info.value.detail
    assert info.value.reason == "blocked-address"


def test_blocked_message_format() -> None:
    with pytest.raises(BlockedAddress) as info:
        run(fetch_once("http://127.0.0.1:8080/feed", allow_private_networks=False))
    assert info.value.detail == (
        "fetch: http://127.0.0.1:8080/feed resolves to 127.0.0.1, a loopback address; "
        "set NEWSTALK_ALLOW_PRIVATE_NETWORKS=true to allow private networks"
    )


@pytest.mark.parametrize("host", ["localhost", "2130706433", "127.1", "0x7f.0.0.1"])
def test_hostnames_resolving_to_loopback_are_blocked(host: str, connections: list[str]) -> None:
    with pytest.raises(BlockedAddress):
        run(fetch_once(f"http://{host}:9/feed", allow_private_networks=False))
    assert connections == []


def fake_dns(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]) -> list[str]:
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[kit_http.IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address(a) for a in table[host]]

    monkeypatch.setattr(kit_http, "_resolve", resolve)
    return asked


def test_connection_goes_to_the_checked_ip(
    server: tuple[str, State], monkeypatch: pytest.MonkeyPatch, connections: list[str]
) -> None:
    base, state = server
    port = base.rsplit(":", 1)[1]
    asked = fake_dns(monkeypatch, {"feeds.rebind.test": ["127.0.0.1"]})
    result = run(fetch_once(f"http://feeds.rebind.test:{port}/feed"))
    assert result.body == FEED
    assert asked == ["feeds.rebind.test"]
    assert connections == ["127.0.0.1"]
    assert state.requests[0][2]["Host"] == f"feeds.rebind.test:{port}"


def test_public_answer_connects_to_that_literal(
    monkeypatch: pytest.MonkeyPatch, connections: list[str]
) -> None:
    fake_dns(monkeypatch, {"news.example": ["93.184.215.14"]})
    error = run(expect_error("http://news.example/feed", allow_private_networks=False))
    assert error.reason == "connect"
    assert connections == ["93.184.215.14"]


def test_any_private_answer_blocks_the_host(monkeypatch: pytest.MonkeyPatch, connections: list[str]) -> None:
    fake_dns(monkeypatch, {"mixed.example": ["93.184.215.14", "10.1.2.3"]})
    with pytest.raises(BlockedAddress) as info:
        run(fetch_once("http://mixed.example/feed", allow_private_networks=False))
    assert "10.1.2.3, a private address" in info.value.detail
    assert connections == []


def test_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[kit_http.IPAddress]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(kit_http, "_resolve", resolve)
    assert run(expect_error("http://nowhere.example/")).reason == "dns"


def test_redirect_to_blocked_address_is_refused(
    server: tuple[str, State], monkeypatch: pytest.MonkeyPatch, connections: list[str]
) -> None:
    base, state = server
    original = kit_http._classify

    def classify(ip: kit_http.IPAddress) -> str | None:
        # Treat only the test server's address as public so the first hop is allowed.
        return None if str(ip) == "127.0.0.1" else original(ip)

    monkeypatch.setattr(kit_http, "_classify", classify)
    for target in ["169.254.169.254/latest/meta-data", "10.0.0.1/x", "[::1]/feed"]:
        with pytest.raises(BlockedAddress) as info:
            run(fetch_once(f"{base}/to/{target}", allow_private_networks=False))
        assert info.value.detail.startswith(f"fetch: http://{target} resolves to")
    assert [r[1] for r in state.requests] == [
        "/to/169.254.169.254/latest/meta-data",
        "/to/10.0.0.1/x",
        "/to/[::1]/feed",
    ]
    assert set(connections) == {"127.0.0.1"}


def test_redirect_to_other_scheme_is_bad_redirect(server: tuple[str, State]) -> None:
    base, _ = server
    error = run(expect_error(f"{base}/ftp"))
    assert error.reason == "bad-redirect"
    assert "ftp://example.com/feed" in error.detail


def test_check_url() -> None:
    run(check_url("http://10.0.0.1/", allow_private_networks=True))
    with pytest.raises(BlockedAddress):
        run(check_url("http://10.0.0.1/", allow_private_networks=False))
    with pytest.raises(BlockedAddress):
        run(check_url("http://localhost:8000/", allow_private_networks=False))
    with pytest.raises(InvalidInput):
        run(check_url("gopher://example.com/", allow_private_networks=False))


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("0.0.0.0", False),
        ("192.0.2.1", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fd00:ec2::254", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.215.14", True),
        ("::127.0.0.1", False),
        ("2002:7f00:1::", False),
        ("64:ff9b::a00:1", False),
        ("2001:0::1", False),
        ("fec0::1", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("max-age=300", 300),
        ("public, max-age=120, must-revalidate", 120),
        ('MAX-AGE="60"', 60),
        ("s-maxage=600", None),
        ("no-cache, max-age=300", None),
        ("max-age=0", None),
        (None, None),
    ],
)
def test_cache_control_max_age(header: str | None, expected: int | None) -> None:
    assert kit_http.max_age(header) == expected
