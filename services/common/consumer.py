"""The transport side of a worker stage: fetch a batch from a durable pull consumer, hand it to the
stage's handler, then ack, NAK with a delay, or dead-letter each message. Handlers never ack.

A message is acked only after everything the handler published was acknowledged by JetStream. The
consumer's own max_deliver is unlimited: this loop dead-letters after `max_deliver` attempts, and a
dead-letter publish that fails leaves the message to be redelivered, so nothing is ever dropped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Awaitable, Callable, Sequence

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from schemas.item import DeadLetter, Item
from services.common import names
from services.common.broker import publish_item
from services.common.errors import describe, is_permanent, retry_delay
from services.common.logging import get_logger
from services.common.settings import Settings

log = get_logger("switchboard.consumer")

# A handler gets the batch and returns, per message, None (done) or the exception it failed with.
BatchHandler = Callable[[Sequence[Msg]], Awaitable[list[BaseException | None]]]


@dataclass(frozen=True)
class Stage:
    name: str  # "enrich" | "route" | "deliver"
    stream: str
    durable: str
    filter_subject: str
    # (item id, dead-letter subject suffix) of an input subject; deliver names its own (names.deliver_dead_letter_token)
    split: Callable[[str], tuple[str, str | None]] = names.split_item_subject


def consumer_config(stage: Stage, settings: Settings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=stage.durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=settings.ack_wait_s,
        max_deliver=-1,
        max_ack_pending=max(1000, settings.batch_size * 4),
        filter_subject=stage.filter_subject,
    )


def dead_letter_for(stage: Stage, msg: Msg, exc: BaseException, attempts: int) -> DeadLetter:
    item: Item | None = None
    raw_body: str | None = None
    try:
        item = Item.model_validate_json(msg.data)
    except ValueError:
        raw_body = msg.data.decode("utf-8", "replace")
    item_id = item.id if item else stage.split(msg.subject)[0]
    return DeadLetter(
        id=item_id,
        stage=stage.name,  # type: ignore[arg-type]
        reason=describe(exc),
        error=type(exc).__name__,
        attempts=attempts,
        failed_at=datetime.now(UTC),
        source=item.source if item else None,
        item=item,
        raw_body=raw_body,
        headers={"subject": msg.subject},
        request=getattr(exc, "dead_letter_request", None),  # deliver: the outbound request, without secrets
    )


async def dead_letter(
    js: JetStreamContext, dl: DeadLetter, settings: Settings,
    split: Callable[[str], tuple[str, str | None]] = names.split_item_subject,
) -> None:
    """Exactly one dead letter per input message: its subject is derived from the failed message's subject
    (SB_DLQ keeps one message per subject), so dead-lettering a redelivery again is refused as a duplicate."""
    replay = split(dl.headers.get("subject", ""))[1]
    subject = names.dlq_subject(dl.stage, dl.id, replay)
    await publish_item(js, subject, dl.model_dump_json().encode(), msg_id=subject, timeout=settings.publish_timeout_s)


async def settle(js: JetStreamContext, stage: Stage, msg: Msg, error: BaseException | None, settings: Settings) -> None:
    """Ack, NAK with a growing delay, or dead-letter one message after its handler ran."""
    if error is None:
        await msg.ack_sync(timeout=settings.publish_timeout_s)
        return
    attempts = msg.metadata.num_delivered if msg.metadata else 1
    if is_permanent(error) or attempts >= settings.max_deliver:
        dl = dead_letter_for(stage, msg, error, attempts)
        try:
            await dead_letter(js, dl, settings, stage.split)
        except Exception as exc:  # noqa: BLE001 - cannot dead-letter now: let JetStream redeliver it
            log.warning("dlq.publish_failed", stage=stage.name, id=dl.id, error=describe(exc))
            await msg.nak(delay=retry_delay(attempts))
            return
        log.error("item.dead_lettered", stage=stage.name, id=dl.id, attempts=attempts, reason=dl.reason)
        await msg.ack_sync(timeout=settings.publish_timeout_s)
        return
    delay = retry_delay(attempts)
    log.warning("item.retry", stage=stage.name, subject=msg.subject, attempts=attempts, delay_s=delay, error=describe(error))
    await msg.nak(delay=delay)


BUSY_WAIT_S = 0.002  # busy: what is already there (a lingering pull holds its first message until this passes)


async def run_stage(
    js: JetStreamContext, stage: Stage, handle: BatchHandler, settings: Settings, stop: asyncio.Event
) -> None:
    """Pull batches until `stop` is set. Safe to run in several processes: they share the durable consumer."""
    sub = await js.pull_subscribe(
        stage.filter_subject, durable=stage.durable, stream=stage.stream, config=consumer_config(stage, settings)
    )
    # readiness checks (bench/readiness.py: the bench, chaos, end-to-end tests) wait on this line, per durable
    log.info("stage.started", stage=stage.name, stream=stage.stream, durable=stage.durable)
    busy = False
    while not stop.is_set():
        try:
            # Idle: wait for ONE message, returned the moment it arrives. Busy: take the batch that is there, waiting
            # at most BUSY_WAIT_S. (nats.py's fetch(n) that has to wait holds its first message until n arrived or
            # its timeout passed: up to 1 s of latency at low rates with a 1 s wait, and up to 20 ms per stage with
            # the 20 ms busy wait this had before; docs/performance.md.)
            msgs = await (sub.fetch(settings.batch_size, timeout=BUSY_WAIT_S) if busy else sub.fetch(1, timeout=1.0))
        except (NatsTimeout, asyncio.TimeoutError):
            busy = False
            continue
        except Exception as exc:  # noqa: BLE001 - broker away: wait for the reconnect
            log.warning("stage.fetch_failed", stage=stage.name, error=describe(exc))
            await asyncio.sleep(0.5)
            continue
        busy = True
        try:
            results = await handle(msgs)
        except Exception as exc:  # noqa: BLE001 - the handler itself failed: the whole batch is retried
            results = [exc] * len(msgs)
        settled = await asyncio.gather(
            *(settle(js, stage, m, r, settings) for m, r in zip(msgs, results, strict=True)), return_exceptions=True
        )
        for outcome in settled:
            if isinstance(outcome, BaseException):  # ack lost: JetStream redelivers; downstream dedup absorbs it
                log.warning("stage.settle_failed", stage=stage.name, error=describe(outcome))
    try:
        await sub.unsubscribe()
    except Exception:  # noqa: BLE001 - shutting down
        pass
