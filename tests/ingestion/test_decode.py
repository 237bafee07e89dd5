from __future__ import annotations

import codecs

import pytest

from newstalk.ingestion.decode import decode_body, normalize_charset, to_utf8_xml
from newstalk.ingestion.parse import parse_feed

KOREAN_TITLE = "서울시, 내년부터 심야 버스 노선을 두 배로 늘린다"
KOREAN_BODY = "시민들은 늦은 밤에도 안전하게 집에 돌아갈 수 있게 되었다며 환영의 뜻을 밝혔습니다."
RUSSIAN_TITLE = "В Москве открылась новая станция метро"
RUSSIAN_BODY = "Жители района давно ждали этого события и пришли на открытие всей семьёй."


def _rss(title: str, body: str, encoding: str | None) -> str:
    declaration = f' encoding="{encoding}"' if encoding else ""
    return (
        f'<?xml version="1.0"{declaration}?>\n'
        '<rss version="2.0"><channel><title>News</title>'
        "<link>https://news.example.com/</link>"
        f"<item><title>{title}</title><description>{body}</description>"
        "<link>https://news.example.com/1</link></item>"
        f"<item><title>{title} (2)</title><description>{body} {body}</description>"
        "<link>https://news.example.com/2</link></item>"
        "</channel></rss>"
    )


@pytest.mark.parametrize(
    ("title", "body", "codec", "label"),
    [
        (KOREAN_TITLE, KOREAN_BODY, "euc-kr", "euc-kr"),
        (KOREAN_TITLE, KOREAN_BODY, "cp949", "EUC-KR"),
        (KOREAN_TITLE, KOREAN_BODY, "cp949", "ks_c_5601-1987"),
        (RUSSIAN_TITLE, RUSSIAN_BODY, "cp1251", "windows-1251"),
        (RUSSIAN_TITLE, RUSSIAN_BODY, "koi8-r", "KOI8-R"),
    ],
    ids=["euc-kr", "cp949-as-euc-kr", "ks_c_5601", "windows-1251", "koi8-r"],
)
@pytest.mark.parametrize("declared", ["xml", "http", "none"])
def test_legacy_encodings_round_trip_through_parse_feed(
    title: str, body: str, codec: str, label: str, declared: str
) -> None:
    xml_label = label if declared == "xml" else None
    raw = _rss(title, body, xml_label).encode(codec)
    content_type = f"application/rss+xml; charset={label}" if declared == "http" else None
    feed = parse_feed(raw, url="https://news.example.com/rss", content_type=content_type)
    assert feed.entries[0].title == title
    assert feed.entries[0].summary_html == body


def test_euc_kr_label_decodes_cp949_only_syllables() -> None:
    # "똠방각하" uses syllables outside EUC-KR proper that CP949 (UHC) adds.
    text = _rss("똠방각하 뷁", KOREAN_BODY, "euc-kr")
    feed = parse_feed(text.encode("cp949"), url="https://news.example.com/rss")
    assert feed.entries[0].title == "똠방각하 뷁"


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_bom_wins_over_declarations(bom: bytes, codec: str) -> None:
    raw = bom + _rss(KOREAN_TITLE, KOREAN_BODY, "windows-1251").encode(codec)
    text, used = decode_body(raw, "text/xml; charset=iso-8859-1")
    assert KOREAN_TITLE in text
    assert used == codec


def test_http_charset_wins_over_xml_declaration() -> None:
    raw = _rss(RUSSIAN_TITLE, RUSSIAN_BODY, "iso-8859-1").encode("cp1251")
    text, used = decode_body(raw, 'text/xml; charset="windows-1251"')
    assert RUSSIAN_TITLE in text
    assert used == "cp1251"


def test_valid_utf8_beats_a_wrong_legacy_declaration() -> None:
    raw = _rss(KOREAN_TITLE, KOREAN_BODY, "iso-8859-1").encode("utf-8")
    text, used = decode_body(raw)
    assert KOREAN_TITLE in text
    assert used == "utf-8"


def test_declared_utf8_that_does_not_decode_falls_back_to_detection() -> None:
    raw = _rss(RUSSIAN_TITLE, RUSSIAN_BODY, "utf-8").encode("cp1251")
    text, _ = decode_body(raw)
    assert RUSSIAN_TITLE in text


def test_html_meta_charset() -> None:
    page = f'<html><head><meta charset="euc-kr"><title>t</title></head><body>{KOREAN_BODY}</body>'
    text, used = decode_body(page.encode("cp949"))
    assert KOREAN_BODY in text
    assert used == "cp949"


def test_unknown_label_is_ignored() -> None:
    raw = _rss(KOREAN_TITLE, KOREAN_BODY, "x-made-up").encode("utf-8")
    assert KOREAN_TITLE in decode_body(raw, "text/xml; charset=bogus")[0]


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("EUC-KR", "cp949"),
        ("ks_c_5601-1987", "cp949"),
        ("ISO-8859-1", "cp1252"),
        ("windows-1251", "cp1251"),
        ("UTF8", "utf-8"),
        ("gb2312", "gb18030"),
        ("nonsense", None),
        (None, None),
    ],
)
def test_normalize_charset(label: str | None, codec: str | None) -> None:
    assert normalize_charset(label) == codec


def test_to_utf8_xml_drops_the_declared_encoding() -> None:
    out = to_utf8_xml('<?xml version="1.0" encoding="euc-kr"?><rss/>')
    assert out == b'<?xml version="1.0"?><rss/>'
