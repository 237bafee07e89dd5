"""Claim detection: offsets into the original text, kinds, and the documented rule-based score."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from newstalk.factcheck.claims import (
    KIND_WEIGHTS,
    KINDS,
    OPINION_PENALTY,
    QUESTION_PENALTY,
    detect_claims,
    kind_score,
    sentence_spans,
)

NEWS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "news"
BBC = NEWS / "bbc_news.jsonl"
SOYNLP = NEWS / "ko-news-soynlp" / "doublespace_line_corpus_sample.txt"

ARTICLE = (
    "  Mr. Smith of the U.S. Treasury said on Monday that 12 people died in the blast.  "
    "Is that really true?\r\n\r\n"
    "I think it is a bad idea. "
    '"We will not raise rates," Dr. J. Lee told Reuters. It rained.'
)


def test_sentences_slice_back_and_respect_abbreviations() -> None:
    spans = sentence_spans(ARTICLE, "en")
    assert [ARTICLE[s:e] for s, e in spans] == [
        "Mr. Smith of the U.S. Treasury said on Monday that 12 people died in the blast.",
        "Is that really true?",
        "I think it is a bad idea.",
        '"We will not raise rates," Dr. J. Lee told Reuters.',
        "It rained.",
    ]


def test_claims_have_kinds_scores_and_exact_offsets() -> None:
    claims = detect_claims(ARTICLE, "en", min_score=0.0)
    assert [c.text for c in claims] == [ARTICLE[c.start : c.end] for c in claims]
    by_text = {c.text: c for c in claims}
    blast = by_text["Mr. Smith of the U.S. Treasury said on Monday that 12 people died in the blast."]
    assert blast.kinds == ("number", "date", "entity", "attribution")
    assert blast.score == pytest.approx(kind_score(blast.kinds))
    quote = by_text['"We will not raise rates," Dr. J. Lee told Reuters.']
    assert set(quote.kinds) == {"entity", "attribution", "quote"}
    assert by_text["It rained."].score == 0.0
    assert blast.score > quote.score > by_text["It rained."].score


def test_default_threshold_and_limit() -> None:
    default = detect_claims(ARTICLE, "en")
    assert [c.text[:9] for c in default] == ["Mr. Smith", '"We will ']
    top = detect_claims(ARTICLE, "en", min_score=0.0, limit=1)
    assert [c.text[:9] for c in top] == ["Mr. Smith"]
    two = detect_claims(ARTICLE, "en", min_score=0.0, limit=2)
    assert [c.start for c in two] == sorted(c.start for c in two)
    assert detect_claims(ARTICLE, "en", limit=0) == []


def test_questions_and_first_person_opinion_are_penalized() -> None:
    statement = detect_claims("Officials said 40 people died in Gangwon on Monday.", "en", min_score=0)[0]
    question = detect_claims("Did officials say 40 people died in Gangwon on Monday?", "en", min_score=0)[0]
    opinion = detect_claims("I think officials said 40 people died in Gangwon on Monday.", "en", min_score=0)[
        0
    ]
    assert statement.kinds == question.kinds == opinion.kinds
    assert question.score == pytest.approx(statement.score * QUESTION_PENALTY)
    assert opinion.score == pytest.approx(statement.score * OPINION_PENALTY)


def test_score_is_a_monotone_noisy_or_of_kinds() -> None:
    assert kind_score(()) == 0.0
    assert set(KIND_WEIGHTS) == set(KINDS)
    for size in range(len(KINDS)):
        for subset in itertools.combinations(KINDS, size):
            for extra in set(KINDS) - set(subset):
                assert kind_score((*subset, extra)) > kind_score(subset)
    assert 0.0 < kind_score(KINDS) < 1.0


def test_korean_claims() -> None:
    text = "경찰에 따르면 부산 화재로 인해 15명이 숨졌다. 정말 그럴까?\n나는 그 결정이 잘못된 것 같다."
    claims = detect_claims(text, "ko", min_score=0.0)
    assert [c.text for c in claims] == [
        "경찰에 따르면 부산 화재로 인해 15명이 숨졌다.",
        "정말 그럴까?",
        "나는 그 결정이 잘못된 것 같다.",
    ]
    assert all(text[c.start : c.end] == c.text for c in claims)
    assert {"number", "attribution", "causal"} <= set(claims[0].kinds)
    assert claims[0].score > 0.5
    assert claims[1].score == 0.0
    assert [c.text for c in detect_claims(text, "ko")] == ["경찰에 따르면 부산 화재로 인해 15명이 숨졌다."]


def _check_article(text: str, lang: str) -> list[tuple[float, tuple[str, ...]]]:
    claims = detect_claims(text, lang, min_score=0.0)
    previous_end = 0
    for claim in claims:
        assert text[claim.start : claim.end] == claim.text
        assert claim.start >= previous_end
        assert claim.text == claim.text.strip()
        assert set(claim.kinds) <= set(KINDS)
        assert 0.0 <= claim.score < 1.0
        previous_end = claim.end
    return [(c.score, c.kinds) for c in claims]


@pytest.mark.skipif(not BBC.is_file(), reason="../shared/data/news/bbc_news.jsonl missing")
def test_real_english_articles() -> None:
    lines = BBC.read_text(encoding="utf-8").splitlines()[:150]
    found: list[tuple[float, tuple[str, ...]]] = []
    for line in lines:
        article = json.loads(line)
        found.extend(_check_article(article["body"], "en"))
    with_number = sum("number" in kinds for _, kinds in found) / len(found)
    checkworthy = sum(score >= 0.3 for score, _ in found) / len(found)
    # Measured on the first 150 BBC bodies (2,236 sentences): 39% carry a number and 73%
    # score at least the default threshold.
    assert len(found) > 1500
    assert 0.2 < with_number < 0.6
    assert 0.5 < checkworthy < 0.9


@pytest.mark.skipif(not SOYNLP.is_file(), reason="../shared/data/news/ko-news-soynlp missing")
def test_real_korean_articles() -> None:
    articles = SOYNLP.read_text(encoding="utf-8").splitlines()[:30]
    found: list[tuple[float, tuple[str, ...]]] = []
    for article in articles:
        found.extend(_check_article(article, "ko"))
    # Measured on the first 30 articles (359 sentences): 34% carry a number.
    assert len(found) > 200
    assert sum("number" in kinds for _, kinds in found) / len(found) > 0.2
