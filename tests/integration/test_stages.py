"""The enrich and route stages against a real nats-server: items published to SB_EVENTS come out in the
right final stream with account, area, intent and decision, and an account event updates the directory."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client

from schemas.item import AccountRef, AccountUpdate, Item, Person, item_id
from services.cli.reading import read_subjects
from services.common import names
from services.common.broker import publish_item
from services.common.settings import Settings
from services.common.streams import ensure_streams
from services.config.loader import load_config
from services.enrich.worker import run_enrich
from services.route.worker import run_route
from tests.conftest import EXAMPLE_CONFIG
from tests.pipeline_idle import idle

pytestmark = pytest.mark.integration

OUTCOMES = [names.QUEUES, names.ANSWERS, names.DROPPED, names.RECORDS, names.DLQ]


def make_item(delivery: str, text: str | None = None, **fields) -> Item:
    fields.setdefault("event_type", "feedback.created")
    return Item(
        id=item_id("native", delivery), source="native", kind="standard",
        delivery_id=delivery, received_at=datetime.now(UTC), text=text, **fields,
    )


async def outcomes(js, ids: set[str], timeout: float = 30.0) -> dict[str, list[tuple[str, dict]]]:
    """item id -> [(stream, item json)] across every final stream, once all ids have landed."""
    found: dict[str, list[tuple[str, dict]]] = {}
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = {}
        for stream in OUTCOMES:
            for subject, data in await read_subjects(js, stream, [names.all_stream_filter(stream)]):
                body = json.loads(data)
                found.setdefault(body["id"], []).append((stream, body))
        if ids <= set(found):
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"not landed: {ids - set(found)}")


@pytest.fixture
async def pipeline(nc: Client, tmp_path: Path):
    settings = Settings(data=tmp_path, batch_size=16)
    js = nc.jetstream()
    await ensure_streams(js, settings)
    config = load_config(EXAMPLE_CONFIG)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_enrich(js, config, settings, stop)), asyncio.create_task(run_route(js, config, settings, stop))]
    yield js, settings
    stop.set()
    await asyncio.wait(tasks, timeout=10)


async def test_items_reach_exactly_one_final_place(pipeline) -> None:
    js, settings = pipeline
    account_event = make_item("acct-1", category="account", event_type="account.updated",
                              account_update=AccountUpdate(id="acc_new", name="New Co", domain="newco.io", arr=300000, plan="enterprise"))
    await publish_item(js, names.event_subject("native", account_event.id), account_event.model_dump_json().encode(), account_event.id, 5)
    await outcomes(js, {account_event.id})  # the directory knows New Co before its feedback arrives
    items = [
        make_item("bug-1", "The Salesforce sync is broken and drops every deal since this morning.",
                  person=Person(email="ops@newco.io")),
        make_item("q-1", "How do I set up SSO with Okta?", person=Person(email="x@gmail.com")),
        make_item("fr-1", "Please add a way to schedule dashboard emails to our leadership every week.",
                  account_hint=AccountRef(id="acc_wayne")),
    ]
    for item in items:
        await publish_item(js, names.event_subject("native", item.id), item.model_dump_json().encode(), item.id, 5)
    found = await outcomes(js, {i.id for i in items})
    assert all(len(found[i.id]) == 1 for i in [account_event, *items]), found

    stream, recorded = found[account_event.id][0]
    assert stream == names.RECORDS and recorded["decision"]["action"] == "record"

    stream, bug = found[items[0].id][0]
    assert stream == names.QUEUES
    assert bug["account"]["id"] == "acc_new" and bug["account"]["matched_by"] == "domain"
    assert bug["intent"] == "bug" and bug["decision"]["rule"] == "strategic-accounts"
    assert bug["decision"]["config_version"]

    stream, question = found[items[1].id][0]
    assert question["account"] is None  # gmail.com is never an account's domain
    assert stream == names.ANSWERS and question["answer"]["article"] == "sso-setup"

    stream, request = found[items[2].id][0]
    assert request["account"]["id"] == "acc_wayne" and request["account"]["matched_by"] == "id"
    assert stream == names.QUEUES and request["intent"] == "feature_request"


async def test_a_republished_item_is_not_doubled(pipeline) -> None:
    js, settings = pipeline
    item = make_item("dup-1", "Exports to CSV time out for large reports.", person=Person(email="a@acme.co"))
    for _ in range(3):
        stored = await publish_item(js, names.event_subject("native", item.id), item.model_dump_json().encode(), f"other-{_}", 5)
    assert stored.duplicate  # refused by the per-subject limit even with a new Nats-Msg-Id
    await outcomes(js, {item.id})
    await idle(js)  # every copy that could have got through has been processed by now
    found = await outcomes(js, {item.id})
    assert len(found[item.id]) == 1
