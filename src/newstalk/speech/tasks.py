"""The ``speech`` pipeline stage: script.ready → synthesized, encoded, stored audio → audio.ready."""

from __future__ import annotations

import asyncio
import logging

from newstalk.kit import metrics
from newstalk.pipeline.worker import JobContext
from newstalk.speech import service
from newstalk.speech.models import FAILED, READY, SUPERSEDED, Audio

log = logging.getLogger(__name__)


async def handle_speech(ctx: JobContext) -> None:
    """Synthesize one script once; a redelivered job for ready audio changes nothing."""
    services, job = ctx.services, ctx.job
    audio_id = str(job.payload["audio_id"])
    async with services.db.read() as session:
        audio = await session.get(Audio, audio_id)
    if audio is None or audio.status == READY:
        return
    if audio.status == SUPERSEDED:
        # A newer script of the same story is queued or spoken: nobody will hear this one.
        log.info("speech: audio %s skipped: superseded by a newer script of its story", audio_id[:12])
        return
    if "script" not in job.payload:
        # A job queued before jobs carried their script: fail the row so the next request queues it again.
        async with services.db.unit() as uow:
            row = await uow.session.get(Audio, audio_id)
            if row is not None and row.status != READY:
                row.status, row.error = FAILED, "speech: job without its script; request the audio again"
        return
    script = service.script_from_payload(job.payload["script"])
    engines = await service.engines_for(services)
    store = service.audio_store(services)
    try:
        result = await asyncio.to_thread(service.synthesize, engines, store, script)
    except Exception as exc:
        if job.attempts >= services.settings.queue_max_attempts:
            async with services.db.unit() as uow:
                row = await uow.session.get(Audio, audio_id)
                if row is not None:
                    row.status, row.error = FAILED, f"{type(exc).__name__}: {exc}"[:2000]
        raise
    async with ctx.commit() as uow:
        row = await uow.session.get(Audio, audio_id)
        if row is None or row.status == READY:
            return
        await service.record_audio(uow, row, result, job.first_seen_at)
    metrics.SPEECH_SECONDS.observe(result.seconds)
    metrics.AUDIO_SECONDS.observe(result.duration_s)
    log.info(
        "speech: audio %s ready: %.1f s of audio in %.1f s (%s)",
        audio_id[:12],
        result.duration_s,
        result.seconds,
        ",".join(script.speakers),
    )
