"""Fact-checking benchmark: claims/s and latency per claim of the checker on real articles, on this CPU.

Run: ``.venv/bin/python benchmarks/factcheck.py [--stories 40] [--outlets 6] [--seed 7]``.
Prints one markdown table (metric | value) on stdout; progress goes to stderr.

What runs is what the ``factcheck`` stage runs for a story, without the database: claim
detection on each article, e5 embeddings, hybrid evidence retrieval over the other
articles' sentences, the configured verifier (the offline ``local`` one by default) and
the verdict. A "story" is ``--outlets`` real articles of one BBC category (English) or of
the Korean soynlp sample, each treated as another outlet; half the stories are Korean.
Claims of a story are checked one at a time, so the latency per claim includes the
embeddings its evidence needs that earlier claims of the story did not already compute
(the stage's cache behaves the same way). Peak memory is the process's ru_maxrss.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT.parent / "shared" / "data" / "news"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def load_stories(n: int, outlets: int, seed: int) -> list[list[tuple[str, str]]]:
    """n groups of (language, text), alternating English (BBC, one category) and Korean (soynlp)."""
    rng = random.Random(seed)
    by_category: dict[str, list[str]] = {}
    with (NEWS / "bbc_news.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            by_category.setdefault(row["category"], []).append(row["body"])
    korean = [
        line.strip()
        for line in (NEWS / "ko-news-soynlp" / "doublespace_line_corpus_sample.txt")
        .read_text(encoding="utf-8")
        .splitlines()
        if len(line.strip()) > 200
    ]
    stories: list[list[tuple[str, str]]] = []
    categories = sorted(by_category)
    for i in range(n):
        if i % 2 == 0:
            bodies = rng.sample(by_category[categories[(i // 2) % len(categories)]], outlets)
            stories.append([("en", b) for b in bodies])
        else:
            stories.append([("ko", b) for b in rng.sample(korean, outlets)])
    return stories


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=40)
    parser.add_argument("--outlets", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from newstalk.config import load_settings
    from newstalk.factcheck.checker import Checker, Document
    from newstalk.factcheck.features import LruEncoder
    from newstalk.factcheck.providers import build_verifier
    from newstalk.factcheck.service import CLAIMS_PER_ARTICLE, CLAIMS_PER_STORY, MIN_CLAIM_SCORE, TEXT_CHARS
    from newstalk.providers.embeddings import build_embeddings

    settings = load_settings()
    stories = load_stories(args.stories, args.outlets, args.seed)
    log(f"{len(stories)} stories of {args.outlets} articles; verifier {settings.verifier_provider}")
    t = time.perf_counter()
    embeddings = LruEncoder(build_embeddings(settings))
    checker = Checker(build_verifier(settings, embeddings), embeddings)
    checker.prepare_claims([])  # nothing; the model loads below on first use
    embeddings.encode(["warm-up"])
    load_s = time.perf_counter() - t

    latencies: dict[str, list[float]] = {"en": [], "ko": []}
    verdicts: dict[str, int] = {}
    total_claims = 0
    wall = time.perf_counter()
    for n, story in enumerate(stories):
        docs = [
            Document(
                i, 1000 * n + i, f"outlet-{i}", f"https://example.org/{n}/{i}", lang, "", text[:TEXT_CHARS]
            )
            for i, (lang, text) in enumerate(story)
        ]
        prepared = checker.prepare(
            docs, per_article=CLAIMS_PER_ARTICLE, limit=CLAIMS_PER_STORY, min_score=MIN_CLAIM_SCORE
        )
        for p in prepared:
            t = time.perf_counter()
            [result] = checker.check([p], docs)
            latencies[p.language].append(time.perf_counter() - t)
            verdicts[result.verdict.verdict] = verdicts.get(result.verdict.verdict, 0) + 1
        total_claims += len(prepared)
        if n % 10 == 9:
            log(f"{n + 1} stories, {total_claims} claims")
    wall = time.perf_counter() - wall
    every = latencies["en"] + latencies["ko"]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        ("machine", f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"),
        ("verifier", settings.verifier_provider),
        ("stories x articles", f"{len(stories)} x {args.outlets}"),
        ("claims checked", str(total_claims)),
        ("claims/s (story mode: detection + retrieval + verification)", f"{total_claims / wall:.2f}"),
        (
            "latency per claim p50 / p95, all",
            f"{statistics.median(every) * 1000:.0f} / {percentile(every, 0.95) * 1000:.0f} ms",
        ),
    ]
    for lang in ("en", "ko"):
        if latencies[lang]:
            vals = latencies[lang]
            rows.append(
                (
                    f"latency per claim p50 / p95, {lang}",
                    f"{statistics.median(vals) * 1000:.0f} / {percentile(vals, 0.95) * 1000:.0f} ms",
                )
            )
    rows += [
        ("model load", f"{load_s:.1f} s"),
        ("verdicts", ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items()))),
        ("peak RSS MB (ru_maxrss)", f"{rss_mb:.0f}"),
    ]
    print("| metric | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
