"""Every pipeline stage and the topics it consumes; the one place the pipeline is wired.

The table is data: topic names come from ``pipeline/topics.py`` and handlers are named
``"module:function"`` strings, imported only when a worker for that stage is built
(:func:`stage`, :func:`all_stages`). So routing (:func:`routes`, which every process
needs to publish events) imports no domain code, a CLI command that runs no stage pays
for none of them, and ``newstalk worker stories`` loads the stories stage's models only.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from newstalk.kit.bus import Routes
from newstalk.pipeline import topics
from newstalk.pipeline.worker import Stage

if TYPE_CHECKING:
    from newstalk.config import Settings


@dataclass(frozen=True, slots=True)
class StageSpec:
    """One stage as data: its topics, and where its handlers live (``"package.module:function"``)."""

    name: str
    topics: tuple[str, ...]
    handler: str
    batch_handler: str | None = None
    concurrency: int = 1
    # A settings field that overrides ``concurrency`` when settings are given.
    concurrency_setting: str | None = None
    observe_job_latency: bool = True
    batch_size: int | None = None
    # Higher goes first where stages share a process (``Stage.priority``, default 50).
    priority: int = 50
    # Its guaranteed share while a higher-priority stage has a backlog (``Stage.share``).
    share: float = 0.0
    # Under a backlog a batch stage doubles its claim up to this many jobs.
    backlog_batch_size: int | None = None
    # ``"module:function"`` asked before each claim (``Stage.gate``): the single-writer lease.
    gate: str | None = None
    # ``"module:function"`` reading what a claim's jobs need in one query (``Stage.prefetch``).
    prefetch: str | None = None

    def build(self, settings: Settings | None) -> Stage:
        """The runnable stage: imports its handler module now."""
        concurrency = self.concurrency
        if settings is not None and self.concurrency_setting is not None:
            concurrency = int(getattr(settings, self.concurrency_setting))
        return Stage(
            self.name,
            self.topics,
            resolve(self.handler),
            concurrency=concurrency,
            observe_job_latency=self.observe_job_latency,
            batch_handler=resolve(self.batch_handler) if self.batch_handler else None,
            batch_size=self.batch_size,
            priority=self.priority,
            share=self.share,
            backlog_batch_size=self.backlog_batch_size,
            gate=resolve(self.gate) if self.gate else None,
            prefetch=resolve(self.prefetch) if self.prefetch else None,
        )


def resolve(target: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute."""
    module, _, attribute = target.partition(":")
    if not attribute:
        raise ValueError(f"pipeline: handler {target!r} must look like 'package.module:function'")
    return getattr(importlib.import_module(module), attribute)


STAGES: tuple[StageSpec, ...] = (
    StageSpec(
        "collect",
        (topics.SOURCE_POLL, topics.SOURCE_PUSH),
        "newstalk.sources.collect:handle_collect",
        concurrency_setting="fetch_concurrency",
        # Every polled source's URL and validators in one SELECT per claim.
        prefetch="newstalk.sources.collect:poll_targets",
        observe_job_latency=False,
        # The same as stories: neither waits for the other (a collect backlog lasting minutes
        # on a loaded machine would otherwise hold stories back).
        priority=80,
    ),
    StageSpec("extract", (topics.ARTICLE_EXTRACT,), "newstalk.ingestion.tasks:handle_extract", concurrency=4),
    StageSpec(
        "websub",
        (topics.SOURCE_WEBSUB,),
        "newstalk.sources.websub:handle_websub",
        concurrency=4,
        observe_job_latency=False,
    ),
    # Stateless and CPU-bound (e5 and the per-article features): as many replicas as cores.
    StageSpec(
        "embed",
        (topics.ARTICLE_INGESTED,),
        "newstalk.stories.embed:handle_embed",
        batch_handler="newstalk.stories.embed:handle_embed_batch",
        priority=80,
        backlog_batch_size=128,
    ),
    # One writer: clustering keeps global state in memory (rebuilt from the database); a
    # standby replica waits on the stage lease and takes over when it expires. It still
    # takes article.ingested jobs queued before the embed stage existed (and computes them).
    StageSpec(
        "stories",
        (topics.ARTICLE_EMBEDDED, topics.STORY_EDITED),
        "newstalk.stories.tasks:handle_stories",
        batch_handler="newstalk.stories.tasks:handle_stories_batch",
        priority=80,
        backlog_batch_size=128,
        gate="newstalk.stories.tasks:hold_writer_lease",
    ),
    # CPU-bound (embeddings and the verifier); a batch checks each story once, at its
    # newest version. Replicas may run in parallel: state is a cache, not the truth.
    StageSpec(
        "factcheck",
        (topics.STORY_UPDATED,),
        "newstalk.factcheck.tasks:handle_factcheck",
        batch_handler="newstalk.factcheck.tasks:handle_factcheck_batch",
        batch_size=8,
        priority=70,
        # Stories go first, but a stories backlog must not stop fact-checks: while stages
        # ahead have one, it may be busy a quarter as long as the busiest of them.
        share=0.25,
        # A batch checks each story once at its newest version: under a backlog a bigger
        # claim folds more versions of the same story into one check.
        backlog_batch_size=64,
    ),
    # Keeps the search index in step: Kiwi-tokenizes new articles, reindexes changed stories.
    StageSpec(
        "search",
        (topics.ARTICLE_INGESTED, topics.ARTICLE_EMBEDDED, topics.STORY_UPDATED, topics.STORY_EDITED),
        "newstalk.search.tasks:handle_search",
        batch_handler="newstalk.search.tasks:handle_search_batch",
        # Not grown under a backlog: a bigger batch would hold the cores longer each turn.
        priority=20,
        share=0.05,
    ),
    # Cheap: templates over the story's text; requests per story are debounced in the queue.
    # On the way to audio, so ahead of speech: a synthesis claims one job, so speech looks
    # backlogged whenever it works, and briefings below it waited for its turn (a twentieth
    # of speech's time) to write the very scripts speech was waiting for.
    StageSpec(
        "briefings",
        (topics.STORY_CHECKED, topics.STORY_UPDATED, topics.BRIEFING_DUE, topics.BRIEFING_DAILY),
        "newstalk.briefings.tasks:handle_briefings",
        batch_handler="newstalk.briefings.tasks:handle_briefings_batch",
        priority=65,
        share=0.05,
    ),
    # CPU-bound synthesis, one script at a time so a claim stays well inside its lease.
    StageSpec(
        "speech",
        (topics.SCRIPT_READY,),
        "newstalk.speech.tasks:handle_speech",
        batch_size=1,
        # A synthesis holds a core for seconds: during a burst audio lags (a twentieth of the
        # busiest stage's time) and renders the stories once they settle.
        priority=60,
        share=0.05,
    ),
    # One replica: SSE ids must commit in order (docs/live.md); cheap rows, batched.
    StageSpec(
        "live",
        topics.LIVE_TOPICS,
        "newstalk.delivery.live:handle_live",
        batch_handler="newstalk.delivery.live:handle_live_batch",
        priority=85,
    ),
    # Network-bound: webhook POSTs wait on receivers, so several run at once.
    StageSpec(
        "webhooks",
        (topics.WEBHOOK_DELIVER,),
        "newstalk.delivery.webhooks:handle_webhooks",
        concurrency=8,
        observe_job_latency=False,
    ),
)

STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)


def stage(name: str, settings: Settings | None) -> Stage:
    """One runnable stage by name (imports only its handler module)."""
    for spec in STAGES:
        if spec.name == name:
            return spec.build(settings)
    raise KeyError(f"pipeline: no stage {name!r}; stages are {', '.join(STAGE_NAMES)}")


def all_stages(settings: Settings | None, names: Iterable[str] | None = None) -> list[Stage]:
    """The stages (all, or the named ones), in pipeline order, handlers imported.

    ``settings`` None gives default concurrency.
    """
    wanted = None if names is None else set(names)
    return [spec.build(settings) for spec in STAGES if wanted is None or spec.name in wanted]


def routes() -> Routes:
    """Topic → stages, the same in every process whatever it runs; imports no handler."""
    r = Routes()
    for spec in STAGES:
        r.add(spec.name, spec.topics)
    return r
