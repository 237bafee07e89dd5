"""What the embed stage's per-article work costs, step by step: e5 vector, leads, keywords, MinHash, sentiment.

Run: ``.venv/bin/python benchmarks/embed.py [--articles 1000] [--threads 1] [--batch 32]``.

Runs ``newstalk.stories.engine.compute`` (what ``newstalk worker embed`` calls for each claimed
batch) over the Korean/English stream of ``benchmarks/stories.py`` in claimed-batch-sized
calls, with the e5 provider ``build_embeddings`` makes from ``NEWSTALK_EMBED_THREADS`` =
``--threads``, and times each step inside it by wrapping the functions ``compute`` calls.
Prints one markdown table: per step, CPU ms per article (this process, user + system: on a
shared machine the steadier figure) for all articles, English and Korean, and wall ms per
article. ``--long-korean N`` adds N Korean articles of ~3,900 characters in ~19 paragraphs
(consecutive sentences of the Korean-English news set), the length of a full-text article,
which the stream (short Korean texts) lacks. A last row times the lead split as it was
before it stopped at the lead's last sentence (the whole text). No database and no bus: the stage's
own overhead (claim, store, emit) is in ``benchmarks/transport.py``'s CPU column.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stories import NEWS, Doc, build_stream, read_datasets

STEPS = (
    ("e5 vector (headline)", "newstalk.providers.embeddings", "E5SmallEmbeddings", "encode"),
    ("leads (sentence split)", "newstalk.stories.engine", None, "sentences"),
    ("keywords", "newstalk.stories.engine", None, "keywords"),
    ("MinHash", "newstalk.stories.neardup", None, "signature"),
    ("sentiment", "newstalk.stories.engine", None, "sentiment"),
    ("title words + entities", "newstalk.stories.engine", None, "features_from_title"),
)


class Clock:
    """CPU and wall seconds per step, per language of the batch being computed."""

    def __init__(self) -> None:
        self.cpu: dict[tuple[str, str], float] = defaultdict(float)
        self.wall: dict[tuple[str, str], float] = defaultdict(float)
        self.language = "en"

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            c0, w0 = time.process_time(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.cpu[(name, self.language)] += time.process_time() - c0
                self.wall[(name, self.language)] += time.perf_counter() - w0

        return timed


def long_korean(n: int) -> list[Doc]:
    lines = [
        line.strip()
        for line in (NEWS / "ko-en-news-parallel" / "korean-english-park.dev.ko")
        .read_text("utf-8")
        .splitlines()
        if line.strip()
    ]
    out, i = [], 0
    for k in range(n):
        paragraphs: list[str] = []
        while sum(len(p) for p in paragraphs) < 3800:
            paragraphs.append(" ".join(lines[(i + j) % len(lines)] for j in range(3)))
            i += 3
        out.append(Doc("long-ko", k, "ko", paragraphs[0][:60], "\n".join(paragraphs)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1, help="NEWSTALK_EMBED_THREADS (0: every core)")
    parser.add_argument("--batch", type=int, default=32, help="articles per compute call (a claimed batch)")
    parser.add_argument("--long-korean", type=int, default=0, help="extra full-length Korean articles")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    import importlib

    from newstalk.config import Settings
    from newstalk.providers.embeddings import build_embeddings
    from newstalk.stories import engine
    from newstalk.stories.text import kiwi

    docs = build_stream(read_datasets(), args.articles, args.seed) + long_korean(args.long_korean)
    now = datetime.now(UTC)
    clock = Clock()
    for name, module, owner, attr in STEPS:
        target: Any = importlib.import_module(module)
        if owner is not None:
            target = getattr(target, owner)
        setattr(target, attr, clock.wrap(name, getattr(target, attr)))
    embeddings = build_embeddings(Settings(_env_file=None, embed_threads=args.threads))
    embeddings.encode(["warm-up"])  # model load is not per-article work
    kiwi().tokenize("워밍업")

    groups: dict[str, list[engine.ArticleInput]] = defaultdict(list)
    for i, d in enumerate(docs):
        key = "ko-long" if d.dataset == "long-ko" else d.language
        text = d.text[: engine.TEXT_CHARS]
        groups[key].append(engine.ArticleInput(i, 1, d.language, d.title, text, now, now))
    total_cpu: dict[str, float] = {}
    total_wall: dict[str, float] = {}
    load_start = os.getloadavg()
    for lang, articles in groups.items():
        clock.language = lang
        c0, w0 = time.process_time(), time.perf_counter()
        for start in range(0, len(articles), args.batch):
            engine.compute(embeddings, articles[start : start + args.batch])
        total_cpu[lang] = time.process_time() - c0
        total_wall[lang] = time.perf_counter() - w0
    # The lead as it was split before the limit: the whole text, then its first sentences.
    from newstalk.stories.text import sentences

    for lang, articles in groups.items():
        c0 = time.process_time()
        for a in articles:
            sentences(a.text, a.language)[: engine.LEAD_SENTENCES]
        clock.cpu[("leads, whole text split (before)", lang)] = time.process_time() - c0
    load_end = os.getloadavg()

    langs = [k for k in ("en", "ko", "ko-long") if k in groups]
    counts = {k: len(groups[k]) for k in langs}
    stream = [k for k in langs if k != "ko-long"]
    n_stream = sum(counts[k] for k in stream)

    def per(
        values: dict[tuple[str, str], float] | dict[str, float], name: str | None, keys: list[str]
    ) -> float:
        got = sum(values.get((name, k) if name else k, 0.0) for k in keys)  # type: ignore[call-overload]
        return 1000 * got / max(1, sum(counts[k] for k in keys))

    header = ["step", f"CPU ms/article, stream ({n_stream})"]
    header += [f"CPU ms, {k} ({counts[k]})" for k in langs]
    header += ["wall ms/article, stream"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, *_ in STEPS:
        cells = [name, f"{per(clock.cpu, name, stream):.2f}"]
        cells += [f"{per(clock.cpu, name, [k]):.2f}" for k in langs]
        cells += [f"{per(clock.wall, name, stream):.2f}"]
        print("| " + " | ".join(cells) + " |")
    name = "leads, whole text split (before)"
    cells = [name, f"{per(clock.cpu, name, stream):.2f}"]
    cells += [f"{per(clock.cpu, name, [k]):.2f}" for k in langs]
    print("| " + " | ".join([*cells, "—"]) + " |")
    cells = ["compute total", f"{per(total_cpu, None, stream):.2f}"]
    cells += [f"{per(total_cpu, None, [k]):.2f}" for k in langs]
    cells += [f"{per(total_wall, None, stream):.2f}"]
    print("| " + " | ".join(cells) + " |")
    threads = getattr(embeddings, "threads", "-")
    print(
        f"\ne5 threads {threads}, {args.batch} articles per call, cores {len(os.sched_getaffinity(0))}, "
        f"load average {load_start[0]:.1f} -> {load_end[0]:.1f} (1 min)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
