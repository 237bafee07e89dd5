"""The search tokenizer: particles, stems, accents, and nothing but \\w+ terms out of any input."""

from __future__ import annotations

import numpy as np

from newstalk.search.service import fuse
from newstalk.search.terms import query_terms, snippet, terms
from newstalk.search.vectors import Entry, VectorFilter, VectorIndex


def test_korean_particles_and_endings_do_not_change_terms() -> None:
    for surface in ("삼성전자가", "삼성전자는", "삼성전자의", "삼성전자를"):
        assert terms(surface) == ["삼성전자"], surface
    assert terms("금리를 인상했다") == terms("금리 인상") == ["금리", "인상"]
    assert terms("기준금리를 올렸다") == ["기준", "금리", "올리"]


def test_english_is_stemmed_and_folded() -> None:
    assert terms("Elections") == terms("election") == ["elect"]
    assert terms("Café Montréal") == terms("cafe MONTREAL")
    assert terms("Korea's economy") == terms("korea economy")
    assert terms("the of and") == []


def test_latin_words_inside_korean_match_english() -> None:
    assert "ai" in terms("삼성전자가 AI 반도체를")
    assert terms("AI") == ["ai"]


def test_query_syntax_is_just_words() -> None:
    for q in ('"a" OR b*', "title:x AND (y", "NEAR(a b, 3)", "'; DROP TABLE x; --", "a\x00b", "😀"):
        assert all(t.isalnum() for t in query_terms(q)), q
    assert query_terms("title:samsung") == ["titl", "samsung"]
    assert len(query_terms(" ".join(f"w{i}" for i in range(100)))) == 32


def test_snippet_offsets_point_at_matches() -> None:
    body = "Intro words. " * 30 + "Samsung Electronics reported record profits on chips. " + "Outro. " * 30
    text, spans = snippet(body, query_terms("samsung profit"))
    assert [text[s:e] for s, e in spans] == ["Samsung", "profits"]
    assert text.startswith("…")
    assert text.endswith("…")
    text, spans = snippet("어제 삼성전자가 반도체 투자를 늘렸다", query_terms("삼성전자 반도체"))
    assert [text[s:e] for s, e in spans] == ["삼성전자가", "반도체"]


def _entry(doc_id: int, vec: list[float], *, story: bool = False, lang: str = "en", source: int = 1) -> Entry:
    return Entry(
        doc_id, story, [lang], "tech" if story else None, [source], float(doc_id), np.asarray(vec, np.float32)
    )


def test_vector_index_filters_overwrites_and_removes() -> None:
    index = VectorIndex(2, capacity=1)
    index.upsert(
        [_entry(1, [1, 0]), _entry(2, [0.8, 0.6], lang="ko", source=2), _entry(3, [0, 1], story=True)]
    )
    q = np.asarray([1, 0], np.float32)
    assert [i for i, _ in index.search(q, 3)] == [1, 2, 3]
    assert [i for i, _ in index.search(q, 3, VectorFilter(language="ko"))] == [2]
    assert [i for i, _ in index.search(q, 3, VectorFilter(stories=True))] == [3]
    assert [i for i, _ in index.search(q, 3, VectorFilter(source_id=2))] == [2]
    assert [i for i, _ in index.search(q, 3, VectorFilter(since=2.0, until=3.0))] == [2]
    assert index.search(q, 3, VectorFilter(language="fr")) == []
    index.upsert([_entry(1, [0, 1], source=3)])  # overwritten in place
    assert next(i for i, _ in index.search(q, 3)) == 2
    assert index.search(q, 3, VectorFilter(source_id=1, stories=False)) == []
    index.remove([2])
    assert [i for i, _ in index.search(q, 3)] == [1, 3] or [i for i, _ in index.search(q, 3)] == [3, 1]
    assert len(index) == 2


def test_fusion_prefers_documents_both_retrievers_found() -> None:
    fused = fuse([(1, 9.0), (2, 5.0)], [(3, 0.9), (2, 0.8)])
    assert fused[0][0] == 2
    assert {i for i, _ in fused} == {1, 2, 3}
