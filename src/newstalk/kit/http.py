"""Safe HTTP fetching for feeds, discovery, WebSub, full-text extraction and webhook POSTs.

Contracts:

* Only ``http`` and ``https`` URLs. Any port is allowed: the address check below is
  what protects internal services, and feeds legitimately live on odd ports.
* Every connection is made by ``_GuardedBackend``: it resolves the host itself,
  refuses the whole host if *any* resolved address is not public, and connects to
  the checked IP literal, so DNS cannot change between check and connect
  (no rebinding gap). TLS still verifies the certificate against the hostname,
  because httpcore passes the URL's host as SNI / ``server_hostname``.
* Literal-IP URLs are refused before any connection is attempted.
* Redirects are followed by hand; every hop is checked again.
* ``timeout_s`` bounds each request hop as a whole (connect + headers + body), so a
  server trickling bytes is cut off; waiting for a per-host slot does not count.
* The body cap applies to the decoded size; decompression is bounded with
  ``max_length`` so a compression bomb never expands past ``max_bytes + 1``.
  ``post_json`` is the exception: it asks for the answer unencoded and keeps only its
  first ``cap`` bytes, without failing.

``FetchError.reason`` values: ``http-<status>``, ``timeout``, ``connect``, ``tls``,
``dns``, ``too-large``, ``decode``, ``bad-redirect``, ``too-many-redirects``,
``blocked-address`` (``BlockedAddress``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import time
import typing
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import anyio
import httpcore
import httpx

from newstalk.errors import BlockedAddress, FetchError, InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_T = typing.TypeVar("_T")

DEFAULT_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "
    "application/json;q=0.8, text/html;q=0.7, */*;q=0.5"
)
POST_MAX_BYTES = 64 * 1024
_ALLOW_HINT = "set NEWSTALK_ALLOW_PRIVATE_NETWORKS=true to allow private networks"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})

_METADATA = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("100.100.100.200"),
    }
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one successful fetch returned."""

    url: str
    status: int
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    permanent_url: str | None
    elapsed_s: float
    # ``Cache-Control: max-age`` in seconds, when the response gave one.
    max_age_s: int | None = None


_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,9})\"?", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|[,\s])(?:no-cache|no-store)(?:$|[,\s=])", re.IGNORECASE)


def max_age(cache_control: str | None) -> int | None:
    """``max-age`` of a ``Cache-Control`` header in seconds; None when absent, zero or ``no-cache``."""
    if not cache_control or _NO_CACHE.search(cache_control):
        return None
    match = _MAX_AGE.search(cache_control)
    seconds = int(match.group(1)) if match else 0
    return seconds or None


def _classify(ip: IPAddress) -> str | None:
    """Return a phrase like "a loopback address" for a non-public IP, None if public."""
    if ip in _METADATA:
        return "a cloud-metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = _classify(embedded)
            return f"{inner} (embedded in IPv6)" if inner else None
        if ip.teredo is not None:
            return "a Teredo tunnel address"
        if ip.is_site_local:
            return "a site-local address"
        if ip in ipaddress.ip_network("fc00::/7"):
            return "a unique-local address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "a shared (CGNAT) address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "a non-public address"
    return None


def is_public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Tell whether an address is publicly routable and safe to fetch from."""
    return _classify(ip) is None


def _blocked_message(url: str, ip: IPAddress, phrase: str) -> str:
    return f"fetch: {url} resolves to {ip}, {phrase}; {_ALLOW_HINT}"


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _parse_url(url: str, place: str = "fetch") -> httpx.URL:
    """Parse and validate scheme and host; raise InvalidInput otherwise."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidInput(f"{place}: {url!r} is not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidInput(f"{place}: {url} uses scheme {parsed.scheme!r}; only http and https")
    if not parsed.host:
        raise InvalidInput(f"{place}: {url} has no host")
    if parsed.port == 0:
        raise InvalidInput(f"{place}: {url} uses port 0")
    return parsed


async def _resolve(host: str, port: int) -> list[IPAddress]:
    """Resolve a hostname to its unique addresses, in resolver order."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]))
        if ip not in seen:
            seen.append(ip)
    return seen


class _Blocked(Exception):
    """Raised inside the transport; converted to BlockedAddress with the request URL."""

    def __init__(self, ip: IPAddress, phrase: str) -> None:
        super().__init__(f"{ip} is {phrase}")
        self.ip = ip
        self.phrase = phrase


class _Unresolvable(Exception):
    """Raised inside the transport when DNS gives no usable answer."""


async def _addresses_for(host: str, port: int, *, allow_private_networks: bool) -> list[IPAddress]:
    """Resolve and check every address; raise _Blocked if any one is not public."""
    literal = _literal_ip(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = await _resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise _Unresolvable(str(exc)) from exc
        if not addresses:
            raise _Unresolvable("no addresses")
    if not allow_private_networks:
        for ip in addresses:
            phrase = _classify(ip)
            if phrase is not None:
                raise _Blocked(ip, phrase)
    return addresses


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Network backend that connects only to addresses it resolved and checked itself."""

    def __init__(self, *, allow_private_networks: bool) -> None:
        self._allow_private = allow_private_networks
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _addresses_for(host, port, allow_private_networks=self._allow_private)
        last_error: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


def _guarded_transport(*, allow_private_networks: bool, max_connections: int) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose pool uses _GuardedBackend.

    httpx 0.28 has no public hook for a network backend, so the pool is replaced
    with one built from the same public httpcore API; httpx is pinned.
    """
    transport = httpx.AsyncHTTPTransport(trust_env=False, retries=0)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
        http1=True,
        http2=False,
        retries=0,
        network_backend=_GuardedBackend(allow_private_networks=allow_private_networks),
    )
    return transport


class _Decoder:
    """Incremental Content-Encoding decoder whose output per call is bounded."""

    def __init__(self, url: str, header: str | None) -> None:
        codings = [c.strip().lower() for c in (header or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(
                f"fetch: {url} answered with unsupported Content-Encoding {header!r}",
                reason="decode",
            )
        self._url = url
        self._coding = codings[0] if codings else None
        self._obj: typing.Any = self._new()
        self._started = False

    def _new(self, wbits: int | None = None) -> typing.Any:
        if self._coding is None:
            return None
        if wbits is None:
            wbits = zlib.MAX_WBITS if self._coding == "deflate" else 16 + zlib.MAX_WBITS
        return zlib.decompressobj(wbits)

    def decode(self, chunk: bytes, room: int) -> bytes:
        """Decode a chunk; returns more than ``room`` bytes only to signal overflow."""
        if self._obj is None:
            return chunk
        out = bytearray()
        data = chunk
        try:
            while data:
                try:
                    piece = self._obj.decompress(data, room - len(out) + 1)
                except zlib.error:
                    # Servers often send raw deflate despite RFC 9110 asking for zlib format.
                    if self._coding == "deflate" and not self._started:
                        self._started = True
                        self._obj = self._new(-zlib.MAX_WBITS)
                        continue
                    raise
                self._started = True
                out += piece
                if len(out) > room:
                    return bytes(out)
                if self._obj.eof and self._obj.unused_data:
                    data = self._obj.unused_data
                    self._obj = self._new()
                else:
                    data = b""
        except zlib.error as exc:
            raise FetchError(
                f"fetch: {self._url} sent a corrupt {self._coding} body ({exc})", reason="decode"
            ) from None
        return bytes(out)


def _ssl_cause(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Fetcher:
    """Fetches URLs with SSRF guards, size caps, deadlines and per-host limits."""

    def __init__(
        self,
        *,
        user_agent: str,
        timeout_s: float = 20.0,
        max_bytes: int = 10 * 1024 * 1024,
        max_redirects: int = 5,
        per_host_limit: int = 2,
        allow_private_networks: bool = False,
    ) -> None:
        if per_host_limit < 1 or max_bytes < 0 or max_redirects < 0 or timeout_s <= 0:
            raise InvalidInput("fetch: limits must be positive")
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._per_host_limit = per_host_limit
        self._allow_private = allow_private_networks
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._client = httpx.AsyncClient(
            transport=_guarded_transport(allow_private_networks=allow_private_networks, max_connections=100),
            headers={"User-Agent": user_agent},
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            follow_redirects=False,
            trust_env=False,
        )

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()

    def _slot(self, host: str) -> asyncio.Semaphore:
        key = host.lower()
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = asyncio.Semaphore(self._per_host_limit)
        return slot

    def _precheck(self, url: httpx.URL) -> None:
        """Refuse literal non-public IPs before any connection is attempted."""
        ip = _literal_ip(url.host)
        if ip is None or self._allow_private:
            return
        phrase = _classify(ip)
        if phrase is not None:
            raise BlockedAddress(_blocked_message(str(url), ip, phrase))

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = DEFAULT_ACCEPT,
    ) -> FetchResult:
        """Conditionally GET a URL, following redirects safely; raise FetchError on failure."""
        started = time.monotonic()
        current = _parse_url(url)
        headers = {"Accept": accept, "Accept-Encoding": "gzip, deflate"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        all_permanent = True
        hops = 0
        while True:
            self._precheck(current)
            async with self._slot(current.host):
                outcome = await self._guarded(current, self._get_once(current, headers))
            if isinstance(outcome, FetchResult):
                permanent = str(current) if hops and all_permanent else None
                return FetchResult(
                    url=str(current),
                    status=outcome.status,
                    body=outcome.body,
                    content_type=outcome.content_type,
                    etag=outcome.etag or (etag if outcome.status == 304 else None),
                    last_modified=outcome.last_modified or (last_modified if outcome.status == 304 else None),
                    permanent_url=permanent,
                    elapsed_s=time.monotonic() - started,
                    max_age_s=outcome.max_age_s,
                )
            status, location = outcome
            hops += 1
            if hops > self._max_redirects:
                raise FetchError(
                    f"fetch: {url} redirected more than {self._max_redirects} times",
                    reason="too-many-redirects",
                )
            all_permanent = all_permanent and status in _PERMANENT
            try:
                current = _parse_url(str(current.join(location)))
            except (InvalidInput, httpx.InvalidURL) as exc:
                raise FetchError(
                    f"fetch: {current} redirected to an unusable location {location!r} ({exc})",
                    reason="bad-redirect",
                ) from None

    async def post_form(self, url: str, data: dict[str, str]) -> tuple[int, bytes]:
        """POST a urlencoded form (WebSub); any status is returned, redirects are not followed."""
        target = _parse_url(url, "post")
        request = self._client.build_request(
            "POST", target, data=data, headers={"Accept-Encoding": "gzip, deflate"}
        )
        status, body, _ = await self._post(
            target, request, lambda response: self._read_capped(target, response, POST_MAX_BYTES)
        )
        return status, body

    async def post_json(
        self, url: str, body: bytes, headers: dict[str, str], *, cap: int
    ) -> tuple[int, bytes, str | None]:
        """POST a JSON body (webhooks): the status, the first ``cap`` bytes of the answer and its
        Retry-After. Any status is returned, redirects are not followed; FetchError on failure
        (InvalidInput for a URL that is not http(s), as everywhere in this module).

        The answer is asked for and read as sent (``Accept-Encoding: identity``, not decoded)
        and cut at ``cap`` bytes; the rest is never read, so a receiver cannot make us hold more.
        """
        target = _parse_url(url, "post")
        sent = httpx.Headers({"Content-Type": "application/json"})
        sent.update(headers)
        sent["Accept-Encoding"] = "identity"
        request = self._client.build_request("POST", target, content=body, headers=sent)
        return await self._post(target, request, lambda response: _read_head(response, cap))

    async def _post(
        self,
        url: httpx.URL,
        request: httpx.Request,
        read: typing.Callable[[httpx.Response], typing.Awaitable[bytes]],
    ) -> tuple[int, bytes, str | None]:
        """Send one POST under the address guard, the host's slot and the deadline."""
        self._precheck(url)
        async with self._slot(url.host):
            return await self._guarded(url, self._send_once(request, read))

    async def _send_once(
        self, request: httpx.Request, read: typing.Callable[[httpx.Response], typing.Awaitable[bytes]]
    ) -> tuple[int, bytes, str | None]:
        response = await self._client.send(request, stream=True)
        try:
            return response.status_code, await read(response), response.headers.get("Retry-After")
        finally:
            await response.aclose()

    async def _guarded(self, url: httpx.URL, work: typing.Awaitable[_T]) -> _T:
        """Run one request hop under the deadline and translate transport errors."""
        shown = str(url)
        try:
            async with asyncio.timeout(self._timeout_s):
                return await work
        except _Blocked as exc:
            raise BlockedAddress(_blocked_message(shown, exc.ip, exc.phrase)) from None
        except _Unresolvable as exc:
            raise FetchError(f"fetch: {shown} host could not be resolved ({exc})", reason="dns") from None
        except (TimeoutError, httpx.TimeoutException):
            raise FetchError(
                f"fetch: {shown} did not finish within {self._timeout_s:g}s", reason="timeout"
            ) from None
        except httpx.TransportError as exc:
            if _ssl_cause(exc):
                raise FetchError(f"fetch: {shown} failed TLS ({exc})", reason="tls") from None
            raise FetchError(
                f"fetch: {shown} connection failed ({type(exc).__name__}: {exc})", reason="connect"
            ) from None

    async def _read_capped(self, url: httpx.URL, response: httpx.Response, cap: int) -> bytes:
        shown = str(url)
        too_large = FetchError(f"fetch: {shown} body exceeds {cap} bytes", reason="too-large")
        declared = response.headers.get("Content-Length", "")
        if not response.headers.get("Content-Encoding") and declared.isdigit() and int(declared) > cap:
            raise too_large
        decoder = _Decoder(shown, response.headers.get("Content-Encoding"))
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += decoder.decode(chunk, cap - len(body))
            if len(body) > cap:
                raise too_large
        return bytes(body)

    async def _get_once(self, url: httpx.URL, headers: dict[str, str]) -> FetchResult | tuple[int, str]:
        """One GET; returns a result, or (status, location) for a redirect."""
        request = self._client.build_request("GET", url, headers=headers)
        response = await self._client.send(request, stream=True)
        try:
            status = response.status_code
            location = response.headers.get("Location")
            if status in _REDIRECTS and location:
                return status, location
            if status == 304:
                body = b""
            elif 200 <= status < 300:
                body = await self._read_capped(url, response, self._max_bytes)
            else:
                raise FetchError(f"fetch: {url} answered HTTP {status}", reason=f"http-{status}")
            return FetchResult(
                url=str(url),
                status=status,
                body=body,
                content_type=response.headers.get("Content-Type"),
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                permanent_url=None,
                elapsed_s=0.0,
                max_age_s=max_age(response.headers.get("Cache-Control")),
            )
        finally:
            await response.aclose()


async def _read_head(response: httpx.Response, cap: int) -> bytes:
    """The first ``cap`` raw bytes of a body; stops reading there."""
    head = bytearray()
    async for chunk in response.aiter_raw():
        head += chunk[: cap - len(head)]
        if len(head) >= cap:
            break
    return bytes(head)


async def check_url(url: str, *, allow_private_networks: bool) -> None:
    """Validate scheme and host and refuse URLs resolving to non-public addresses."""
    parsed = _parse_url(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        await _addresses_for(parsed.host, port, allow_private_networks=allow_private_networks)
    except _Blocked as exc:
        raise BlockedAddress(_blocked_message(url, exc.ip, exc.phrase)) from None
    except _Unresolvable as exc:
        raise FetchError(f"fetch: {url} host could not be resolved ({exc})", reason="dns") from None
