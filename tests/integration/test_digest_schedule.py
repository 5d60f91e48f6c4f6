"""Scheduled digests on a real nats-server: several replicas race for one due slot and exactly one digest is
published and posted once to the team's Slack webhook (a local fake); a restart in the same period sends
nothing again; a lease whose holder died before publishing is taken over after it expires."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from nats.aio.client import Client

from schemas.digest import DigestMessage, Lease
from services.common import names
from services.common.broker import publish_item
from services.common.settings import Settings
from services.common.streams import deliveries_bucket, ensure_streams, schedule_bucket
from services.config.models import Config
from services.config.teams import TeamsFile
from services.deliver.ledger import Ledger
from services.deliver.worker import run_deliver
from services.digest.reader import read_stream
from services.digest.schedule import due_slot, parse_every, slot_token
from services.digest.scheduler import LEASE, claim, send_if_due
from tests.digest_support import fb_item
from tests.fake_tool import FakeTool
from tests.waiting import eventually as wait_for

pytestmark = pytest.mark.integration

HOOK_PATH = "/services/T0/B0/digest-secret"
EVERY = "daily 00:00"


def settings() -> Settings:
    return Settings(outbound_allow="127.0.0.1", deliver_read_timeout_s=1.0, deliver_budget_s=1.0, max_deliver=2,
                    batch_size=16, deliver_loops=1)


def config() -> Config:
    return Config(directory=".", teams=TeamsFile.model_validate(
        {"teams": [{"id": "insights", "digest": {"every": EVERY, "slack_webhook": "DIGEST_HOOK", "since": "7d"}}]}))


async def digests_published(js) -> list[DigestMessage]:  # type: ignore[no-untyped-def]
    since = datetime.now(UTC) - timedelta(hours=1)
    return [DigestMessage.model_validate_json(d) for d in await read_stream(js, names.OUTBOX, since)]


async def queue_items(js, slot: datetime) -> None:  # type: ignore[no-untyped-def]
    """Three items of one theme from two accounts, decided before the slot (inside its period)."""
    now = datetime.now(UTC)
    for n, account in enumerate(["a", "a", "b"]):
        item = fb_item(n, account=account, label="<b>pdf</b> export", arr=300_000 if account == "a" else 50_000, now=now,
                       age=(now - slot) + timedelta(hours=n + 1), text=f"<b>pdf</b> export please {n}")
        await publish_item(js, names.queue_subject("insights", item.id), item.model_dump_json().encode(), item.id, 5)


async def test_replicas_racing_for_one_slot_publish_and_post_one_digest(
        nc: Client, tool: FakeTool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_HOOK", tool.url + HOOK_PATH)
    js = nc.jetstream()
    s = settings()
    await ensure_streams(js, s)
    slot = due_slot(parse_every(EVERY), datetime.now(UTC))
    await queue_items(js, slot)
    stop = asyncio.Event()
    replicas = [asyncio.create_task(run_deliver(js, config(), s, stop)) for _ in range(3)]
    try:
        ledger = Ledger(await deliveries_bucket(js, s))
        target = f"digest.{slot_token(slot)}"

        async def sent():  # type: ignore[no-untyped-def]
            d, _ = await ledger.read("digest-insights", target)
            return d if d is not None and d.status == "sent" else None

        await wait_for(sent)
        # the slot's lease says sent; nobody else may publish or post for it
        kv = await schedule_bucket(js, s)
        lease = Lease.model_validate_json((await kv.get(names.schedule_key("insights", slot_token(slot)))).value)
        assert lease.state == "sent"
        # a fresh scheduler run (a restart in the same period) finds the lease and does nothing
        assert await send_if_due(js, kv, config().teams.teams[0], config(), s, datetime.now(UTC), "restarted") is None
        await wait_for(lambda: _idle(js))
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*replicas), 15)
    published = await digests_published(js)
    assert [(m.team, m.slot) for m in published] == [("insights", slot_token(slot))]
    digest = published[0].digest
    assert (digest.items, digest.accounts, digest.arr) == (3, 2, 350_000)
    [post] = [p for p in tool.posts if p.path == HOOK_PATH]
    body = post.json()
    assert set(body) == {"text", "blocks"} and "Digest for insights" in body["text"]
    assert "<b>" not in str(body["blocks"]) and "&lt;b&gt;" in str(body["blocks"])  # customer text escaped


async def _idle(js) -> bool:  # type: ignore[no-untyped-def]
    info = await js.consumer_info(names.OUTBOX, names.DELIVER_OUTBOX_CONSUMER)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_concurrent_claims_have_one_winner_and_a_dead_holders_lease_is_taken_over(nc: Client) -> None:
    js = nc.jetstream()
    s = settings()
    await ensure_streams(js, s)
    kv = await schedule_bucket(js, s)
    now = datetime.now(UTC)
    key = names.schedule_key("insights", "20261130-0900")
    results = await asyncio.gather(*(claim(kv, key, f"p{n}", now) for n in range(8)))
    assert sum(r is not None for r in results) == 1
    # the winner "dies" before publishing: within the lease nobody takes over, after it exactly one does
    assert await claim(kv, key, "late", now + LEASE - timedelta(seconds=1)) is None
    later = now + LEASE + timedelta(seconds=1)
    takeovers = await asyncio.gather(*(claim(kv, key, f"t{n}", later) for n in range(8)))
    assert sum(r is not None for r in takeovers) == 1
    sent = Lease(state="sent", by="t", at=later, expires=later)
    await kv.put(key, sent.model_dump_json().encode())
    assert await claim(kv, key, "much-later", later + timedelta(days=1)) is None  # sent: never again


async def test_a_missed_slot_is_sent_once_on_return_and_the_next_period_gets_its_own(nc: Client) -> None:
    """Down over Monday 09:00: back on Wednesday, Monday's digest goes out once; Thursday nothing; the next
    Monday the new slot. The schedule comes from the clock, so any process (a fresh one too) agrees."""
    js = nc.jetstream()
    s = settings()
    await ensure_streams(js, s)
    kv = await schedule_bucket(js, s)
    cfg = Config(directory=".", teams=TeamsFile.model_validate(
        {"teams": [{"id": "insights", "digest": {"every": "mon 09:00", "slack_webhook": "DIGEST_HOOK"}}]}))
    team = cfg.teams.teams[0]
    wednesday = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
    assert await send_if_due(js, kv, team, cfg, s, wednesday, "back") == "20261130-0900"
    assert await send_if_due(js, kv, team, cfg, s, wednesday + timedelta(days=1), "fresh-process") is None
    assert await send_if_due(js, kv, team, cfg, s, datetime(2026, 12, 7, 9, 0, 30, tzinfo=UTC), "p") == "20261207-0900"
    published = await digests_published(js)
    assert [m.slot for m in published] == ["20261130-0900", "20261207-0900"]
    assert published[0].digest.since == "7d" and published[0].digest.end == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
