"""Every stream and KV bucket, declared in one place. Services call `declare` at start-up.

Item streams keep one message per subject (`<prefix>.<...>.<item id>`) and refuse a second
(`discard_new_per_subject`), so a republish of the same item after a crash or a sender's
redelivery is refused by the server itself, for as long as the stream keeps the item. That
is the de-duplication horizon: SB_EVENTS keeps items `dedup_horizon_hours` (default 72 h),
longer than any sender retries. `Nats-Msg-Id` dedup (2-minute window) sits on top.
"""

from __future__ import annotations

from typing import Callable

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, KeyValueConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError, ServiceUnavailableError
from nats.js.kv import KeyValue
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_delay, wait_exponential

from services.common import names
from services.common.errors import is_transient
from services.common.settings import Settings

HOUR = 3600.0
DAY = 24 * HOUR


def stream_configs(settings: Settings) -> list[StreamConfig]:
    retention = settings.retention_days * DAY

    def one_per_item(name: str, max_age: float, description: str) -> StreamConfig:
        return StreamConfig(
            name=name,
            description=description,
            subjects=[names.all_stream_filter(name)],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            num_replicas=settings.replicas,
            max_age=max_age,
            max_msgs_per_subject=1,
            discard=DiscardPolicy.NEW,
            discard_new_per_subject=True,
            duplicate_window=120.0,
            allow_direct=True,
        )

    return [
        one_per_item(names.EVENTS, settings.dedup_horizon_hours * HOUR, "Verified, normalised webhook items"),
        one_per_item(names.ENRICHED, retention, "Items with account, area, intent and KB match"),
        one_per_item(names.QUEUES, retention, "PM team queues: sb.queue.<team>.<item id>"),
        one_per_item(names.ANSWERS, retention, "Items answered from the knowledge base"),
        one_per_item(names.DROPPED, retention, "Items dropped by a rule, with the reason"),
        one_per_item(names.RECORDS, retention, "Account and usage events applied to the directory"),
        # One dead letter per (stage, input message): a stage whose ack was lost after dead-lettering
        # fails the redelivery again, and the server refuses the second copy.
        one_per_item(names.DLQ, retention, "Dead letters: what a stage could not process, with the reason; replayable"),
        one_per_item(names.OUTBOX, retention, "Outbound work besides answers: PM replies (sb.outbox.reply.<id>.<n>), digests"),
        one_per_item(names.FEEDBACK, retention, "Did this answer help? The first verdict per item: sb.feedback.<id>"),
        # The history of every inbox item: many events per subject, never refused.
        StreamConfig(
            name=names.ACTIVITY,
            description="Inbox state changes: sb.activity.<team>.<item id>, who did what when",
            subjects=[names.all_stream_filter(names.ACTIVITY)],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            num_replicas=settings.replicas,
            max_age=retention,
            duplicate_window=120.0,
            allow_direct=True,
        ),
    ]


async def ensure_streams(js: JetStreamContext, settings: Settings) -> None:
    """Create every stream (or update it to this config). Idempotent."""
    for config in stream_configs(settings):
        try:
            await js.stream_info(config.name)
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)
    await accounts_bucket(js, settings)
    await dlq_replays_bucket(js, settings)
    await decisions_bucket(js, settings)
    await deliveries_bucket(js, settings)
    await item_state_bucket(js, settings)
    await config_bucket(js, settings)
    await schedule_bucket(js, settings)
    await themes_bucket(js, settings)


def jetstream_starting(exc: BaseException) -> bool:
    """JetStream not answering yet: a 503 (a cluster without its meta leader, no responders) or a timeout."""
    return isinstance(exc, ServiceUnavailableError) or is_transient(exc)


async def declare(js: JetStreamContext, settings: Settings,
                  waiting: Callable[[RetryCallState], None] | None = None) -> None:
    """`ensure_streams`, retried while JetStream is starting (a fresh cluster electing its meta leader, which
    Kubernetes or compose start at the same time as the services) for up to `jetstream_wait_s`; then the error.
    `waiting` is told of each retry. Any other error (a config the server refuses) fails at once."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(jetstream_starting), stop=stop_after_delay(settings.jetstream_wait_s),
        wait=wait_exponential(0.2, max=3), before_sleep=waiting, reraise=True,
    ):
        with attempt:
            await ensure_streams(js, settings)


async def _bucket(
    js: JetStreamContext, settings: Settings, bucket: str, description: str, ttl: float | None = None
) -> KeyValue:
    """Bind a KV bucket, creating it on first use (one history entry, file storage, the streams' replicas)."""
    try:
        return await js.key_value(bucket)
    except (NotFoundError, BadRequestError):
        return await js.create_key_value(
            KeyValueConfig(
                bucket=bucket,
                description=description,
                history=1,
                ttl=ttl,
                storage=StorageType.FILE,
                replicas=settings.replicas,
            )
        )


async def accounts_bucket(js: JetStreamContext, settings: Settings) -> KeyValue:
    return await _bucket(
        js, settings, names.ACCOUNTS_BUCKET, "Account directory: id.<id>, ext.<external id>, domain.<domain>"
    )


async def decisions_bucket(js: JetStreamContext, settings: Settings) -> KeyValue:
    """Route's first decision per item, kept as long as the outputs: a redelivered item (after a crash, or a
    restart with changed rules) is sent where the first decision sent it, never to a second place."""
    return await _bucket(
        js, settings, names.DECISIONS_BUCKET, "Route decisions: key = item id, value = the Decision JSON",
        ttl=settings.retention_days * DAY,
    )


async def deliveries_bucket(js: JetStreamContext, settings: Settings) -> KeyValue:
    """The delivery ledger: one entry per (item, target), written before and after each outbound call, so a
    redelivery never posts a second comment (docs/delivery.md)."""
    return await _bucket(
        js, settings, names.DELIVERIES_BUCKET, "Delivery ledger: key = <item id>.<target>, value = Delivery JSON",
        ttl=settings.retention_days * DAY,
    )


async def item_state_bucket(js: JetStreamContext, settings: Settings) -> KeyValue:
    """PM inbox state per routed item (open, claimed, snoozed, resolved); every change is a compare-and-set
    on the entry's revision, so two concurrent changes cannot both win."""
    return await _bucket(
        js, settings, names.ITEM_STATE_BUCKET, "Inbox state: key = item id, value = ItemState JSON",
        ttl=settings.retention_days * DAY,
    )


async def config_bucket(js: JetStreamContext, settings: Settings) -> KeyValue:
    """Published config versions (`switchboard config publish`): never expire, so any version can be rolled
    back to; `current` names the version running workers use."""
    return await _bucket(
        js, settings, names.CONFIG_BUCKET, "Config versions: v.<version> = folder files (JSON), current = live version",
    )


async def schedule_bucket(js: JetStreamContext, settings: Settings) -> KeyValue:
    """Scheduled-digest leases: whoever creates `digest.<team>.<slot>` first sends that digest; kept longer than
    the longest schedule period (a week), so a restart in the period finds the slot already taken."""
    return await _bucket(
        js, settings, names.SCHEDULE_BUCKET, "Digest leases: key = digest.<team>.<slot>, value = Lease JSON",
        ttl=max(settings.retention_days, 8) * DAY,
    )


async def themes_bucket(js: JetStreamContext, settings: Settings) -> KeyValue:
    """Themes (contract 7), shared by every enrich process: each change is a compare-and-set on the revision.
    Never expires: a theme outlives the items in the streams, and merged themes point at their survivors."""
    return await _bucket(
        js, settings, names.THEMES_BUCKET, "Themes: t.<id> = Theme JSON, a.<area> = the area's live theme ids",
    )


async def dlq_replays_bucket(js: JetStreamContext, settings: Settings) -> KeyValue:
    return await _bucket(
        js, settings, names.DLQ_REPLAYS_BUCKET,
        "Dead letters replayed (`switchboard dlq replay`): key = dead letter subject after sb.dlq.",
    )


async def streams_present(js: JetStreamContext) -> bool:
    for config in stream_configs(Settings()):
        try:
            await js.stream_info(config.name)
        except Exception:  # noqa: BLE001 - readiness probe: any failure means "not ready"
            return False
    return True
