"""Turn a fetched body into text, picking the encoding the way browsers and Miniflux do.

Order: byte-order mark, HTTP ``charset``, XML declaration or HTML ``<meta>``, a strict UTF-8
check, then charset-normalizer detection. A declared charset is trusted only when the bytes
decode under it; a declared legacy charset loses to UTF-8 when the bytes are valid, non-ASCII
UTF-8, because legacy-encoded text with non-ASCII bytes is practically never valid UTF-8.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

__all__ = ["decode_body", "normalize_charset", "to_utf8_xml"]

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Labels mapped to the superset decoders browsers use (WHATWG Encoding Standard).
_ALIASES: dict[str, str] = {
    "euc-kr": "cp949",
    "euckr": "cp949",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ksc5601": "cp949",
    "korean": "cp949",
    "x-windows-949": "cp949",
    "windows-949": "cp949",
    "uhc": "cp949",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "euc-jp": "euc_jis_2004",
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}

_HTTP_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:\-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:\-]+)["']""")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:\-]+)""", re.IGNORECASE)
_XML_DECL_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*["'][^"']*["']""")
_HEAD_BYTES = 4096
_FIRST_CHARS = frozenset(b"<{ \t\r\n")


def normalize_charset(label: str | None) -> str | None:
    """Map a declared charset label to a Python codec name, or None when it is unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return _ALIASES.get(codec, codec)


def _declared_in_document(head: bytes) -> str | None:
    match = _XML_DECL.match(head) or _META_CHARSET.search(head)
    return match.group(1).decode("ascii") if match else None


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _try(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _wide_without_bom(body: bytes) -> str | None:
    """UTF-32 or UTF-16 told by the zero bytes around the first character (XML 1.0 appendix F).

    A feed starts with ``<``, ``{`` or whitespace, all ASCII; in a wide encoding the other
    bytes of that character are zero, which no 8-bit or UTF-8 document starts with.
    """
    head = body[:4]
    if len(head) < 4:
        return None
    first = _FIRST_CHARS
    if head[:3] == b"\x00\x00\x00" and head[3] in first:
        return "utf-32-be"
    if head[0] in first and head[1:4] == b"\x00\x00\x00":
        return "utf-32-le"
    if head[0] == 0 and head[1] in first and head[2] == 0 and head[3] != 0:
        return "utf-16-be"
    if head[0] in first and head[1] == 0 and head[2] != 0 and head[3] == 0:
        return "utf-16-le"
    return None


def decode_body(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode a fetched body to text; returns the text and the codec name that was used."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace"), codec
    wide = _wide_without_bom(body)
    if wide is not None:
        text = _try(body, wide)
        if text is not None:
            return text, wide

    is_ascii = body.isascii()
    if is_ascii:
        return body.decode("ascii"), "ascii"
    utf8_ok = _is_utf8(body)

    declared: list[str | None] = []
    if content_type:
        match = _HTTP_CHARSET.search(content_type)
        if match:
            declared.append(match.group(1))
    declared.append(_declared_in_document(body[:_HEAD_BYTES]))

    for label in declared:
        declared_codec = normalize_charset(label)
        if declared_codec is None:
            continue
        codec = declared_codec
        if codec.startswith(("utf-16", "utf-32")):
            # A UTF-16/32 label on a body without a BOM is nearly always a wrong label on
            # an 8-bit body; only honour it when the bytes really are wide.
            if b"\x00" not in body[:_HEAD_BYTES]:
                continue
        elif codec != "utf-8" and utf8_ok:
            return body.decode("utf-8"), "utf-8"
        text = _try(body, codec)
        if text is not None:
            return text, codec

    if utf8_ok:
        return body.decode("utf-8"), "utf-8"

    best = from_bytes(body[:65536]).best()
    if best is not None and best.encoding:
        codec = normalize_charset(best.encoding) or best.encoding
        text = _try(body, codec)
        if text is not None:
            return text, codec
    return body.decode("utf-8", errors="replace"), "utf-8"


def to_utf8_xml(text: str) -> bytes:
    """Re-encode decoded XML as UTF-8 bytes whose XML declaration no longer names another charset."""
    return _XML_DECL_ENCODING.sub(r"\1", text, count=1).encode("utf-8")
