from __future__ import annotations

from newstalk.ingestion.extract import extract_full_text

PARAGRAPHS = [
    "The city council voted on Tuesday to double the number of night bus routes, a change "
    "that transit advocates have demanded for more than a decade.",
    "Officials said the new routes would start running in March and would connect the "
    "outer districts with the central station every fifteen minutes after midnight.",
    "Residents who work late shifts welcomed the decision, saying that taxis had become too "
    "expensive and that walking home alone at night was often unsafe.",
]
PAGE = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Night buses</title>
<script>window.tracker = true;</script></head>
<body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sports">Sports</a></nav>
<article>
<h1>Council doubles night bus routes</h1>
{"".join(f"<p>{p}</p>" for p in PARAGRAPHS)}
<p>Read the <a href="/reports/transit.pdf">full report</a>.</p>
<script>alert("x")</script>
</article>
<footer>Copyright 2024 Example News. All rights reserved.</footer>
</body></html>"""


def test_extracts_main_text_as_safe_html_and_text() -> None:
    result = extract_full_text(PAGE, "https://news.example.com/2024/night-buses")
    assert result is not None
    html, text = result
    for paragraph in PARAGRAPHS:
        assert paragraph in text
    assert "alert" not in html
    assert "<script" not in html
    assert "tracker" not in text


def test_accepts_bytes_in_a_legacy_encoding() -> None:
    korean = "서울시는 내년부터 심야 버스 노선을 두 배로 늘린다고 밝혔다. " * 8
    page = PAGE.replace('charset="utf-8"', 'charset="euc-kr"').replace(PARAGRAPHS[0], korean)
    result = extract_full_text(page.encode("cp949"), "https://news.example.com/ko/1")
    assert result is not None
    assert "심야 버스" in result[1]


def test_returns_none_for_pages_without_an_article() -> None:
    assert extract_full_text("", "https://news.example.com/") is None
    assert extract_full_text(b"<html><body><nav>Home</nav></body></html>", "https://x.example/") is None
