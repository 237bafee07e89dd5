"""Canonical article URLs: one spelling per page, so the same story from two feeds collides."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from newstalk.errors import InvalidInput

__all__ = ["TRACKING_PARAMS", "TRACKING_PREFIXES", "canonicalize_url", "is_http_url"]

# Query parameters that only identify a campaign or a click, never the page.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "ysclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "ref_src",
        "ref_url",
        "mkt_tok",
        "_openstat",
        "oly_anon_id",
        "oly_enc_id",
        "vero_conv",
        "vero_id",
        "wickedid",
        "rb_clickid",
        "s_cid",
        "_ga",
        "_gl",
        "ncid",
        "sr_share",
        "spm",
        "scm",
        "cmpid",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
    }
)
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "matomo_", "itm_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left unescaped per component; everything else is percent-encoded with
# upper-case hex, and escapes of unreserved characters are decoded (RFC 3986 6.2.2).
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/?:@!$'()*+,;-._~"
_UNRESERVED_ESCAPE = re.compile(r"%(2[DdEe]|5[Ff]|7[Ee]|[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9])")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def is_http_url(value: str | None) -> bool:
    """Tell whether a string is an absolute http(s) URL with a host."""
    if not value:
        return False
    parts = urlsplit(value.strip())
    return parts.scheme.lower() in _DEFAULT_PORTS and bool(parts.hostname)


def _normalize_escapes(component: str, safe: str) -> str:
    # Decode escapes of unreserved characters, upper-case the rest, and escape anything
    # that is neither safe nor already an escape; idempotent by construction.
    component = _UNRESERVED_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), component)
    pieces: list[str] = []
    last = 0
    for match in _ESCAPE.finditer(component):
        pieces.append(quote(component[last : match.start()], safe=safe))
        pieces.append(match.group(0).upper())
        last = match.end()
    pieces.append(quote(component[last:], safe=safe))
    return "".join(pieces)


def _host(hostname: str) -> str:
    host = unquote(hostname).rstrip(".").lower()
    if host.startswith("["):
        return host
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidInput(f"urls: host {hostname!r} is not a valid domain name") from exc


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 5.2.4, so "/a/./b/../c" and "/a/c" are one URL.
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result


def _is_tracking(name: str) -> bool:
    key = unquote(name).lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def canonicalize_url(url: str, base: str | None = None) -> str:
    """Return the canonical http(s) form of a URL, resolved against ``base``, without tracking."""
    raw = url.strip()
    if not raw:
        raise InvalidInput("urls: empty URL; give an absolute http(s) URL")
    if base:
        raw = urljoin(base.strip(), raw)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"urls: {raw[:200]!r} is not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidInput(
            f"urls: scheme {scheme or 'none'!r} is not allowed in {raw[:200]!r}; "
            "only http and https URLs are accepted"
        )
    if not parts.hostname:
        raise InvalidInput(f"urls: {raw[:200]!r} has no host; give an absolute http(s) URL")

    host = _host(parts.hostname)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"

    path = _remove_dot_segments(_normalize_escapes(parts.path, _PATH_SAFE) or "/")
    query_items = [item for item in parts.query.split("&") if item and not _is_tracking(item.split("=")[0])]
    query = "&".join(_normalize_escapes(item, _QUERY_SAFE + "=") for item in query_items)
    return urlunsplit((scheme, netloc, path, query, ""))
