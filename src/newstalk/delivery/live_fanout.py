"""Live events between processes: the message format and the broadcaster that carries it.

The transport is ``kit.pubsub`` (Redis or in process); this module gives it the message
type and its JSON codec. Kept apart from ``live.py`` so every process can build its
broadcaster without loading the pipeline's domain modules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from newstalk.kit.pubsub import Broadcaster as KitBroadcaster
from newstalk.kit.pubsub import Codec
from newstalk.kit.pubsub import build_broadcaster as build_pubsub

if TYPE_CHECKING:
    from newstalk.delivery.live_models import LiveEvent


@dataclass(frozen=True, slots=True)
class LiveMessage:
    """An event as it travels between processes and to clients; ``data`` is the client's JSON."""

    id: int
    type: str
    category: str | None
    languages: tuple[str, ...]
    keywords: tuple[str, ...]
    source_ids: tuple[int, ...]
    title: str
    data: dict[str, Any]

    @property
    def story_id(self) -> int | None:
        """The story the event is about (every live event type carries one)."""
        story = self.data.get("story")
        if not isinstance(story, dict) or story.get("id") is None:
            return None
        return int(story["id"])

    @classmethod
    def from_row(cls, row: LiveEvent) -> LiveMessage:
        story = row.payload.get("story") or {}
        return cls(
            id=row.id,
            type=row.type,
            category=row.category,
            languages=tuple(row.languages),
            keywords=tuple(row.keywords),
            source_ids=tuple(int(s) for s in row.source_ids),
            title=str(story.get("title") or ""),
            data={"id": row.id, "type": row.type, "created_at": row.created_at.isoformat(), **row.payload},
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "type": self.type,
                "category": self.category,
                "languages": self.languages,
                "keywords": self.keywords,
                "source_ids": self.source_ids,
                "title": self.title,
                "data": self.data,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> LiveMessage:
        d = json.loads(raw)
        return cls(
            id=int(d["id"]),
            type=str(d["type"]),
            category=d.get("category"),
            languages=tuple(d.get("languages") or ()),
            keywords=tuple(d.get("keywords") or ()),
            source_ids=tuple(int(s) for s in d.get("source_ids") or ()),
            title=str(d.get("title") or ""),
            data=dict(d["data"]),
        )


CODEC: Codec[LiveMessage] = Codec(LiveMessage.to_json, LiveMessage.from_json)

# Live events travel through kit's pub/sub; this names the instance every process builds.
Broadcaster: TypeAlias = KitBroadcaster[LiveMessage]


def build_broadcaster(redis_url: str | None, prefix: str) -> Broadcaster:
    """Redis pub/sub on ``<prefix>live`` when a URL is configured, in process otherwise."""
    return build_pubsub(redis_url, channel=f"{prefix}live", codec=CODEC)
