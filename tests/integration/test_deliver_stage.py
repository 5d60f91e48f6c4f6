"""The deliver stage on a real nats-server against a fake tool (a local HTTP server that behaves like Zendesk
and Slack): one comment per answer through redeliveries, the unknown-outcome check, dead letters with the failed
request and their replay, team notifications and PM replies."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import AsyncIterator

import pytest
from nats.aio.client import Client

from schemas.delivery import Delivery
from schemas.item import DeadLetter, Decision, Item
from schemas.outbox import Reply
from services.common import names
from services.common.broker import publish_item
from services.common.settings import Settings
from services.common.streams import deliveries_bucket, ensure_streams
from services.config.models import Config, ReplyConfig, SourceConfig
from services.config.teams import TeamsFile
from services.deliver.ledger import Ledger
from services.deliver.worker import run_deliver
from services.dlq.replay import replay_entries
from services.dlq.store import find_entries, read_stream
from tests.fake_tool import FakeTool
from tests.unit.test_deliver_requests import ENV, item_from_sample
from tests.waiting import eventually as wait_for

pytestmark = pytest.mark.integration


def settings() -> Settings:
    return Settings(outbound_allow="127.0.0.1", deliver_read_timeout_s=1.0, deliver_budget_s=1.0, max_deliver=2,
                    batch_size=16, public_url="https://sb.example.com")


def make_config(tool: FakeTool) -> Config:
    return Config(
        directory=".",
        sources=[SourceConfig(name="zendesk", kind="zendesk", reply=ReplyConfig(url=tool.url, credentials="ZD"))],
        teams=TeamsFile.model_validate({"teams": [{"id": "insights", "notify": {"slack_webhook": "HOOK", "min_priority": "high"}}]}),
    )


@pytest.fixture
async def deliver(nc: Client, tool: FakeTool, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple]:  # type: ignore[type-arg]
    for k, v in {**ENV, "HOOK": tool.url + "/services/T0/B0/secret"}.items():
        monkeypatch.setenv(k, v)
    js = nc.jetstream()
    s = settings()
    await ensure_streams(js, s)
    config = make_config(tool)
    stop = asyncio.Event()
    task = asyncio.create_task(run_deliver(js, config, s, stop))
    yield js, Ledger(await deliveries_bucket(js, s)), config, s
    stop.set()
    await asyncio.wait_for(task, 15)


def answered(n: str) -> Item:
    item = item_from_sample("zendesk")
    return item.model_copy(update={"id": f"it{n}", "source": "zendesk", "attributes": {"ticket_id": f"9{n}"}})


async def status_of(ledger: Ledger, item_id: str, target: str, status: str) -> Delivery | None:
    d, _ = await ledger.read(item_id, target)
    return d if d is not None and d.status == status else None


async def test_one_comment_per_answer_even_when_the_message_comes_again(deliver, tool: FakeTool) -> None:  # type: ignore[no-untyped-def]
    js, ledger, _, _ = deliver
    item = answered("1")
    await publish_item(js, names.answer_subject("zendesk", item.id), item.model_dump_json().encode(), item.id, 5)
    sent = await wait_for(lambda: status_of(ledger, item.id, "answer", "sent"))
    assert sent.attempts == 1 and sent.http_status == 200 and sent.kind == "zendesk"
    assert tool.comments["91"] and "[sb:it1:answer]" in tool.comments["91"][0]
    # the same answer again (a replay, or a redelivery after a lost ack): nothing new is posted
    again = names.deliver_replay_subject(names.answer_subject("zendesk", item.id), item.id, 1)
    await publish_item(js, again, item.model_dump_json().encode(), again, 5)
    marker_item = answered("2")  # a later answer, to know the replayed one was processed before it
    await publish_item(js, names.answer_subject("zendesk", marker_item.id), marker_item.model_dump_json().encode(), "m2", 5)
    await wait_for(lambda: status_of(ledger, marker_item.id, "answer", "sent"))
    await wait_for(lambda: _consumer_idle(js, names.OUTBOX, names.DELIVER_OUTBOX_CONSUMER))
    assert tool.count_marker("[sb:it1:answer]") == 1
    assert len([r for r in tool.requests if r.method == "PUT" and "/91.json" in r.path]) == 1


async def _consumer_idle(js, stream: str, durable: str) -> bool:  # type: ignore[no-untyped-def]
    info = await js.consumer_info(stream, durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_a_pending_delivery_whose_comment_landed_is_found_and_not_posted_again(deliver, tool: FakeTool) -> None:  # type: ignore[no-untyped-def]
    """The process died mid-request after Zendesk applied the comment: the ledger says `pending`."""
    js, ledger, _, _ = deliver
    item = answered("3")
    tool.comments["93"].append("This article should answer your question ... [sb:it3:answer]")
    old = datetime.now(UTC) - timedelta(minutes=5)
    await ledger.write(Delivery(item_id=item.id, target="answer", kind="zendesk", status="pending",
                                request_id="sb_it3_answer", created_at=old, updated_at=old), None)
    await publish_item(js, names.answer_subject("zendesk", item.id), item.model_dump_json().encode(), item.id, 5)
    sent = await wait_for(lambda: status_of(ledger, item.id, "answer", "sent"))
    assert sent.checked and sent.attempts == 0
    assert tool.comments["93"] == ["This article should answer your question ... [sb:it3:answer]"]
    assert [r.method for r in tool.requests] == ["GET"]


async def test_a_rejected_delivery_is_dead_lettered_with_its_request_and_replay_sends_it(deliver, tool: FakeTool) -> None:  # type: ignore[no-untyped-def]
    js, ledger, config, s = deliver
    item = answered("4")
    tool.faults = [("status", 404)]
    await publish_item(js, names.answer_subject("zendesk", item.id), item.model_dump_json().encode(), item.id, 5)
    failed = await wait_for(lambda: status_of(ledger, item.id, "answer", "failed"))
    assert failed.http_status == 404
    [entry] = await wait_for(lambda: find_entries(js, item.id))
    assert entry.subject == f"sb.dlq.deliver.{item.id}"
    dl: DeadLetter = entry.dead_letter
    assert dl.stage == "deliver" and "404" in dl.reason and dl.request is not None
    assert dl.request.method == "PUT" and dl.request.url.endswith("/api/v2/tickets/94.json") and dl.request.status == 404
    assert "authorization" not in json.dumps(dl.model_dump(mode="json")).lower()
    assert ENV["ZD"].split(":")[1] not in json.dumps(dl.model_dump(mode="json"))
    assert not tool.all_comments()
    [result] = await replay_entries(js, [entry], config, s)
    assert result.status == "replayed" and result.subjects == [f"sb.outbox.answer.{item.id}.replay{entry.seq}"]
    sent = await wait_for(lambda: status_of(ledger, item.id, "answer", "sent"))
    assert sent.attempts == 2 and tool.count_marker(f"[sb:{item.id}:answer]") == 1


async def test_team_notification_above_min_priority_and_a_pm_reply_with_the_owner_told(deliver, tool: FakeTool) -> None:  # type: ignore[no-untyped-def]
    js, ledger, _, _ = deliver
    base = answered("5").model_copy(update={"answer": None})
    high = base.model_copy(update={"decision": Decision(rule="strategic", action="route", team="insights",
                                                        priority="high", reason="ARR 185000 >= 100000")})
    normal = base.model_copy(update={"id": "it6", "decision": Decision(rule="by-area", action="route", team="insights",
                                                                       priority="normal", reason="area")})
    for it in (high, normal):
        await publish_item(js, names.queue_subject("insights", it.id), it.model_dump_json().encode(), it.id, 5)
    await wait_for(lambda: status_of(ledger, "it5", "notify.insights", "sent"))
    skipped = await wait_for(lambda: status_of(ledger, "it6", "notify.insights", "skipped"))
    assert "below high" in (skipped.last_error or "")
    [post] = [p for p in tool.posts if p.path == "/services/T0/B0/secret"]
    assert set(post.json()) == {"text", "blocks"} and "it5" in json.dumps(post.json()["blocks"])

    reply = Reply(item_id="it5", seq=2, text="Shipped a fix in 4.2.", by="dana@example.com", by_name="Dana",
                  team="insights", at=datetime.now(UTC), item=high)
    await publish_item(js, names.outbox_subject("reply", "it5", "2"), reply.model_dump_json().encode(), "r2", 5)
    await wait_for(lambda: status_of(ledger, "it5", "reply.2", "sent"))
    await wait_for(lambda: status_of(ledger, "it5", "owner.2", "sent"))
    assert any("Shipped a fix in 4.2." in c and "[sb:it5:reply.2]" in c for c in tool.comments["95"])
    assert sum("replied to" in p.json()["text"] for p in tool.posts) == 1
    assert {d.target for d in await ledger.for_item("it5")} == {"notify.insights", "reply.2", "owner.2"}


async def test_an_item_without_a_reply_target_is_acked_and_recorded_as_skipped(deliver) -> None:  # type: ignore[no-untyped-def]
    js, ledger, _, _ = deliver
    item = answered("7").model_copy(update={"source": "native", "kind": "standard"})
    await publish_item(js, names.answer_subject("native", item.id), item.model_dump_json().encode(), item.id, 5)
    skipped = await wait_for(lambda: status_of(ledger, item.id, "answer", "skipped"))
    assert "no reply" in (skipped.last_error or "")
    await wait_for(lambda: _consumer_idle(js, names.ANSWERS, names.DELIVER_ANSWERS_CONSUMER))
    assert not await read_stream(js, names.DLQ, [names.all_stream_filter(names.DLQ)])


async def test_a_slow_tool_does_not_hold_up_another_tools_delivery(nc: Client, tool: FakeTool, monkeypatch: pytest.MonkeyPatch) -> None:
    other = FakeTool().start()
    try:
        for k, v in ENV.items():
            monkeypatch.setenv(k, v)
        js = nc.jetstream()
        s = settings().model_copy(update={"deliver_read_timeout_s": 10.0})
        await ensure_streams(js, s)
        config = Config(directory=".", sources=[
            SourceConfig(name="zendesk", kind="zendesk", reply=ReplyConfig(url=tool.url, credentials="ZD")),
            SourceConfig(name="intercom", kind="intercom", reply=ReplyConfig(url=other.url, credentials="IC", admin_id="1")),
        ])
        tool.faults = [("slow", 6.0)]
        slow = answered("8")
        fast = item_from_sample("intercom").model_copy(update={"id": "it9", "source": "intercom"})
        await publish_item(js, names.answer_subject("zendesk", slow.id), slow.model_dump_json().encode(), slow.id, 5)
        await publish_item(js, names.answer_subject("intercom", fast.id), fast.model_dump_json().encode(), fast.id, 5)
        stop = asyncio.Event()
        task = asyncio.create_task(run_deliver(js, config, s, stop))
        ledger = Ledger(await deliveries_bucket(js, s))
        try:
            await wait_for(lambda: status_of(ledger, "it9", "answer", "sent"))
            assert await status_of(ledger, "it8", "answer", "pending")  # Zendesk is still answering
            await wait_for(lambda: status_of(ledger, "it8", "answer", "sent"))
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
        assert tool.count_marker("[sb:it8:answer]") == 1 and other.count_marker("[sb:it9:answer]") == 1
    finally:
        other.stop()
