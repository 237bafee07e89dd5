"""Evidence retrieval and verification for claims, in memory (no database here).

For each claim the checker gathers candidate evidence sentences, first from the other
outlets' articles in the same story, then from related articles elsewhere in the recent
corpus, and ranks them by hybrid search: a lexical score (IDF-weighted overlap of content
words and numbers, Kiwi morphemes for Korean) fused by reciprocal rank with the cosine of
multilingual-e5 embeddings, so a Korean claim finds English evidence too. Candidates about
another event are dropped by the relevance gate (``relevance.py``); the verifier then judges
the rest, and ``verdicts.aggregate`` turns the judgements into a verdict.

Costs are bounded: at most ``MAX_SENTENCES`` sentences of an article are read, lexical
search pre-filters what gets embedded, embeddings are cached by text.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from newstalk.factcheck.claims import Claim, detect_claims, sentence_spans
from newstalk.factcheck.consistency import Consistency, compare
from newstalk.factcheck.features import Encoder
from newstalk.factcheck.relevance import judge_relevance, topic_words
from newstalk.factcheck.verdicts import Judged, Verdict, aggregate, strengths
from newstalk.factcheck.verify import Judgement, Pair, Verifier
from newstalk.stories.text import words

MAX_SENTENCES = 30  # sentences read per article
MIN_SENTENCE_CHARS = 25
LEXICAL_TOP = 5  # same-language candidates per claim that get embedded
FOREIGN_LEAD = 3  # lead sentences embedded per article in another language
FOREIGN_DOCS = 3  # articles in another language considered per claim
CORPUS_SENTENCES = 3  # candidates per corpus article
EVIDENCE_PER_CLAIM = 5
PER_OUTLET = 2
RRF_K = 60


@dataclass(frozen=True)
class Document:
    """An article as the checker sees it; ``source_id`` None: an outlet we do not know."""

    article_id: int | None
    source_id: int | None
    outlet: str
    url: str
    language: str
    title: str
    text: str


@dataclass(frozen=True)
class Candidate:
    doc: Document
    start: int
    end: int
    quote: str
    origin: str  # "story" or "corpus"
    retrieval_score: float
    cosine: float = 0.0  # e5 cosine of the sentence with the claim


@dataclass
class JudgedEvidence:
    candidate: Candidate
    judgement: Judgement
    corroborates: bool = False


@dataclass
class CheckedClaim:
    doc: Document | None
    claim: Claim
    language: str
    verdict: Verdict
    evidence: list[JudgedEvidence] = field(default_factory=list)


@dataclass
class PreparedClaim:
    doc: Document | None
    claim: Claim
    language: str
    vector: np.ndarray


def tied_ranks(scores: Mapping[int, float]) -> dict[int, int]:
    """0-based rank by descending score; ties share a rank."""
    return {i: sum(v > scores[i] for v in scores.values()) for i in scores}


def rrf(*rankings: Mapping[int, int]) -> dict[int, float]:
    """Reciprocal-rank fusion of rankings over the same items."""
    return {i: sum(1 / (RRF_K + r[i]) for r in rankings) for i in rankings[0]}


def _korean(lang: str) -> bool:
    return lang.lower().startswith("ko")


def same_script(a: str, b: str) -> bool:
    """Whether two languages share lexical search (Korean with Korean, others with others)."""
    return _korean(a) == _korean(b)


class Checker:
    """Retrieves, judges and aggregates; CPU-bound, run it in a thread."""

    def __init__(self, verifier: Verifier, embeddings: Encoder) -> None:
        self.verifier = verifier
        self.embeddings = embeddings
        self._sentences: OrderedDict[tuple[int | None, str, int], list[tuple[int, int, str]]] = OrderedDict()
        self._tokens: OrderedDict[tuple[str, str], frozenset[str]] = OrderedDict()
        self._lock = threading.Lock()

    # -- text -------------------------------------------------------------------------

    def sentences(self, doc: Document) -> list[tuple[int, int, str]]:
        """(start, end, text) of the article's first sentences worth quoting."""
        key = (doc.article_id, doc.url, len(doc.text))
        with self._lock:
            hit = self._sentences.get(key)
        if hit is not None:
            return hit
        out = [
            (s, e, doc.text[s:e])
            for s, e in sentence_spans(doc.text, doc.language)[:MAX_SENTENCES]
            if e - s >= MIN_SENTENCE_CHARS
        ]
        with self._lock:
            self._sentences[key] = out
            while len(self._sentences) > 4096:
                self._sentences.popitem(last=False)
        return out

    def tokens(self, text: str, lang: str) -> frozenset[str]:
        key = (text, "ko" if _korean(lang) else "en")
        with self._lock:
            hit = self._tokens.get(key)
        if hit is not None:
            return hit
        out = frozenset(words(text, lang))
        with self._lock:
            self._tokens[key] = out
            while len(self._tokens) > 50_000:
                self._tokens.popitem(last=False)
        return out

    # -- claims -----------------------------------------------------------------------

    def prepare(
        self, docs: Sequence[Document], *, per_article: int, limit: int, min_score: float
    ) -> list[PreparedClaim]:
        """The most check-worthy claims of the given articles, with their embeddings."""
        found: list[tuple[Document, Claim]] = []
        for doc in docs:
            for claim in detect_claims(doc.text, doc.language, min_score=min_score, limit=per_article):
                found.append((doc, claim))
        found.sort(key=lambda dc: -dc[1].score)
        found = found[:limit]
        return self.prepare_claims([(doc, claim, doc.language) for doc, claim in found])

    def prepare_claims(self, items: Sequence[tuple[Document | None, Claim, str]]) -> list[PreparedClaim]:
        vectors = self.embeddings.encode([claim.text for _, claim, _ in items])
        return [PreparedClaim(doc, claim, lang, vectors[i]) for i, (doc, claim, lang) in enumerate(items)]

    # -- retrieval --------------------------------------------------------------------

    def candidates(self, prepared: PreparedClaim, docs: Sequence[Document], origin: str) -> list[Candidate]:
        """Rank the sentences of ``docs`` (other outlets only) for one claim by hybrid search."""
        own = prepared.doc.source_id if prepared.doc else None
        own_article = prepared.doc.article_id if prepared.doc else None
        pool: list[tuple[Document, int, int, str]] = []
        foreign = 0
        for doc in docs:
            if (own is not None and doc.source_id == own) or (
                own_article is not None and doc.article_id == own_article
            ):
                continue
            sents = self.sentences(doc)
            if same_script(doc.language, prepared.language):
                pool.extend((doc, s, e, t) for s, e, t in sents)
            elif foreign < FOREIGN_DOCS:
                foreign += 1
                pool.extend((doc, s, e, t) for s, e, t in sents[:FOREIGN_LEAD])
        if not pool:
            return []
        claim_tokens = self.tokens(prepared.claim.text, prepared.language)
        sent_tokens = [self.tokens(t, d.language) for d, _, _, t in pool]
        df: Counter[str] = Counter()
        for toks in sent_tokens:
            df.update(toks & claim_tokens)
        n = len(pool)
        idf = {t: math.log(1 + n / (1 + df[t])) for t in claim_tokens}
        norm = sum(idf.values()) or 1.0
        lexical = [sum(idf[t] for t in toks & claim_tokens) / norm for toks in sent_tokens]
        same = [i for i, (d, *_rest) in enumerate(pool) if same_script(d.language, prepared.language)]
        other = [i for i in range(n) if i not in set(same)]
        shortlist = sorted(same, key=lambda i: -lexical[i])[:LEXICAL_TOP] + other
        if origin == "corpus":
            # Per corpus article, its best lexical sentences and its lead.
            by_doc: dict[int, list[int]] = {}
            for i in sorted(range(n), key=lambda i: -lexical[i]):
                by_doc.setdefault(id(pool[i][0]), []).append(i)
            shortlist = sorted({i for idx in by_doc.values() for i in idx[:CORPUS_SENTENCES]})
        if not shortlist:
            return []
        vectors = self.embeddings.encode([pool[i][3] for i in shortlist])
        cosine = vectors @ prepared.vector
        # Ties share a rank: sentences no word of the claim appears in (another language,
        # often) are ordered by meaning alone.
        lex_rank = tied_ranks({i: lexical[i] for i in shortlist})
        cos_rank = {shortlist[r]: k for k, r in enumerate(np.argsort(-cosine))}
        cos_of = {i: float(c) for i, c in zip(shortlist, cosine.tolist(), strict=True)}
        fused = rrf(lex_rank, cos_rank)
        out: list[Candidate] = []
        per_outlet: Counter[str] = Counter()
        for i in sorted(shortlist, key=lambda i: -fused[i]):
            doc, s, e, text = pool[i]
            outlet_key = str(doc.source_id) if doc.source_id is not None else doc.url
            if per_outlet[outlet_key] >= PER_OUTLET:
                continue
            per_outlet[outlet_key] += 1
            out.append(
                Candidate(doc, s, e, text, origin, round(fused[i] * RRF_K / 2, 4), round(cos_of[i], 4))
            )
            if len(out) >= EVIDENCE_PER_CLAIM:
                break
        return out

    # -- relevance --------------------------------------------------------------------

    def about_same_event(self, prepared: PreparedClaim, candidate: Candidate) -> Consistency | None:
        """The consistency report of a sentence about the claim's event; None: about something else."""
        same = same_script(prepared.language, candidate.doc.language)
        report = compare(prepared.claim.text, candidate.quote, prepared.language, candidate.doc.language)
        verdict = judge_relevance(
            topic_words(self.tokens(prepared.claim.text, prepared.language)),
            topic_words(self.tokens(candidate.quote, candidate.doc.language)),
            candidate.cosine,
            same,
            report,
        )
        return report if verdict.same_event else None

    # -- verification -----------------------------------------------------------------

    def check(
        self,
        prepared: Sequence[PreparedClaim],
        story_docs: Sequence[Document],
        corpus_docs: Mapping[int, Sequence[Document]] | None = None,
        *,
        credibility: Mapping[int, float] | None = None,
        default_credibility: float = 0.7,
    ) -> list[CheckedClaim]:
        """Judge every claim against its candidates in one verifier call, then aggregate.

        ``corpus_docs`` maps a claim's index in ``prepared`` to related articles from
        outside the story.
        """
        corpus_docs = corpus_docs or {}
        per_claim: list[list[tuple[Candidate, Consistency]]] = []
        for i, p in enumerate(prepared):
            found = self.candidates(p, story_docs, "story")
            extra = corpus_docs.get(i)
            if extra:
                found += self.candidates(p, extra, "corpus")
            kept: list[tuple[Candidate, Consistency]] = []
            for cand in found:
                report = self.about_same_event(p, cand)
                if report is not None:
                    kept.append((cand, report))
            per_claim.append(kept)
        pairs = [
            Pair(p.claim.text, cand.quote, p.language, cand.doc.language)
            for p, kept in zip(prepared, per_claim, strict=True)
            for cand, _ in kept
        ]
        judgements = iter(self.verifier.judge(pairs))
        out: list[CheckedClaim] = []
        for p, kept in zip(prepared, per_claim, strict=True):
            evidence = [consistent(p, cand, next(judgements), rep) for cand, rep in kept]
            verdict = aggregate(
                [
                    Judged(e.candidate.doc.source_id, e.judgement, e.candidate.doc.url, e.corroborates)
                    for e in evidence
                ],
                claim_outlet=p.doc.source_id if p.doc else None,
                credibility=credibility,
                default_credibility=default_credibility,
            )
            evidence.sort(key=lambda e: -max(strengths(e.judgement, e.corroborates)))
            out.append(CheckedClaim(p.doc, p.claim, p.language, verdict, evidence))
        return out


def consistent(
    prepared: PreparedClaim, candidate: Candidate, judgement: Judgement, report: Consistency | None = None
) -> JudgedEvidence:
    """Apply the structured consistency check to one judged sentence (already about the same event).

    A conflict only counts when the sentence passed the relevance gate (``about_same_event``)
    and also shares a date, a name or a figure with the claim ("12 dead" vs "15 dead" on
    Monday in Gangwon), not merely two counts of people ("12 dead" vs "2,000 evacuated"). A
    sentence corroborates the claim when it repeats one of its figures and shares its date or
    names, or repeats two figures, and nothing conflicts.
    """
    if report is None:
        report = compare(prepared.claim.text, candidate.quote, prepared.language, candidate.doc.language)
    numbers = sum(a.startswith("number") for a in report.agreements)
    anchors = sum(not a.startswith("number") for a in report.agreements)
    conflicts = tuple(report.conflicts) if report.agreements else ()
    corroborates = not report.conflicts and (numbers >= 2 or (numbers >= 1 and anchors >= 1))
    return JudgedEvidence(candidate, replace(judgement, conflicts=conflicts), corroborates)
