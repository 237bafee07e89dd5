"""The labelled stream format and converters from the shared evaluation data.

A stream is JSON Lines, one article per line::

    {"id": "uci-17", "event": "uci:dd…", "language": "en", "outlet": "Reuters",
     "title": "…", "body": "…", "published": "2014-03-10T17:32:50+00:00"}

``id`` is unique in the stream, ``event`` is the gold label (articles with the same event
belong in one story), ``language`` is ``ko`` or ``en``, ``published`` is ISO 8601 with a
time zone. ``body`` may be empty (a headline-only item). A line that is not such an object
is skipped and counted, never fatal.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FIELDS = ("id", "event", "language", "outlet", "title", "body", "published")
LANGUAGES = ("ko", "en")
# Converted data sets have no (useful) times: events start across a day, coverage follows within hours.
DAY = timedelta(hours=20)
COVERAGE = timedelta(hours=4)
EPOCH = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StreamItem:
    id: str
    event: str
    language: str
    outlet: str
    title: str
    body: str
    published: datetime

    def to_json(self) -> str:
        row = asdict(self)
        row["published"] = self.published.isoformat()
        return json.dumps(row, ensure_ascii=False)


@dataclass
class Stream:
    items: list[StreamItem]
    skipped: int
    skip_reasons: dict[str, int]


def _item(row: Any) -> StreamItem:
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    for name in FIELDS:
        if name != "body" and not isinstance(row.get(name), str):
            raise ValueError(f"{name} missing or not a string")
    body = row.get("body") or ""
    if not isinstance(body, str):
        raise ValueError("body not a string")
    language = row["language"].split("-")[0].casefold()
    if language not in LANGUAGES:
        raise ValueError(f"language {row['language']!r} not one of {', '.join(LANGUAGES)}")
    if not row["id"].strip() or not row["event"].strip() or not row["title"].strip():
        raise ValueError("empty id, event or title")
    published = datetime.fromisoformat(row["published"])
    if published.tzinfo is None:
        raise ValueError("published has no time zone")
    return StreamItem(
        id=row["id"].strip(),
        event=row["event"].strip(),
        language=language,
        outlet=row["outlet"].strip() or "unknown outlet",
        title=row["title"].strip(),
        body=body.strip(),
        published=published.astimezone(UTC),
    )


def read_stream(path: Path) -> Stream:
    """Read a JSONL stream; malformed lines and repeated ids are skipped and counted by reason."""
    items: list[StreamItem] = []
    seen: set[str] = set()
    reasons: dict[str, int] = defaultdict(int)
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                item = _item(json.loads(line))
            except (ValueError, TypeError) as exc:
                reasons[str(exc).split(":")[0][:80]] += 1
                continue
            if item.id in seen:
                reasons["repeated id"] += 1
                continue
            seen.add(item.id)
            items.append(item)
    items.sort(key=lambda i: (i.published, i.id))
    return Stream(items, sum(reasons.values()), dict(reasons))


def write_stream(items: Iterable[StreamItem], path: Path) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(item.to_json() + "\n")
            n += 1
    return n


def _unit(*parts: object) -> float:
    """A stable number in [0, 1) from ``parts`` (converters must give the same stream every time)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _when(event: str, member: object) -> datetime:
    return EPOCH + DAY * _unit("start", event) + COVERAGE * _unit("offset", event, member)


def _outlet(names: tuple[str, ...], *parts: object) -> str:
    return names[int(_unit("outlet", *parts) * len(names))]


def from_uci(path: Path, *, skipped: dict[str, int] | None = None) -> Iterator[StreamItem]:
    """UCI News Aggregator CSV: STORY is the event, PUBLISHER the outlet, TIMESTAMP (ms) the time; no bodies."""
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                yield StreamItem(
                    id=f"uci-{row['ID']}",
                    event=f"uci:{row['STORY']}",
                    language="en",
                    outlet=(row["PUBLISHER"] or row["HOSTNAME"] or "unknown outlet").strip(),
                    title=row["TITLE"].strip(),
                    body="",
                    published=datetime.fromtimestamp(int(row["TIMESTAMP"]) / 1000, UTC),
                )
            except (KeyError, ValueError, TypeError, AttributeError):
                if skipped is not None:
                    skipped["uci"] = skipped.get("uci", 0) + 1


FNC_OUTLETS = ("Wire One", "Daily Courier", "Metro Post", "Evening Ledger", "Global Desk", "City Herald")


def from_fnc1(
    folder: Path, *, limit: int | None = None, skipped: dict[str, int] | None = None
) -> Iterator[StreamItem]:
    """FNC-1: a body and the headlines related to it (agree, disagree, discuss) are one event.

    Bodies that share a related headline report the same claim, so they form one event.
    Each body is an article titled with one of its related headlines; every other related
    headline is a headline-only article, once.
    """
    bodies: dict[int, str] = {}
    related: dict[int, list[str]] = defaultdict(list)
    for name in ("bodies.jsonl", "stances.jsonl"):
        with (folder / name).open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                    if name == "bodies.jsonl":
                        bodies[int(row["body_id"])] = str(row["body"]).strip()
                    elif row["stance"] != "unrelated" and str(row["headline"]).strip():
                        related[int(row["body_id"])].append(str(row["headline"]).strip())
                except (ValueError, TypeError, KeyError, AttributeError):
                    if skipped is not None:
                        skipped["fnc1"] = skipped.get("fnc1", 0) + 1
    parent = {b: b for b in related if b in bodies}

    def root(b: int) -> int:
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        return b

    first_body: dict[str, int] = {}
    for body_id in sorted(parent):
        for headline in related[body_id]:
            other = first_body.setdefault(headline, body_id)
            parent[root(body_id)] = root(other)
    groups: dict[int, list[int]] = defaultdict(list)
    for body_id in sorted(parent):
        groups[root(body_id)].append(body_id)
    for done, (event_root, members) in enumerate(sorted(groups.items())):
        if limit is not None and done >= limit:
            return
        event = f"fnc1:{event_root}"
        used: set[str] = set()
        for body_id in members:
            title = next((h for h in related[body_id] if h not in used), related[body_id][0])
            used.add(title)
            yield StreamItem(
                f"fnc1-body-{body_id}",
                event,
                "en",
                _outlet(FNC_OUTLETS, event, body_id),
                title,
                bodies[body_id],
                _when(event, body_id),
            )
        headlines = sorted({h for b in members for h in related[b]} - used)
        for n, headline in enumerate(headlines):
            yield StreamItem(
                f"fnc1-{event_root}-{n}",
                event,
                "en",
                _outlet(FNC_OUTLETS, event, n),
                headline,
                "",
                _when(event, n),
            )


KO_OUTLETS = ("한빛일보", "누리뉴스", "아침경제")
EN_OUTLETS = ("Harbor Times", "Northern Wire", "Morning Ledger")


def from_ko_en(
    prefix: Path, *, start: int = 0, limit: int | None = None, stride: int = 1
) -> Iterator[StreamItem]:
    """Korean-English parallel news: line i of ``.ko`` and of ``.en`` are one event in two languages.

    Neighbouring lines are sentences of one source article (about one event), so a
    ``stride`` above 1 takes every stride-th line to keep the stream's events distinct.
    """
    ko = prefix.with_name(prefix.name + ".ko").read_text(encoding="utf-8", errors="replace").splitlines()
    en = prefix.with_name(prefix.name + ".en").read_text(encoding="utf-8", errors="replace").splitlines()
    stop = min(len(ko), len(en)) if limit is None else min(len(ko), len(en), start + limit)
    for i in range(start, stop, max(1, stride)):
        event = f"koen:{i}"
        if not ko[i].strip() or not en[i].strip():
            continue
        for lang, text, outlets in (("ko", ko[i], KO_OUTLETS), ("en", en[i], EN_OUTLETS)):
            yield StreamItem(
                f"koen-{i}-{lang}",
                event,
                lang,
                _outlet(outlets, event, lang),
                text.strip(),
                "",
                _when(event, lang),
            )


def shift_to(items: list[StreamItem], end: datetime, span: timedelta) -> list[StreamItem]:
    """Move the stream so its last item is at ``end``; a stream longer than ``span`` is compressed to it."""
    if not items:
        return []
    first, last = min(i.published for i in items), max(i.published for i in items)
    length = (last - first).total_seconds()
    scale = min(1.0, span.total_seconds() / length) if length > 0 else 1.0
    start = end - timedelta(seconds=length * scale)
    return [
        replace(i, published=start + timedelta(seconds=(i.published - first).total_seconds() * scale))
        for i in items
    ]
