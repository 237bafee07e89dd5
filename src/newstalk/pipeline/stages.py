"""Every pipeline stage and the topics it consumes; the one place the pipeline is wired."""

from __future__ import annotations

from newstalk.config import Settings
from newstalk.kit.bus import Routes
from newstalk.pipeline.worker import Stage


def all_stages(settings: Settings | None) -> list[Stage]:
    """The stages, in pipeline order; ``settings`` None gives default concurrency (routing only).

    ``priority`` (default 50; higher goes first where stages share a process) keeps the
    listener's path ahead of a burst: live, collect and stories, fact-checks, speech, then the
    network-bound stages, and search indexing and briefings last (they lag, never starve).
    """
    from newstalk.articles.service import EXTRACT_TOPIC
    from newstalk.briefings.tasks import TOPICS as BRIEFING_TOPICS
    from newstalk.briefings.tasks import handle_briefings, handle_briefings_batch
    from newstalk.delivery.live import TOPICS as LIVE_TOPICS
    from newstalk.delivery.live import handle_live, handle_live_batch
    from newstalk.delivery.webhooks import DELIVER_TOPIC, handle_webhooks
    from newstalk.factcheck.tasks import UPDATED_TOPIC, handle_factcheck, handle_factcheck_batch
    from newstalk.ingestion.tasks import handle_collect, handle_extract
    from newstalk.search.tasks import TOPICS as SEARCH_TOPICS
    from newstalk.search.tasks import handle_search, handle_search_batch
    from newstalk.sources.service import POLL_TOPIC, PUSH_TOPIC, WEBSUB_TOPIC
    from newstalk.sources.websub import handle_websub
    from newstalk.speech.tasks import SCRIPT_TOPIC, handle_speech
    from newstalk.stories.service import EDITED_TOPIC
    from newstalk.stories.tasks import INGESTED_TOPIC, handle_stories, handle_stories_batch

    return [
        Stage(
            "collect",
            (POLL_TOPIC, PUSH_TOPIC),
            handle_collect,
            concurrency=settings.fetch_concurrency if settings else 1,
            observe_job_latency=False,
            # The same as stories: neither waits for the other (the burst benchmark's collect
            # backlog lasted minutes on a loaded machine and would have held stories back).
            priority=80,
        ),
        Stage("extract", (EXTRACT_TOPIC,), handle_extract, concurrency=4),
        Stage("websub", (WEBSUB_TOPIC,), handle_websub, concurrency=4, observe_job_latency=False),
        # One replica: clustering keeps global state in memory (rebuilt from the database).
        Stage(
            "stories",
            (INGESTED_TOPIC, EDITED_TOPIC),
            handle_stories,
            concurrency=1,
            batch_handler=handle_stories_batch,
            priority=80,
            backlog_batch_size=128,
        ),
        # CPU-bound (embeddings and the verifier); a batch checks each story once, at its
        # newest version. Replicas may run in parallel: state is a cache, not the truth.
        Stage(
            "factcheck",
            (UPDATED_TOPIC,),
            handle_factcheck,
            concurrency=1,
            batch_handler=handle_factcheck_batch,
            batch_size=8,
            priority=70,
        ),
        # Keeps the search index in step: Kiwi-tokenizes new articles, reindexes changed stories.
        Stage(
            "search",
            SEARCH_TOPICS,
            handle_search,
            concurrency=1,
            batch_handler=handle_search_batch,
            # Not grown under a backlog: a bigger batch would hold the cores longer each turn.
            priority=20,
        ),
        # Cheap: templates over the story's text; requests per story are debounced in the queue.
        Stage(
            "briefings",
            BRIEFING_TOPICS,
            handle_briefings,
            concurrency=1,
            batch_handler=handle_briefings_batch,
            priority=20,
        ),
        # CPU-bound synthesis, one script at a time so a claim stays well inside its lease.
        Stage("speech", (SCRIPT_TOPIC,), handle_speech, concurrency=1, batch_size=1, priority=60),
        # One replica: SSE ids must commit in order (docs/live.md); cheap rows, batched.
        Stage("live", LIVE_TOPICS, handle_live, concurrency=1, batch_handler=handle_live_batch, priority=85),
        # Network-bound: webhook POSTs wait on receivers, so several run at once.
        Stage("webhooks", (DELIVER_TOPIC,), handle_webhooks, concurrency=8, observe_job_latency=False),
    ]


def routes() -> Routes:
    """Topic → stages, the same in every process whatever it runs."""
    r = Routes()
    for stage in all_stages(None):
        r.add(stage.name, stage.topics)
    return r
