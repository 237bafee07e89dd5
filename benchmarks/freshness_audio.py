"""Why an item's audio came late: read a kept freshness run's database (``freshness.py --keep``).

Run: ``.venv/bin/python benchmarks/freshness_audio.py /tmp/newstalk-freshness-XXXX/newstalk.db``.

``freshness.py`` counts an item's audio as ready at the first ``audio.ready`` of its story at
the item's version or later. A version whose short first edition says the same words as the
one before gets no new audio (audio is addressed by what is spoken), so its items wait for a
later version that changes those words, or for the full script minutes later. This splits
the articles placed in a story (the few of the warm-up included) by whether their version wrote
a new first edition (two story scripts at that version: the full one and the first edition)
and prints, for those that did, first-seen → first ``audio.ready`` of a version at least
theirs, p50/p95/max, from the service's own records (``live_events``, ``scripts``,
``story_articles``). One markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import Counter
from datetime import datetime


def ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", help="newstalk.db of a run kept with freshness.py --keep")
    args = parser.parse_args(argv)
    db = sqlite3.connect(f"file:{args.database}?mode=ro", uri=True)
    events: dict[int, list[tuple[str, int, float]]] = {}
    for story_id, kind, payload, created in db.execute(
        "SELECT story_id, type, payload, created_at FROM live_events ORDER BY id"
    ):
        version = int(json.loads(payload)["story"]["version"])
        events.setdefault(story_id, []).append((kind, version, ts(created)))
    scripts = Counter(
        db.execute(
            "SELECT story_id, story_version FROM scripts WHERE kind = 'story' AND story_id IS NOT NULL"
        )
    )
    placed = db.execute(
        "SELECT a.first_seen_at, sa.story_id, sa.added_at FROM articles a"
        " JOIN story_articles sa ON sa.article_id = a.id ORDER BY a.id"
    ).fetchall()
    new_first: list[float | None] = []
    same_words = 0
    for first_seen, story_id, added in placed:
        seen, joined = ts(first_seen), ts(added)
        ev = events.get(story_id, [])
        # The item's version: the story's first announced version at or after it joined.
        versions = [v for kind, v, t in ev if kind == "story.updated" and t >= joined - 0.5]
        if not versions:
            continue
        version = versions[0]
        if scripts[(story_id, version)] < 2:
            same_words += 1
            continue
        audio = [t for kind, v, t in ev if kind == "audio.ready" and v >= version]
        new_first.append(min(audio) - seen if audio else None)
    ready = [x for x in new_first if x is not None]
    total = len(new_first) + same_words
    print(
        "| articles placed in a story (the warm-up's included) | count | first-seen → audio ready p50 / p95 / max (s) |"
    )
    print("|---|---:|---|")
    spread = f"{pct(ready, 0.5):.1f} / {pct(ready, 0.95):.1f} / {max(ready):.1f}" if ready else "–"
    print(
        f"| their version wrote a new first edition | {len(new_first)} ({len(ready)} with audio) | {spread} |"
    )
    print(f"| their version left the first edition's words as they were | {same_words} | (no new audio) |")
    print(f"| all | {total} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
