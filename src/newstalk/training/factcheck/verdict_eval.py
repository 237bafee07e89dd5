"""Verdicts measured on the product path: retrieved evidence, the shipped gate, aggregation and threshold.

``newstalk eval verdicts DATA`` reads the shared ``factcheck/`` folder and runs the code the
service runs, with the inputs it really has:

- **Climate-FEVER** (NOT_ENOUGH_INFO and DISPUTED claims included): every evidence sentence
  of the file, grouped by its Wikipedia article, becomes one corpus article (title: the
  article name, as the corpus index embeds headlines). Each sampled claim goes through
  ``POST /api/v1/fact-check``'s steps: claim detection (``service.adhoc_claims``), corpus
  search (``corpus.related_articles`` over a ``CorpusIndex``), sentence retrieval, the
  relevance gate, the verifier and ``verdicts.aggregate``. Gold: SUPPORTS -> supported,
  REFUTES -> refuted, DISPUTED -> disputed, NOT_ENOUGH_INFO -> unverified.
- **FNC-1 dev**: each sampled headline is checked as a story claim against its paired body
  as another outlet's article in the same story (what a story that glued two events
  together gives the checker). Gold: agree -> supported, disagree -> refuted, discuss and
  unrelated -> unverified (a body that discusses a claim without taking a side neither
  confirms nor contradicts it; an unrelated one is about something else).

The verifier is the shipped local model, except that a pair it trained on (a retrieved
sentence that is the claim's own gold evidence) is judged by the fold model that never saw
it. Samples are deterministic (ordered by a hash of the claim id / FNC-1 body id) and split
in two halves by that hash: ``calibration`` (used by ``--fit`` to fit ``calibration.json``)
and ``report`` (every number printed). FNC-1 halves are split by body, so no body is in both.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newstalk.factcheck import calibration
from newstalk.factcheck.checker import CheckedClaim, Checker, Document, PreparedClaim
from newstalk.factcheck.corpus import CorpusIndex, related_articles
from newstalk.factcheck.models import DISPUTED, REFUTED, SUPPORTED, UNVERIFIED
from newstalk.factcheck.service import CORPUS_ARTICLES, adhoc_claims
from newstalk.stories.keywords import keywords
from newstalk.stories.text import nouns
from newstalk.training.factcheck import calibration_fit
from newstalk.training.factcheck.datasets import DatasetError

DEFAULT_CLAIMS = 300
CALIBRATION, REPORT = "calibration", "report"
CLIMATE_GOLD = {
    "SUPPORTS": SUPPORTED,
    "REFUTES": REFUTED,
    "DISPUTED": DISPUTED,
    "NOT_ENOUGH_INFO": UNVERIFIED,
}
FNC_GOLD = {"agree": SUPPORTED, "disagree": REFUTED, "discuss": UNVERIFIED, "unrelated": UNVERIFIED}


@dataclass
class Record:
    dataset: str
    split: str
    gold_label: str
    gold: str
    verdict: str
    raw: float
    evidence: int

    @property
    def correct(self) -> bool:
        return self.verdict == self.gold


def _bucket(key: str) -> float:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def split_of(key: str) -> str:
    """The half a claim (or FNC-1 body) belongs to, fixed by its key."""
    return CALIBRATION if _bucket("split:" + key) < 0.5 else REPORT


def _rows(path: Path, skipped: Counter[str]) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        raise DatasetError(f"eval verdicts: {path} is missing")
    with path.open(encoding="utf-8-sig") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                skipped[path.name] += 1
                continue
            if isinstance(obj, dict):
                yield obj
            else:
                skipped[path.name] += 1


def _verdicts(
    checker: Checker,
    prepared: list[PreparedClaim],
    story: Sequence[Document],
    corpus: dict[int, list[Document]],
) -> list[CheckedClaim]:
    return checker.check(prepared, story, corpus, credibility={}, default_credibility=0.7)


def run_climate(
    checker: Checker, path: Path, limit: int, skipped: Counter[str], skip: int = 0
) -> list[Record]:
    """Climate-FEVER claims checked against a corpus of every evidence article in the file."""
    articles: dict[str, list[tuple[int, str]]] = {}
    claims: list[tuple[str, str, str]] = []
    for obj in _rows(path, skipped):
        claim, label, evidences = obj.get("claim"), obj.get("claim_label"), obj.get("evidences")
        if not isinstance(claim, str) or label not in CLIMATE_GOLD or not isinstance(evidences, list):
            skipped[path.name] += 1
            continue
        claims.append((str(obj.get("claim_id", len(claims))), claim.strip(), str(label)))
        for ev in evidences:
            if (
                isinstance(ev, dict)
                and isinstance(ev.get("evidence"), str)
                and isinstance(ev.get("article"), str)
            ):
                number = str(ev.get("evidence_id", "")).rsplit(":", 1)[-1]
                order = int(number) if number.isdigit() else 0
                sents = articles.setdefault(ev["article"], [])
                if ev["evidence"].strip() not in {s for _, s in sents}:
                    sents.append((order, ev["evidence"].strip()))
    docs = [
        Document(
            i + 1,
            i + 1,
            title,
            f"https://en.wikipedia.org/wiki/{title.replace(' ', '_')}",
            "en",
            title,
            " ".join(s for _, s in sorted(sents)),
        )
        for i, (title, sents) in enumerate(sorted(articles.items()))
    ]
    index = CorpusIndex(24)
    vectors = checker.embeddings.encode([d.title for d in docs])
    index.add(
        [d.article_id or 0 for d in docs],
        [d.source_id or 0 for d in docs],
        vectors,
        [keywords(f"{d.title}\n{d.text}", "en") + nouns(d.title, "en") for d in docs],
        datetime.now(UTC),
    )
    by_id = {d.article_id: d for d in docs}
    sample = sorted(claims, key=lambda c: _bucket("sample:" + c[0]))[skip : skip + limit]
    prepared: list[PreparedClaim] = []
    for _, text, _ in sample:
        prepared.append(adhoc_claims(checker, text, "en")[0])
    wanted = related_articles(index, prepared, None, set(), CORPUS_ARTICLES)
    corpus = {i: [by_id[a] for a in ids] for i, ids in wanted.items() if ids}
    checked = _verdicts(checker, prepared, [], corpus)
    return [
        Record(
            "climate-fever",
            split_of(cid),
            label,
            CLIMATE_GOLD[label],
            c.verdict.verdict,
            float(c.verdict.detail["raw_confidence"]),
            len(c.evidence),
        )
        for (cid, _, label), c in zip(sample, checked, strict=True)
    ]


def run_fnc(checker: Checker, folder: Path, limit: int, skipped: Counter[str], skip: int = 0) -> list[Record]:
    """FNC-1 headlines checked against their paired body as another outlet's article in the story."""
    bodies: dict[str, str] = {}
    for obj in _rows(folder / "bodies.jsonl", skipped):
        if isinstance(obj.get("body"), str) and "body_id" in obj:
            bodies[str(obj["body_id"])] = obj["body"]
        else:
            skipped["bodies.jsonl"] += 1
    pairs: list[tuple[str, str, str]] = []
    for obj in _rows(folder / "stances.jsonl", skipped):
        body_id, headline, stance = str(obj.get("body_id")), obj.get("headline"), obj.get("stance")
        if body_id not in bodies or not isinstance(headline, str) or stance not in FNC_GOLD:
            skipped["stances.jsonl"] += 1
            continue
        pairs.append((body_id, headline.strip(), str(stance)))
    sample = sorted(pairs, key=lambda p: _bucket(f"sample:{p[0]}:{p[1]}"))[skip : skip + limit]
    by_body: dict[str, list[int]] = {}
    for i, (body_id, _, _) in enumerate(sample):
        by_body.setdefault(body_id, []).append(i)
    out: list[Record | None] = [None] * len(sample)
    for body_id, rows in by_body.items():
        doc = Document(
            int(body_id) + 1, 2, "Body", f"https://fnc-1.invalid/body/{body_id}", "en", "", bodies[body_id]
        )
        prepared = [adhoc_claims(checker, sample[i][1], "en")[0] for i in rows]
        for i, c in zip(rows, _verdicts(checker, prepared, [doc], {}), strict=True):
            stance = sample[i][2]
            out[i] = Record(
                "fnc-1",
                split_of("body:" + body_id),
                stance,
                FNC_GOLD[stance],
                c.verdict.verdict,
                float(c.verdict.detail["raw_confidence"]),
                len(c.evidence),
            )
    return [r for r in out if r is not None]


def _precision(records: Sequence[Record], kind: str) -> float | None:
    made = [r for r in records if r.verdict == kind]
    return round(sum(r.correct for r in made) / len(made), 4) if made else None


def summarize(records: Sequence[Record], path: Path = calibration.CALIBRATION_PATH) -> dict[str, Any]:
    """Precision of supported / refuted at the shipped threshold, abstention, accuracy, calibration."""
    conf = [calibration.calibrate(r.verdict, r.raw, path) for r in records]
    ok = [r.correct for r in records]
    out: dict[str, Any] = {
        "n": len(records),
        "verdicts": dict(Counter(r.verdict for r in records)),
        "gold": dict(Counter(r.gold_label for r in records)),
        "precision_supported": _precision(records, SUPPORTED),
        "precision_refuted": _precision(records, REFUTED),
        "abstention": round(sum(r.verdict == UNVERIFIED for r in records) / len(records), 4)
        if records
        else None,
        "accuracy": round(sum(ok) / len(ok), 4) if ok else None,
        "ece": round(calibration_fit.expected_calibration_error(conf, ok), 4),
        "ece_raw": round(calibration_fit.expected_calibration_error([r.raw for r in records], ok), 4),
    }
    return out


def evaluate_verdicts(
    checker: Checker,
    data: Path,
    limit: int = DEFAULT_CLAIMS,
    *,
    fit: bool = False,
    calibration_path: Path = calibration.CALIBRATION_PATH,
    records_path: Path | None = None,
    skip: int = 0,
    both_halves: bool = False,
) -> dict[str, Any]:
    """Run both data sets (``limit`` claims each), optionally fit calibration, report on the held-out half."""
    skipped: Counter[str] = Counter()
    started = time.perf_counter()
    records = run_climate(checker, data / "climate-fever" / "climate-fever.jsonl", limit, skipped, skip)
    records += run_fnc(checker, data / "fnc-1-dev", limit, skipped, skip)
    seconds = time.perf_counter() - started
    if records_path is not None:
        with records_path.open("w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r.__dict__, ensure_ascii=False) + "\n")
    fitted: dict[str, Any] = {}
    if fit:
        params: dict[str, tuple[float, float]] = {}
        cal = [r for r in records if r.split == CALIBRATION]
        for kind in (SUPPORTED, REFUTED, DISPUTED, UNVERIFIED):
            rows = [r for r in cal if r.verdict == kind]
            if rows:
                params[kind] = calibration_fit.fit_platt([r.raw for r in rows], [r.correct for r in rows])
        calibration_fit.save(
            params,
            {
                "fitted_on": f"calibration half of {limit} Climate-FEVER claims and {limit} FNC-1 pairs "
                f"({len(cal)} verdicts), product path (newstalk eval verdicts --fit)",
                "examples": dict(Counter(r.verdict for r in cal)),
            },
            calibration_path,
        )
        fitted = {"calibration_fitted_on": len(cal)}
    if both_halves and fit:
        raise ValueError("eval verdicts: --both-halves reports on the half --fit fits on; use one of them")
    report = records if both_halves else [r for r in records if r.split == REPORT]
    result: dict[str, Any] = {
        "sample": f"{limit} claims per data set, from number {skip} in hash order; numbers on "
        + ("both halves (none fitted on)" if both_halves else "the held-out half"),
        "held_out": len(report),
        **fitted,
    }
    for name in ("climate-fever", "fnc-1"):
        part = [r for r in report if r.dataset == name]
        for key, value in summarize(part, calibration_path).items():
            result[f"{name}.{key}"] = value
    unrelated = [r for r in report if r.dataset == "fnc-1" and r.gold_label == "unrelated"]
    result["fnc-1.unrelated_unverified"] = (
        round(sum(r.verdict == UNVERIFIED for r in unrelated) / len(unrelated), 4) if unrelated else None
    )
    result["fnc-1.unrelated_with_evidence"] = sum(r.evidence > 0 for r in unrelated)
    pooled = summarize(report, calibration_path)
    result["all.precision_supported"] = pooled["precision_supported"]
    result["all.precision_refuted"] = pooled["precision_refuted"]
    result["all.abstention"] = pooled["abstention"]
    result["all.ece"] = pooled["ece"]
    result["all.ece_raw"] = pooled["ece_raw"]
    result["reliability"] = calibration_fit.reliability(
        [calibration.calibrate(r.verdict, r.raw, calibration_path) for r in report],
        [r.correct for r in report],
    )
    result["rows_skipped"] = dict(skipped)
    result["seconds"] = round(seconds, 1)
    return result
