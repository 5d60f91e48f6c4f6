"""Worker semantics and de-duplication against a real nats-server (issue 4, fault tolerance).

- a transient error NAKs the message with a growing delay (0.5 s, 1 s, 2 s ...) and it succeeds later;
- a poison item reaches SB_DLQ after max_deliver attempts, with the reason and the original item, while
  every other item of the stream flows on;
- a permanent error dead-letters on the first delivery;
- a dead letter whose ack was lost is not dead-lettered twice on redelivery;
- the per-subject guard refuses a second copy of an item AFTER the Nats-Msg-Id window has passed
  (and without any Nats-Msg-Id at all), and each stage's republish is idempotent.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Sequence

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import APIError

from schemas.item import DeadLetter, Item
from services.common import names
from services.common.broker import ERR_MAX_MSGS_PER_SUBJECT, publish_item
from services.common.consumer import Stage, run_stage, settle
from services.common.errors import PermanentError, TransientError
from services.common.settings import Settings
from services.common.streams import HOUR, ensure_streams, stream_configs
from services.dlq.store import read_stream

pytestmark = pytest.mark.integration

STAGE = Stage("enrich", names.EVENTS, "test-enrich", names.all_stream_filter(names.EVENTS))


def make_item(n: int | str, text: str = "the export button does nothing") -> Item:
    return Item(id=f"item{n}", source="native", kind="standard", event_type="feedback.created",
                delivery_id=f"d{n}", received_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC), text=text)


async def publish_events(js, items: Sequence[Item]) -> None:  # type: ignore[no-untyped-def]
    for item in items:
        stored = await publish_item(js, names.event_subject(item.source, item.id), item.model_dump_json().encode(), item.id, 5)
        assert not stored.duplicate


async def dead_letters(js) -> list[tuple[str, DeadLetter]]:  # type: ignore[no-untyped-def]
    return [(s, DeadLetter.model_validate_json(d)) for _, s, d, _ in await read_stream(js, names.DLQ, ["sb.dlq.>"])]


async def wait_until(predicate, timeout: float = 20.0, every: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(every)
    raise AssertionError("condition not met in time")


class Recorder:
    """A stage handler: items whose id is in `fail` raise the given exception (for `times` deliveries)."""

    def __init__(self, fail: dict[str, BaseException], times: int = 10**9) -> None:
        self.fail = fail
        self.times = times
        self.deliveries: dict[str, list[tuple[int, float]]] = {}
        self.done: list[str] = []

    async def __call__(self, msgs: Sequence[Msg]) -> list[BaseException | None]:
        out: list[BaseException | None] = []
        for m in msgs:
            item = Item.model_validate_json(m.data)
            n = m.metadata.num_delivered
            self.deliveries.setdefault(item.id, []).append((n, time.monotonic()))
            if item.id in self.fail and n <= self.times:
                out.append(self.fail[item.id])
            else:
                self.done.append(item.id)
                out.append(None)
        return out


async def run_with(js, handler, settings: Settings):  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    task = asyncio.create_task(run_stage(js, STAGE, handler, settings, stop))
    return stop, task


async def stop_stage(stop: asyncio.Event, task: asyncio.Task) -> None:  # type: ignore[type-arg]
    stop.set()
    await asyncio.wait_for(task, 10)


async def test_transient_error_is_retried_with_growing_delay_then_succeeds(nc: Client) -> None:
    js = nc.jetstream()
    settings = Settings(max_deliver=5, batch_size=16)
    await ensure_streams(js, settings)
    await publish_events(js, [make_item(1), make_item(2)])
    handler = Recorder({"item1": TransientError("CRM API down")}, times=3)  # fails deliveries 1-3, succeeds on 4
    stop, task = await run_with(js, handler, settings)
    try:
        await wait_until(lambda: asyncio.sleep(0, result="item1" in handler.done), timeout=20)
    finally:
        await stop_stage(stop, task)
    deliveries = handler.deliveries["item1"]
    assert [n for n, _ in deliveries] == [1, 2, 3, 4]
    gaps = [b - a for (_, a), (_, b) in zip(deliveries, deliveries[1:])]
    # NAK delays 0.5, 1, 2 s (retry_delay): each gap at least its delay, and growing
    for gap, delay in zip(gaps, [0.5, 1.0, 2.0]):
        assert delay - 0.05 <= gap < delay + 1.5, gaps
    assert gaps[0] < gaps[1] < gaps[2]
    assert handler.deliveries["item2"] == [(1, handler.deliveries["item2"][0][1])]  # the other item: once
    assert await dead_letters(js) == []
    info = await js.consumer_info(names.EVENTS, STAGE.durable)
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_poison_item_reaches_dlq_after_max_deliver_while_others_flow(nc: Client) -> None:
    js = nc.jetstream()
    settings = Settings(max_deliver=3, batch_size=8)
    await ensure_streams(js, settings)
    items = [make_item(i) for i in range(40)]
    poison = items[5]
    await publish_events(js, items)
    handler = Recorder({poison.id: RuntimeError("KeyError in enrich: 'plan'")})
    stop, task = await run_with(js, handler, settings)
    try:
        dls = await wait_until(lambda: dead_letters(js), timeout=20)
        # the rest flowed on: every other item done, and done while the poison item was still being retried
        assert sorted(handler.done) == sorted(i.id for i in items if i.id != poison.id)
    finally:
        await stop_stage(stop, task)
    assert len(dls) == 1
    subject, dl = dls[0]
    assert subject == names.dlq_subject("enrich", poison.id)
    assert dl.stage == "enrich" and dl.id == poison.id and dl.attempts == 3
    assert dl.error == "RuntimeError" and "KeyError in enrich" in dl.reason
    assert dl.item == poison  # the original item, unchanged
    assert [n for n, _ in handler.deliveries[poison.id]] == [1, 2, 3]
    info = await js.consumer_info(names.EVENTS, STAGE.durable)
    assert info.num_ack_pending == 0 and info.num_pending == 0 and info.num_redelivered == 0


async def test_permanent_error_and_invalid_message_go_to_dlq_on_first_delivery(nc: Client) -> None:
    js = nc.jetstream()
    settings = Settings(max_deliver=5)
    await ensure_streams(js, settings)
    await publish_events(js, [make_item("bad"), make_item("ok")])
    await js.publish("sb.events.native.garbage1", b"{not an item", headers={"Nats-Msg-Id": "garbage1"})
    handler = Recorder({"itembad": PermanentError("not a valid item: missing text")})

    async def handle(msgs: Sequence[Msg]) -> list[BaseException | None]:
        good = [m for m in msgs if m.data.startswith(b"{\"")]
        results = dict(zip([id(m) for m in good], await handler(good)))
        return [results.get(id(m), PermanentError("not a valid item: invalid JSON")) for m in msgs]

    stop, task = await run_with(js, handle, settings)
    try:
        dls = await wait_until(lambda: _n(dead_letters(js), 2), timeout=10)
    finally:
        await stop_stage(stop, task)
    by_id = {dl.id: dl for _, dl in dls}
    assert by_id["itembad"].attempts == 1 and by_id["itembad"].error == "PermanentError"
    assert by_id["garbage1"].attempts == 1 and by_id["garbage1"].raw_body == "{not an item"
    assert by_id["garbage1"].item is None
    assert [n for n, _ in handler.deliveries["itembad"]] == [1]
    assert handler.done == ["itemok"]


async def _n(coro, n: int):  # type: ignore[no-untyped-def]
    rows = await coro
    return rows if len(rows) >= n else None


async def test_lost_ack_after_dead_letter_does_not_dead_letter_twice(nc: Client) -> None:
    """The stage dead-letters a message, then its ack is lost (broker restart): JetStream redelivers, the
    stage fails it again and dead-letters again. SB_DLQ must still hold ONE dead letter for it."""
    js = nc.jetstream()
    settings = Settings(max_deliver=1, ack_wait_s=1.0)
    await ensure_streams(js, settings)
    poison = make_item("lost-ack")
    await publish_events(js, [poison])
    from services.common.consumer import consumer_config

    sub = await js.pull_subscribe(STAGE.filter_subject, durable=STAGE.durable, stream=STAGE.stream,
                                  config=consumer_config(STAGE, settings))
    first = (await sub.fetch(1, timeout=5))[0]

    async def lost(*_a, **_k):  # the ack never reaches the server
        raise TimeoutError("ack lost")

    first.ack_sync = lost  # type: ignore[method-assign]
    with pytest.raises(TimeoutError):
        await settle(js, STAGE, first, RuntimeError("boom"), settings)
    second = (await sub.fetch(1, timeout=5))[0]  # redelivered after ack_wait
    assert second.metadata.num_delivered == 2
    await settle(js, STAGE, second, RuntimeError("boom"), settings)
    dls = await dead_letters(js)
    assert [dl.id for _, dl in dls] == [poison.id]
    assert dls[0][1].attempts == 1  # the first dead letter is kept; the second copy was refused


async def test_dedup_horizon_outlives_the_msg_id_window(nc: Client) -> None:
    """Nats-Msg-Id dedup only covers the 2-minute window; the per-subject guard covers the horizon (72 h)."""
    js = nc.jetstream()
    settings = Settings()
    await ensure_streams(js, settings)
    events = next(c for c in stream_configs(settings) if c.name == names.EVENTS)
    assert events.max_age == 72 * HOUR and events.max_msgs_per_subject == 1 and events.discard_new_per_subject
    # shrink the Msg-Id window to 1 s so the test can step past it
    info = await js.stream_info(names.EVENTS)
    await js.update_stream(info.config.evolve(duplicate_window=1.0))
    item = make_item("late")
    subject = names.event_subject(item.source, item.id)
    first = await publish_item(js, subject, item.model_dump_json().encode(), item.id, 5)
    assert not first.duplicate
    await asyncio.sleep(1.5)  # the sender's retry arrives after the window
    again = await publish_item(js, subject, item.model_dump_json().encode(), item.id, 5)
    assert again.duplicate
    with pytest.raises(APIError) as refused:  # no Nats-Msg-Id at all: the per-subject guard alone refuses it
        await js.publish(subject, item.model_dump_json().encode(), timeout=5)
    assert refused.value.err_code == ERR_MAX_MSGS_PER_SUBJECT
    state = await js.stream_info(names.EVENTS)
    assert state.state.messages == 1


def test_dedup_horizon_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_DEDUP_HORIZON_HOURS", "96")
    events = next(c for c in stream_configs(Settings()) if c.name == names.EVENTS)
    assert events.max_age == 96 * HOUR


async def test_each_stage_republish_is_idempotent(nc: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real enrich and route handlers, given the same message twice (a redelivery after a lost ack, with
    a new enriched_at/decided_at each time), store one copy downstream."""
    monkeypatch.setenv("SWITCHBOARD_ENCODER", "bm25")
    from services.common.streams import accounts_bucket, decisions_bucket
    from services.config.loader import load_config
    from services.config.models import RouteAction, RuleConfig
    from services.enrich.accounts import AccountDirectory
    from services.enrich.judge import Judge
    from services.enrich.worker import EnrichHandler
    from services.route.worker import RouteHandler
    from tests.conftest import EXAMPLE_CONFIG

    js = nc.jetstream()
    settings = Settings()
    await ensure_streams(js, settings)
    config = load_config(EXAMPLE_CONFIG)
    from services.config.live import LiveConfig

    enrich = EnrichHandler(js, AccountDirectory(await accounts_bucket(js, settings)), LiveConfig(Judge.from_config, config), settings)
    item = make_item("twice", "The invoice PDF shows the wrong VAT number")
    raw = Msg(nc, subject=names.event_subject(item.source, item.id), data=item.model_dump_json().encode())
    assert await enrich([raw]) == [None]
    assert await enrich([raw]) == [None]  # republish refused as a duplicate, reported as success
    enriched = await read_stream(js, names.ENRICHED, ["sb.enriched.>"])
    assert len(enriched) == 1
    decisions = await decisions_bucket(js, settings)
    route = RouteHandler(js, config, settings, decisions)
    decided_in = Msg(nc, subject=enriched[0][1], data=enriched[0][2])
    assert await route([decided_in]) == [None]
    await asyncio.sleep(0.01)
    assert await route([decided_in]) == [None]
    # The route worker restarts with different rules and the item is redelivered: it still goes where the
    # first decision sent it, and only there.
    changed = config.model_copy(update={"rules": [RuleConfig(name="all-to-x", route=RouteAction(team="team-x"))]})
    assert await RouteHandler(js, changed, settings, decisions)([decided_in]) == [None]
    outputs = []
    for stream in (names.QUEUES, names.ANSWERS, names.DROPPED, names.RECORDS):
        outputs += await read_stream(js, stream, [names.all_stream_filter(stream)])
    assert [names.split_item_subject(s)[0] for _, s, _, _ in outputs] == [item.id]
    assert not any(".team-x." in s for _, s, _, _ in outputs)
