"""Evidence retrieval: hybrid lexical + e5 ranking, other outlets only, across Korean and English."""

from __future__ import annotations

from typing import cast

import pytest

from newstalk.factcheck.checker import EVIDENCE_PER_CLAIM, PER_OUTLET, Checker, Document
from newstalk.factcheck.claims import Claim
from newstalk.factcheck.features import LruEncoder
from newstalk.factcheck.verify import Verifier
from newstalk.providers.embeddings import E5SmallEmbeddings


@pytest.fixture(scope="module")
def checker() -> Checker:
    # Retrieval never calls the verifier; check() is covered by the end-to-end flow test.
    return Checker(cast(Verifier, None), LruEncoder(E5SmallEmbeddings()))


def doc(i: int, source: int, lang: str, text: str) -> Document:
    return Document(i, source, f"outlet {source}", f"https://news.example/{i}", lang, "", text)


RATES_EN = doc(
    2,
    20,
    "en",
    "The weather was mild in the capital on Thursday, with light winds from the west. "
    "The Bank of Korea raised its benchmark interest rate to 3.5 percent on Thursday, the third increase this year. "
    "Officials said the festival would go ahead as planned next weekend in the old town. "
    "Analysts had expected the central bank to raise rates as inflation stayed high.",
)
SPORTS_EN = doc(
    3,
    30,
    "en",
    "A late penalty gave City a 2-1 win over United in the semi-final on Sunday afternoon. "
    "The visitors had led at half-time through a header from a corner kick.",
)


def test_a_korean_claim_finds_english_evidence_first(checker: Checker) -> None:
    text = "한국은행이 목요일 기준금리를 연 3.5%로 인상했다."
    own = doc(1, 10, "ko", text)
    [prepared] = checker.prepare_claims([(own, Claim(text, 0, len(text), 0.8, ("number",)), "ko")])
    cands = checker.candidates(prepared, [own, SPORTS_EN, RATES_EN], "story")
    assert cands
    assert cands[0].doc.article_id == 2
    assert "3.5 percent" in cands[0].quote
    assert RATES_EN.text[cands[0].start : cands[0].end] == cands[0].quote
    assert all(c.doc.source_id != 10 for c in cands)  # never the claim's own outlet


def test_lexical_and_semantic_ranking_in_one_language(checker: Checker) -> None:
    text = "The Bank of Korea raised interest rates to 3.5 percent."
    own = doc(4, 40, "en", "Intro sentence that is long enough to count here. " + text)
    claim = Claim(text, own.text.index(text), len(own.text), 0.8, ("number",))
    [prepared] = checker.prepare_claims([(own, claim, "en")])
    cands = checker.candidates(prepared, [own, SPORTS_EN, RATES_EN], "story")
    assert cands[0].quote.startswith("The Bank of Korea raised")
    assert len(cands) <= EVIDENCE_PER_CLAIM
    per_outlet: dict[int | None, int] = {}
    for c in cands:
        per_outlet[c.doc.source_id] = per_outlet.get(c.doc.source_id, 0) + 1
    assert max(per_outlet.values()) <= PER_OUTLET


def test_no_other_outlet_means_no_candidates(checker: Checker) -> None:
    text = "The Bank of Korea raised interest rates to 3.5 percent."
    own = doc(5, 50, "en", text)
    [prepared] = checker.prepare_claims([(own, Claim(text, 0, len(text), 0.8, ()), "en")])
    same_outlet = doc(6, 50, "en", RATES_EN.text)
    assert checker.candidates(prepared, [own, same_outlet], "story") == []


def test_conflicts_count_only_within_the_same_event(checker: Checker) -> None:
    from newstalk.factcheck.checker import Candidate, consistent
    from newstalk.factcheck.verify import Stance, judgement_from_probs

    text = "At least 12 people died in floods in Gangwon province on Monday."
    own = doc(7, 70, "en", text)
    [prepared] = checker.prepare_claims([(own, Claim(text, 0, len(text), 0.8, ("number",)), "en")])
    neutral = judgement_from_probs({Stance.NEUTRAL: 0.8, Stance.SUPPORTS: 0.1, Stance.REFUTES: 0.1}, 0.9)

    def judged(quote: str, lang: str = "en") -> tuple[tuple[str, ...], bool]:
        cand = Candidate(doc(8, 80, lang, quote), 0, len(quote), quote, "story", 1.0)
        out = consistent(prepared, cand, neutral)
        return out.judgement.conflicts, out.corroborates

    conflicts, corroborates = judged("Fifteen people were killed in floods in Gangwon province on Monday.")
    assert conflicts
    assert not corroborates
    assert judged("About 300 homes were destroyed and 2,000 residents were evacuated.") == ((), False)
    assert judged("Twelve people died in floods in Gangwon province on Monday.") == ((), True)
    assert judged("월요일 강원도에서 발생한 홍수로 12명이 숨졌다.", "ko") == ((), True)
