from __future__ import annotations

import time

import lxml.etree
import pytest

from newstalk.errors import InvalidInput
from newstalk.sources.opml import OpmlOutline, parse_opml, render_opml

EXPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="Loose" type="rss" xmlUrl="https://loose.example/feed" htmlUrl="https://loose.example/"/>
    <outline text="Tech" title="Tech">
      <outline type="rss" text="Ars" title="Ars Technica" xmlUrl="https://feeds.arstechnica.com/arstechnica/index"
               htmlUrl="https://arstechnica.com"/>
      <outline text="Nested">
        <outline type="rss" text="Deep" xmlURL="https://deep.example/rss"/>
      </outline>
      <outline type="rss" text="Bad scheme" xmlUrl="javascript:alert(1)"/>
    </outline>
    <outline text="\xed\x95\x9c\xea\xb5\xad \xeb\x89\xb4\xec\x8a\xa4">
      <outline type="rss" text="\xec\x97\xb0\xed\x95\xa9\xeb\x89\xb4\xec\x8a\xa4" xmlUrl="https://www.yna.co.kr/rss/news.xml?a=1&amp;b=2"/>
      <outline type="rss" text="dup" xmlUrl="https://loose.example/feed"/>
    </outline>
  </body>
</opml>
"""


def test_parse_nested_export() -> None:
    assert parse_opml(EXPORT) == [
        OpmlOutline("https://loose.example/feed", "Loose", "https://loose.example/", None),
        OpmlOutline(
            "https://feeds.arstechnica.com/arstechnica/index",
            "Ars",
            "https://arstechnica.com",
            "Tech",
        ),
        OpmlOutline("https://deep.example/rss", "Deep", None, "Nested"),
        OpmlOutline("https://www.yna.co.kr/rss/news.xml?a=1&b=2", "연합뉴스", None, "한국 뉴스"),
    ]


def test_opml_1_without_declaration_and_unescaped_ampersand() -> None:
    data = (
        b"<opml version='1.0'><head/><body>"
        b"<outline title='Only title' xmlUrl='http://x.example/rss?a=1&b=2'/>"
        b"</body></opml>"
    )
    assert parse_opml(data) == [OpmlOutline("http://x.example/rss?a=1&b=2", "Only title", None, None)]


def test_utf16_with_bom_and_declared_legacy_encoding() -> None:
    text = (
        '<?xml version="1.0" encoding="UTF-16"?><opml version="2.0"><body>'
        '<outline text="경향" xmlUrl="https://khan.example/rss"/></body></opml>'
    )
    assert parse_opml(text.encode("utf-16"))[0].title == "경향"
    legacy = text.replace("UTF-16", "EUC-KR").encode("euc-kr")
    assert parse_opml(legacy)[0].title == "경향"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE opml [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<opml version="2.0"><body><outline text="&lol9;" xmlUrl="https://x.example/&lol9;"/></body></opml>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&secret;" xmlUrl="https://x.example/"/></body></opml>
"""

PARAMETER_XXE = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<opml version="2.0"><body/></opml>
"""


@pytest.mark.parametrize(
    "data",
    [
        BILLION_LAUGHS,
        XXE,
        PARAMETER_XXE,
        BILLION_LAUGHS.replace(b'<?xml version="1.0"?>', b"").decode().encode("utf-16"),
        BILLION_LAUGHS.replace(b'<?xml version="1.0"?>', b"").decode().encode("utf-16-le"),
        b'<?xml version="1.0" encoding="UTF-7"?>'
        + BILLION_LAUGHS.replace(b'<?xml version="1.0"?>', b"").decode().encode("utf-7"),
    ],
    ids=["billion-laughs", "xxe", "parameter-xxe", "utf16-bom", "utf16-no-bom", "utf7"],
)
def test_entity_attacks_are_refused_quickly(data: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidInput) as info:
        parse_opml(data)
    assert time.monotonic() - started < 1
    assert info.value.detail.startswith("opml: ")


def test_external_dtd_is_not_loaded() -> None:
    data = (
        b'<!DOCTYPE opml SYSTEM "http://127.0.0.1:9/opml.dtd">'
        b'<opml version="2.0"><body><outline text="a" xmlUrl="https://a.example/"/></body></opml>'
    )
    assert parse_opml(data) == [OpmlOutline("https://a.example/", "a", None, None)]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello world",
        b"\x89PNG\r\n\x1a\n\x00\x00",
        b"<html><body>not opml</body></html>",
        b"<opml><head/></opml>",
        b'{"opml": true}',
        b'<?xml version="1.0" encoding="no-such-codec"?><opml/>',
        b"<opml><body><outline",
    ],
)
def test_garbage_is_invalid_input(data: bytes) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_opml(data)
    assert info.value.detail.startswith("opml: ")
    assert "\n" not in info.value.detail


OUTLINES = [
    OpmlOutline("https://loose.example/feed", "Loose <&> \"quoted\" 'x'", None, None),
    OpmlOutline("https://www.yna.co.kr/rss/news.xml?a=1&b=2", "연합뉴스", "https://yna.co.kr", "한국"),
    OpmlOutline("https://khan.example/rss", "경향신문", None, "한국"),
    OpmlOutline("https://ars.example/rss", "Ars", "https://ars.example/", "Tech & Science"),
    OpmlOutline("https://untitled.example/rss", None, None, "Tech & Science"),
]


def test_render_round_trips() -> None:
    data = render_opml(OUTLINES, "NewsTalk 구독 <목록>")
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert parse_opml(data) == OUTLINES
    root = lxml.etree.fromstring(data)
    assert root.get("version") == "2.0"
    assert root.findtext("head/title") == "NewsTalk 구독 <목록>"
    folders = [o.get("text") for o in root.find("body") if o.get("xmlUrl") is None]
    assert folders == ["한국", "Tech & Science"]
    assert "연합뉴스".encode() in data


def test_render_groups_interleaved_categories() -> None:
    outlines = [
        OpmlOutline("https://a.example/", "a", None, "One"),
        OpmlOutline("https://b.example/", "b", None, "Two"),
        OpmlOutline("https://c.example/", "c", None, "One"),
    ]
    parsed = parse_opml(render_opml(outlines, "t"))
    assert [o.feed_url for o in parsed] == [
        "https://a.example/",
        "https://c.example/",
        "https://b.example/",
    ]
    assert sorted(parsed, key=lambda o: o.feed_url) == outlines


def test_render_drops_characters_xml_cannot_hold() -> None:
    outlines = [OpmlOutline("https://a.example/", "bell\x07 tab\tok", None, None)]
    assert parse_opml(render_opml(outlines, "t\x00")) == [
        OpmlOutline("https://a.example/", "bell tab ok", None, None)
    ]


def test_render_empty() -> None:
    assert parse_opml(render_opml([], "empty")) == []


def test_parser_itself_never_resolves_external_entities() -> None:
    # Second line of defence behind the entity-declaration check.
    from newstalk.sources.opml import _parse_xml

    data = (
        b'<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/hostname">]>'
        b"<opml><body><outline>&secret;</outline></body></opml>"
    )
    root = _parse_xml(data)
    assert root is not None
    assert b"&secret;" in lxml.etree.tostring(root)
    assert (root.findtext("body/outline") or "") == ""
