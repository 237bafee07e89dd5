"""Every pipeline topic name, once, and the payload shapes that are stable.

A leaf: this module imports nothing from ``newstalk``, so any domain may import it to
emit or match a topic without importing the domain that emits or consumes it. The
routing table (which stage reads which topic) is in ``pipeline/stages.py``.

The payload ``TypedDict``\\s say what an emitter puts in a job's payload; consumers read
payloads as plain mappings (a job comes back from the queue as JSON), so a key added here
must stay optional for jobs already queued.
"""

from __future__ import annotations

from typing import Any, Final, Literal, NotRequired, TypedDict

# sources → collect / websub
SOURCE_POLL: Final = "source.poll"
SOURCE_PUSH: Final = "source.push"
SOURCE_WEBSUB: Final = "source.websub"

# collect → embed, search (and extract for summary-only feeds)
ARTICLE_INGESTED: Final = "article.ingested"
ARTICLE_EXTRACT: Final = "article.extract"
# embed → stories, search: the article's embedding and features are stored
ARTICLE_EMBEDDED: Final = "article.embedded"

# stories → factcheck, search, briefings, live
STORY_UPDATED: Final = "story.updated"
# an editor split or merged stories → stories, search
STORY_EDITED: Final = "story.edited"

# factcheck → briefings, live
STORY_CHECKED: Final = "story.checked"

# briefings (scheduled and per-listener) → briefings
BRIEFING_DUE: Final = "briefing.due"
BRIEFING_DAILY: Final = "briefing.daily"

# briefings → speech
SCRIPT_READY: Final = "script.ready"
# speech → live
AUDIO_READY: Final = "audio.ready"

# delivery → webhooks
WEBHOOK_DELIVER: Final = "webhook.deliver"

# The topics the live stage turns into SSE events; the same strings are the SSE event types.
LiveEventType = Literal["story.updated", "story.checked", "audio.ready"]
LIVE_TOPICS: Final = (STORY_UPDATED, STORY_CHECKED, AUDIO_READY)

ALL_TOPICS: Final = (
    SOURCE_POLL,
    SOURCE_PUSH,
    SOURCE_WEBSUB,
    ARTICLE_INGESTED,
    ARTICLE_EXTRACT,
    ARTICLE_EMBEDDED,
    STORY_UPDATED,
    STORY_EDITED,
    STORY_CHECKED,
    BRIEFING_DUE,
    BRIEFING_DAILY,
    SCRIPT_READY,
    AUDIO_READY,
    WEBHOOK_DELIVER,
)


class SourceRef(TypedDict):
    """``source.poll`` and ``source.websub``: which source to poll or (re)subscribe."""

    source_id: int


class ArticleIngested(TypedDict):
    """``article.ingested`` and ``article.extract``: one newly stored article."""

    article_id: int
    source_id: int
    content_hash: str
    language: str


class ArticleEmbedded(TypedDict):
    """``article.embedded``: the embed stage stored this article's row in ``article_embeddings``."""

    article_id: int
    source_id: int
    content_hash: str
    language: str


class StoryUpdated(TypedDict):
    """``story.updated``: a story's new version after its members changed."""

    story_id: int
    version: int
    article_count: int


class StoryEdited(TypedDict):
    """``story.edited``: an editor split or merged these stories."""

    stories: list[int]
    action: Literal["split", "merge"]


class StoryChecked(TypedDict):
    """``story.checked``: the fact-check of one story version was stored."""

    story_id: int
    version: int
    claims: int
    verdicts: dict[str, int]


class ScriptReady(TypedDict):
    """``script.ready``: an audio row waits for synthesis; ``script`` is what to say
    (``speech.service.script_payload``)."""

    audio_id: str
    script: dict[str, Any]


class AudioReady(TypedDict):
    """``audio.ready``: an audio row's files are stored."""

    audio_id: str
    script_id: int
    duration_s: float
    # A newer story version that says this script word for word (``speech.service.announce_ready``).
    story_version: NotRequired[int]


class WebhookDeliver(TypedDict):
    """``webhook.deliver``: one attempt at one webhook delivery."""

    delivery_id: int
    attempt: int
