"""Reading a stream without consuming it: an ephemeral, ack-less consumer that is gone a few seconds later."""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Callable, Sequence

from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy


async def read_subjects(
    js: JetStreamContext,
    stream: str,
    filters: Sequence[str],
    limit: int | None = None,
    since: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[tuple[str, bytes]]:
    """Every message on `filters` in `stream` (stored at or after `since`, when given), oldest first (the last
    `limit` of them). `progress(received, pending)` is called after every batch."""
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE,
        deliver_policy=DeliverPolicy.BY_START_TIME if since else DeliverPolicy.ALL,
        opt_start_time=since,
        inactive_threshold=5.0,
        filter_subjects=list(filters) if len(filters) > 1 else None,
        filter_subject=filters[0] if len(filters) == 1 else None,
        mem_storage=True,
    )
    info = await js.add_consumer(stream, config)
    pending = info.num_pending
    kept: deque[tuple[str, bytes]] = deque(maxlen=limit)
    if not pending:
        await _delete(js, stream, info.name)
        return []
    sub = await js.pull_subscribe_bind(info.name, stream=stream)
    received = 0
    try:
        while received < pending:
            try:
                msgs = await sub.fetch(min(256, pending - received), timeout=2.0)
            except (NatsTimeout, TimeoutError):
                break
            for msg in msgs:
                kept.append((msg.subject, msg.data))
            received += len(msgs)
            if progress:
                progress(received, pending)
    finally:
        await sub.unsubscribe()
        await _delete(js, stream, info.name)
    return list(kept)


async def _delete(js: JetStreamContext, stream: str, consumer: str) -> None:
    try:
        await js.delete_consumer(stream, consumer)
    except Exception:  # noqa: BLE001 - it expires by itself after inactive_threshold
        pass
