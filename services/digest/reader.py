"""Collecting a period's items and verdicts from the streams (the record of truth) without consuming them:
SB_QUEUES and SB_ANSWERS (every decided feedback item, with its theme, account and decision) from the start of
the period before (for the trend), SB_FEEDBACK (the "did this help?" verdicts) from the period's start."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence, TypeVar

from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import BaseModel, ValidationError

from schemas.item import Item
from schemas.outbox import Feedback
from services.common import names
from services.config.teams import duration_seconds

M = TypeVar("M", bound=BaseModel)
FETCH = 256


async def read_stream(js: JetStreamContext, stream: str, since: datetime) -> list[bytes]:
    """Every message of `stream` stored at or after `since`, oldest first (an ephemeral, ack-less consumer)."""
    config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.BY_START_TIME,
                            opt_start_time=since, inactive_threshold=5.0, mem_storage=True,
                            filter_subject=names.all_stream_filter(stream))
    info = await js.add_consumer(stream, config)
    out: list[bytes] = []
    try:
        if info.num_pending:
            sub = await js.pull_subscribe_bind(info.name, stream=stream)
            try:
                while len(out) < info.num_pending:
                    try:
                        msgs = await sub.fetch(min(FETCH, info.num_pending - len(out)), timeout=2.0)
                    except (NatsTimeout, TimeoutError):
                        break
                    out.extend(m.data for m in msgs)
            finally:
                await sub.unsubscribe()
    finally:
        try:
            await js.delete_consumer(stream, info.name)
        except Exception:  # noqa: BLE001 - it expires by itself after inactive_threshold
            pass
    return out


def parse(model: type[M], payloads: Sequence[bytes]) -> list[M]:
    out = []
    for data in payloads:
        try:
            out.append(model.model_validate_json(data))
        except ValidationError:
            continue  # not this schema (a foreign publisher): not ours to count
    return out


async def read_period(js: JetStreamContext, since: str, now: datetime) -> tuple[list[Item], list[Feedback]]:
    """(decided items of this period and the one before, verdicts of this period)."""
    span = timedelta(seconds=duration_seconds(since))
    items: list[Item] = []
    for stream in (names.ANSWERS, names.QUEUES):  # a rejected answer's re-decision (in a queue) comes last
        items += parse(Item, await read_stream(js, stream, now - 2 * span))
    feedback = parse(Feedback, await read_stream(js, names.FEEDBACK, now - span))
    return items, feedback
