"""Offline SIMULATION of the personal feed: synthetic listeners with hidden interests, real stories.

No public click logs are reachable here, so this measures the ranking against listeners we
invent. What is real: the stories (BBC, ag_news, the UCI News Aggregator head and Korean
news from ``../shared/data/news``), their multilingual-e5 embeddings, the category the
stories stage's classifier gives them, their keywords (the stories stage's extractor) and
their trending score (the stories stage's formula over simulated coverage). What is made
up: the listeners, their hidden tastes, how they respond, the outlets of the BBC and
ag_news items, and the coverage times.

Each listener has a hidden mix of categories (Dirichlet), two hidden topics (the centroid
of a random story) and languages, and declares some of it in preferences (a category,
a topic keyword, a language, an outlet to follow or mute; 20 % declare nothing). Every
simulated day each listener opens NewsTalk once, is shown the top 20 of the ranking and
responds (opened / listened % / liked / shared / skipped / disliked) with probabilities
from their hidden utility and a position bias; the feedback updates their profile with
the same code the service uses. On the held-out last days, every ranker orders the same
candidate set for each listener and is scored against the listener's sampled response to
every candidate (graded: 2 liked/shared, 1 opened, 0 otherwise): nDCG@10 and AUC.
The blend weights were set on seed 1's training days; the evaluation days are never used
to choose anything.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from newstalk.feed.ranking import (
    DEFAULT_WEIGHTS,
    Candidates,
    Engagement,
    Interests,
    Weights,
    centre,
    centred,
    language_mask,
    rank,
    topic_text,
)
from newstalk.kit.rows import SkippedRows
from newstalk.stories.category import CATEGORIES, Encoder, clean_ag_news

BBC_CATEGORIES = {
    "business": "economy",
    "entertainment": "entertainment",
    "politics": "politics",
    "sport": "sports",
    "tech": "tech",
}
AG_CATEGORIES = {"1": "world", "2": "sports", "3": "economy", "4": "tech"}
BBC_FIELDS = ("id", "title", "body", "category")
UCI_FIELDS = ("TITLE", "PUBLISHER", "STORY")
EN_OUTLETS = ("BBC News", "Reuters", "AP", "AFP", "The Guardian", "Bloomberg")
KO_DATELINE = re.compile(r"^\s*(?:\S+\s+){0,2}?(연합뉴스|뉴시스|뉴스1|머니투데이)\s+(?:\S+\s+){0,3}?기자\s+")
AG_OUTLET = re.compile(r"\(([A-Za-z.]+)\)\s*$")
SHOWN = 20
WINDOW_S = 48 * 3600.0
SESSION_HOUR = 21


@dataclass
class SimStory:
    id: int
    title: str
    text: str
    language: str
    gold: str  # the category the listeners' hidden tastes refer to (data set label)
    outlets: list[str]
    vector: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    category: str = ""  # what NewsTalk's classifier says
    keywords: list[str] = field(default_factory=list)
    published: float = 0.0
    arrivals: list[tuple[float, str]] = field(default_factory=list)


def _bucket(key: str, modulo: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % modulo


def _bbc_rows(path: Path, skipped: SkippedRows) -> list[dict[str, str]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.skip(f"{path}:{number}", f"not JSON ({exc.msg})")
            continue
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in BBC_FIELDS):
            skipped.skip(f"{path}:{number}", f"needs an object with text fields {', '.join(BBC_FIELDS)}")
            continue
        rows.append(row)
    return rows


def load_corpus(data_dir: Path, *, per_source: int, skipped: SkippedRows | None = None) -> list[SimStory]:
    """Stories from the shared news data; every choice is by hash, so the same files give the same set.

    Malformed rows (a broken JSON line, a CSV row without its fields) are skipped and counted.
    """
    skipped = skipped if skipped is not None else SkippedRows()
    stories: list[SimStory] = []
    rows = _bbc_rows(data_dir / "bbc_news.jsonl", skipped)
    rows.sort(key=lambda r: hashlib.sha256(r["id"].encode()).hexdigest())
    seen_titles: set[str] = set()
    for r in rows:
        if r["title"] in seen_titles or r["category"] not in BBC_CATEGORIES:
            continue
        seen_titles.add(r["title"])
        outlet = EN_OUTLETS[_bucket(r["id"], len(EN_OUTLETS))]
        stories.append(
            SimStory(0, r["title"], r["body"][:400], "en", BBC_CATEGORIES[r["category"]], [outlet])
        )
        if sum(1 for s in stories if s.language == "en") >= per_source:
            break
    ag_path = data_dir / "ag_news" / "test.csv"
    with ag_path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        ag: list[list[str]] = []
        for rec in reader:
            if len(rec) >= 3 and rec[0] in AG_CATEGORIES:
                ag.append(rec)
            elif any(x.strip() for x in rec):
                skipped.skip(f"{ag_path} line {reader.line_num}", "needs class index 1-4, title, description")
    ag.sort(key=lambda rec: hashlib.sha256(rec[1].encode()).hexdigest())
    for rec in ag[:per_source]:
        m = AG_OUTLET.search(rec[1])
        title = clean_ag_news(AG_OUTLET.sub("", rec[1]))
        outlet = m.group(1) if m else EN_OUTLETS[_bucket(rec[1], len(EN_OUTLETS))]
        stories.append(SimStory(0, title, clean_ag_news(rec[2]), "en", AG_CATEGORIES[rec[0]], [outlet]))
    ko_path = data_dir / "ko-news-soynlp" / "doublespace_line_corpus_sample.txt"
    for line in ko_path.read_text(encoding="utf-8").splitlines()[:per_source]:
        m = KO_DATELINE.match(line)
        body = line[m.end() :] if m else line
        outlet = m.group(1) if m else "한국 언론"
        stories.append(SimStory(0, body[:90].strip(), body[:400], "ko", "", [outlet]))
    uci_path = data_dir / "uci-news-aggregator-head.csv"
    with uci_path.open(encoding="utf-8", newline="") as fh:
        uci: dict[str, list[dict[str, str]]] = {}
        records = csv.DictReader(fh)
        for row in records:
            if not all(isinstance(row.get(k), str) and row[k].strip() for k in UCI_FIELDS):
                skipped.skip(f"{uci_path} line {records.line_num}", f"needs {', '.join(UCI_FIELDS)}")
                continue
            uci.setdefault(row["STORY"], []).append(row)
    for key in sorted(uci):
        members = uci[key]
        outlets = list(dict.fromkeys(m["PUBLISHER"] for m in members))
        stories.append(
            SimStory(
                0, members[0]["TITLE"], " ".join(m["TITLE"] for m in members[:5]), "en", "economy", outlets
            )
        )
    for i, s in enumerate(stories, start=1):
        s.id = i
    return stories


def embed_corpus(stories: Sequence[SimStory], encoder: Encoder, cache: Path | None) -> None:
    """e5 vectors of every title (UCI stories: the mean of their members' headlines), cached by content."""
    texts = [s.title for s in stories]
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = cache / f"feed-sim-{digest}.npy" if cache else None
    if path is not None and path.exists():
        vectors = np.load(path)
    else:
        vectors = np.asarray(encoder.encode(texts), dtype=np.float32)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, vectors)
    for s, v in zip(stories, vectors, strict=True):
        s.vector = v


@dataclass
class Listener:
    key: str
    categories: np.ndarray  # hidden mix over CATEGORIES
    topics: np.ndarray  # (2, dim) centred hidden topic directions
    languages: tuple[str, ...]
    interests: Interests
    engagement: Engagement


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _utility(listener: Listener, s: SimStory, centred: np.ndarray, quality: float) -> float:
    gold = s.gold or s.category
    u = 2.0 * float(listener.categories[CATEGORIES.index(gold)]) if gold in CATEGORIES else 0.0
    u += 1.5 * max(0.0, float((listener.topics @ centred).max()))
    u += 0.4 * quality
    if s.language not in listener.languages:
        u -= 2.0
    return u


def _respond(u: float, position: int | None, rng: np.random.Generator) -> list[tuple[str, int | None]]:
    """What a listener does with a story shown at ``position`` (None: seen with full attention)."""
    examine = 1.0 if position is None else 1.0 / (1.0 + 0.15 * position)
    if rng.random() > examine:
        return []
    if rng.random() < _sigmoid(3.0 * (u - 0.9)):
        events: list[tuple[str, int | None]] = [("opened", None)]
        percent = int(np.clip(100 * _sigmoid(2.0 * (u - 0.8)) + rng.normal(0, 15), 0, 100))
        events.append(("listened", percent))
        if rng.random() < _sigmoid(3.0 * (u - 1.5)):
            events.append(("liked", None))
            if rng.random() < 0.3:
                events.append(("shared", None))
        return events
    if rng.random() < _sigmoid(3.0 * (-u - 0.3)):
        return [("disliked", None)]
    return [("skipped", None)] if rng.random() < 0.5 else []


def _grade(events: Sequence[tuple[str, int | None]]) -> int:
    kinds = {k for k, _ in events}
    if kinds & {"liked", "shared"}:
        return 2
    return 1 if "opened" in kinds else 0


def ndcg_at(order: Sequence[int], gains: dict[int, int], k: int = 10) -> float | None:
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum((2.0**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    if idcg == 0:
        return None
    dcg = sum((2.0 ** gains.get(s, 0) - 1) / math.log2(i + 2) for i, s in enumerate(order[:k]))
    return float(dcg / idcg)


def auc(order: Sequence[int], gains: dict[int, int]) -> float | None:
    """Probability that a story the listener engaged with is ranked above one they did not."""
    labels = [1 if gains.get(s, 0) > 0 else 0 for s in order]
    pos = sum(labels)
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return None
    above, negatives_seen = 0, 0
    for label in reversed(labels):
        if label:
            above += negatives_seen
        else:
            negatives_seen += 1
    return above / (pos * neg)


def _candidates(
    stories: Sequence[SimStory], mean: np.ndarray, now: float, outlet_ids: dict[str, int]
) -> Candidates:
    from newstalk.stories.trending import TrendInput, trending

    when = datetime.fromtimestamp(now, UTC)
    trend = []
    last_seen = []
    counts = []
    for s in stories:
        arrived = [(t, o) for t, o in s.arrivals if t <= now]
        result = trending(
            TrendInput(
                published_at=[datetime.fromtimestamp(t, UTC) for t, _ in arrived],
                outlets=[o for _, o in arrived],
                category=s.category,
                now=when,
            ),
            0.5,
        )
        trend.append(result.score)
        last_seen.append(max(t for t, _ in arrived))
        counts.append(len({o for _, o in arrived}))
    vectors, spread, mean_dot = centred(np.asarray([s.vector for s in stories]), mean)
    return Candidates(
        ids=np.asarray([s.id for s in stories], dtype=np.int64),
        vectors=vectors,
        mean=mean,
        spread=spread,
        mean_dot=mean_dot,
        trending=np.asarray(trend, dtype=np.float32),
        first_seen=np.asarray([s.published for s in stories], dtype=np.float64),
        last_seen=np.asarray(last_seen, dtype=np.float64),
        outlet_count=np.asarray(counts, dtype=np.int32),
        category=np.asarray([CATEGORIES.index(s.category) for s in stories], dtype=np.int16),
        lead_outlet=np.asarray([outlet_ids[s.outlets[0]] for s in stories], dtype=np.int64),
        languages=np.asarray([language_mask([s.language]) for s in stories], dtype=np.uint8),
        active=np.ones(len(stories), dtype=bool),
        titles=[s.title for s in stories],
        topic_text=[topic_text(s.title, s.keywords, s.category) for s in stories],
        outlets=[tuple(outlet_ids[o] for o in s.outlets) for s in stories],
    )


def simulate(
    stories: list[SimStory],
    *,
    seed: int,
    listeners: int,
    days: int,
    eval_days: int,
    weights: Weights = DEFAULT_WEIGHTS,
    encoder: Encoder | None = None,
) -> dict[str, Any]:
    """Run the simulation on embedded, categorized stories and return the metrics."""
    rng = np.random.default_rng(seed)
    dim = len(stories[0].vector)
    start = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
    order = rng.permutation(len(stories))
    outlet_names = sorted({o for s in stories for o in s.outlets})
    outlet_ids = {name: i + 1 for i, name in enumerate(outlet_names)}
    quality: dict[int, float] = {}
    for rank_i, idx in enumerate(order):
        s = stories[int(idx)]
        s.published = start + (rank_i % days) * 86400 + float(rng.uniform(0, 20 * 3600))
        extra = int(rng.poisson(rng.lognormal(0.0, 0.8)))
        others = list(rng.permutation(EN_OUTLETS if s.language == "en" else outlet_names))
        covering = list(dict.fromkeys([*s.outlets, *others[:extra]]))
        s.arrivals = [(s.published, covering[0])] + [
            (s.published + float(rng.uniform(0, 6 * 3600)), o) for o in covering[1:]
        ]
        quality[s.id] = math.log1p(len(covering)) / math.log(12)
    mean = np.asarray([s.vector for s in stories]).mean(axis=0).astype(np.float32)
    centred = {s.id: centre(s.vector[None, :], mean)[0] for s in stories}
    present = [c for c in CATEGORIES if any((s.gold or s.category) == c for s in stories)]

    people: list[Listener] = []
    for i in range(listeners):
        mix = np.zeros(len(CATEGORIES))
        alphas = rng.dirichlet([0.4] * len(present))
        for c, a in zip(present, alphas, strict=True):
            mix[CATEGORIES.index(c)] = a
        topic_stories = [stories[int(j)] for j in rng.choice(len(stories), 2, replace=False)]
        topics = np.asarray([centred[s.id] for s in topic_stories])
        r = rng.random()
        languages = ("ko",) if r < 0.2 else ("en",) if r < 0.7 else ("ko", "en")
        declared: dict[str, Any] = {}
        if rng.random() >= 0.2:
            if rng.random() < 0.7:
                declared["categories"] = frozenset({CATEGORIES[int(np.argmax(mix))]})
            if rng.random() < 0.4:
                kw = [k for s in topic_stories for k in s.keywords[:1]]
                if kw:
                    declared["keywords"] = tuple(kw[:1])
            if rng.random() < 0.3:
                declared["languages"] = languages
            if rng.random() < 0.1:
                declared["followed_outlets"] = frozenset({int(rng.integers(1, len(outlet_ids) + 1))})
            if rng.random() < 0.1:
                declared["muted_outlets"] = frozenset({int(rng.integers(1, len(outlet_ids) + 1))})
        people.append(
            Listener(f"sim:{i}", mix, topics, languages, Interests(**declared), Engagement.empty(dim))
        )
    keyword_vectors = _embed_keywords(people, encoder)
    for p in people:
        if p.interests.keywords and keyword_vectors:
            vecs = np.asarray([keyword_vectors[k] for k in p.interests.keywords])
            p.interests = Interests(
                **{**p.interests.__dict__, "keyword_vectors": vecs, "vector_keywords": p.interests.keywords}
            )

    by_id = {s.id: s for s in stories}
    scores: dict[str, dict[str, list[float]]] = {
        name: {"ndcg": [], "auc": []}
        for name in ("newstalk", "newstalk_no_explore", "recency", "popularity", "random")
    }
    popularity: dict[int, int] = {}
    event_id = 0
    muted_shown = 0
    no_explore = Weights(**{**weights.__dict__, "explore": False})
    for day in range(days):
        now = start + day * 86400 + SESSION_HOUR * 3600
        pool = [s for s in stories if now - WINDOW_S < s.published <= now]
        cands = _candidates(pool, mean, now, outlet_ids)
        when = datetime.fromtimestamp(now, UTC)
        evaluating = day >= days - eval_days
        fresh: dict[int, int] = {}
        for p in people:
            picks = rank(
                cands, p.engagement, p.interests, now=when, user_key=p.key, window_s=WINDOW_S, weights=weights
            )
            shown = [int(cands.ids[x.row]) for x in picks[:SHOWN]]
            muted_shown += sum(
                1 for sid in shown if {outlet_ids[o] for o in by_id[sid].outlets} <= p.interests.muted_outlets
            )
            if evaluating:
                eval_rng = np.random.default_rng([seed, day, int(p.key.split(":")[1])])
                pool_ids = [s.id for s in pool if s.id not in p.engagement.seen]
                gains = {
                    sid: _grade(_respond(_utility(p, by_id[sid], centred[sid], quality[sid]), None, eval_rng))
                    for sid in pool_ids
                }
                full = [int(cands.ids[x.row]) for x in picks]
                plain = rank(
                    cands,
                    p.engagement,
                    p.interests,
                    now=when,
                    user_key=p.key,
                    window_s=WINDOW_S,
                    weights=no_explore,
                )
                plain_ids = [int(cands.ids[x.row]) for x in plain]
                recency = sorted(pool_ids, key=lambda sid: (-by_id[sid].published, sid))
                popular = sorted(pool_ids, key=lambda sid: (-popularity.get(sid, 0), -quality[sid], sid))
                shuffled = [pool_ids[int(j)] for j in eval_rng.permutation(len(pool_ids))]
                for name, ranking in (
                    ("newstalk", _complete(full, recency)),
                    ("newstalk_no_explore", _complete(plain_ids, recency)),
                    ("recency", recency),
                    ("popularity", popular),
                    ("random", shuffled),
                ):
                    n = ndcg_at(ranking, gains)
                    a = auc(ranking, gains)
                    if n is not None:
                        scores[name]["ndcg"].append(n)
                    if a is not None:
                        scores[name]["auc"].append(a)
            session_rng = np.random.default_rng([seed, day, 1_000_000 + int(p.key.split(":")[1])])
            for position, sid in enumerate(shown):
                s = by_id[sid]
                u = _utility(p, s, centred[sid], quality[sid])
                for kind, percent in _respond(u, position, session_rng):
                    event_id += 1
                    at = now + 60 * position
                    p.engagement.add(
                        event_id=event_id,
                        story_id=sid,
                        kind=kind,
                        percent=percent,
                        at=at,
                        vector=s.vector,
                        category=s.category,
                        title=s.title,
                    )
                    if kind in ("opened", "liked", "shared"):
                        fresh[sid] = fresh.get(sid, 0) + 1
        for sid, count in fresh.items():
            popularity[sid] = popularity.get(sid, 0) + count
    result: dict[str, Any] = {
        "simulation": True,
        "seed": seed,
        "stories": len(stories),
        "stories_by_language": {lang: sum(1 for s in stories if s.language == lang) for lang in ("en", "ko")},
        "listeners": listeners,
        "days": days,
        "eval_days": eval_days,
        "shown_per_day": SHOWN,
        "events": event_id,
        "muted_outlet_items_shown": muted_shown,
    }
    for name, values in scores.items():
        result[name] = {
            "ndcg@10": round(float(np.mean(values["ndcg"])), 4) if values["ndcg"] else None,
            "auc": round(float(np.mean(values["auc"])), 4) if values["auc"] else None,
            "n": len(values["ndcg"]),
        }
    return result


def _complete(head: list[int], rest: Sequence[int]) -> list[int]:
    """A ranking over the whole candidate set: ours first, the rest in the given order."""
    seen = set(head)
    return head + [s for s in rest if s not in seen]


def _embed_keywords(people: Sequence[Listener], encoder: Encoder | None) -> dict[str, np.ndarray]:
    words = sorted({k for p in people for k in p.interests.keywords})
    if not words or encoder is None:
        return {}
    vectors = encoder.encode(words)
    return dict(zip(words, np.asarray(vectors, dtype=np.float32), strict=True))


def evaluate_feed(
    data_dir: Path,
    encoder: Encoder,
    *,
    seed: int = 7,
    listeners: int = 600,
    days: int = 10,
    eval_days: int = 3,
    per_source: int = 400,
    cache: Path | None = None,
) -> dict[str, Any]:
    """Build the corpus (real stories, e5, classifier, keywords) and run the simulation."""
    from newstalk.stories.category import CategoryClassifier
    from newstalk.stories.keywords import keywords

    if eval_days < 1 or eval_days >= days:
        raise ValueError(f"eval feed: eval_days must be between 1 and days-1, got {eval_days} of {days}")
    skipped = SkippedRows()
    stories = load_corpus(data_dir, per_source=per_source, skipped=skipped)
    embed_corpus(stories, encoder, cache)
    classifier = CategoryClassifier.load()
    predicted = classifier.predict(np.asarray([s.vector for s in stories]))
    for s, (category, _) in zip(stories, predicted, strict=True):
        s.category = category
        s.keywords = keywords(f"{s.title}\n{s.text}", s.language, top=5)
    started = datetime.now(UTC)
    result = simulate(
        stories, seed=seed, listeners=listeners, days=days, eval_days=eval_days, encoder=encoder
    )
    result["seconds"] = round((datetime.now(UTC) - started) / timedelta(seconds=1), 1)
    result["data"] = str(data_dir)
    result.update(skipped.report())
    return result


RANKERS = {
    "newstalk": "NewsTalk (as served, 10 % exploration)",
    "newstalk_no_explore": "NewsTalk without exploration",
    "recency": "recency only",
    "popularity": "popularity only",
    "random": "random",
}


def format_result(result: dict[str, Any]) -> str:
    """One markdown table, headed by what was simulated."""
    lines = [
        "SIMULATION (synthetic listeners with hidden interests over real stories; not real listeners)",
        f"seed {result['seed']}, {result['stories']} stories "
        f"({result['stories_by_language']['en']} en, {result['stories_by_language']['ko']} ko), "
        f"{result['listeners']} listeners, {result['days']} days (last {result['eval_days']} held out), "
        f"{result['shown_per_day']} shown a day, {result['events']} feedback events, "
        f"muted-outlet items shown: {result['muted_outlet_items_shown']}",
        "",
        "| ranking | nDCG@10 | AUC | listener-days |",
        "|---|---|---|---|",
    ]
    for key, name in RANKERS.items():
        r = result[key]
        lines.append(f"| {name} | {r['ndcg@10']:.4f} | {r['auc']:.4f} | {r['n']} |")
    return "\n".join(lines)
