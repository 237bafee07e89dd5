"""Run stage workers until the pipeline is quiet, on either transport.

On the queue table a stage is done when a claim comes back empty. On Kafka the outbox must
be relayed first and a claim can come back empty while the consumer group is still being
joined, so the loop relays, claims, and stops only when the outbox is empty and every
stage's consumer has read to the end of its partitions, for longer than a fetch waits on the
broker (the end it knows comes from the last fetch response).
"""

from __future__ import annotations

import asyncio
import time

from newstalk.kit.bus.kafka import KafkaTransport
from newstalk.kit.bus.outbox import Relay, outbox_backlog
from newstalk.pipeline.worker import StageWorker


async def drain(*workers: StageWorker, timeout_s: float = 60.0) -> int:
    """Handle every job the workers' stages get until nothing is left; returns how many."""
    transport = workers[0].services.transport
    if not isinstance(transport, KafkaTransport):
        total = 0
        while handled := sum([await w.run_once() for w in workers]):
            total += handled
        return total
    db = workers[0].services.db
    relay = Relay(
        db,
        transport.send_outbox,
        poll_s=0.01,
        lease_s=5,
        outbox_retention_s=3600,
        processed_retention_s=86400,
        lost=transport.topics_recreated,
    )
    # A broker that lost its topics (restarted in memory) gets the kept events again.
    await relay.check()
    settle_s = 3 * workers[0].services.settings.kafka_fetch_max_wait_ms / 1000
    total, quiet_since = 0, None
    deadline = time.monotonic() + timeout_s
    while quiet_since is None or time.monotonic() - quiet_since < settle_s:
        if time.monotonic() > deadline:
            raise TimeoutError(f"drain: the pipeline did not settle in {timeout_s:.0f} s")
        sent = await relay.relay_once()
        handled = sum([await w.run_once() for w in workers])
        total += handled
        lags = [await transport.lag(w.stage.name) for w in workers]
        if sent or handled or any(lag != 0 for lag in lags) or await outbox_backlog(db, due_only=True):
            quiet_since = None
            if not sent and not handled:
                await asyncio.sleep(0.02)
        elif quiet_since is None:
            quiet_since = time.monotonic()
    return total
