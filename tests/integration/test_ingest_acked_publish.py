"""Ingest's publisher (services/common/acked_publish.py) against a real nats-server: the same outcomes as
`js.publish` + `publish_item` (stored, duplicate by Nats-Msg-Id, duplicate by the one-per-subject limit, no
stream, no ack in time), with the message stored exactly as `js.publish` stores it."""

from __future__ import annotations

import asyncio

import nats.errors
import pytest
from nats.aio.client import Client
from nats.js.errors import NoStreamResponseError

from services.common import names
from services.common.acked_publish import AckedPublisher
from services.common.broker import Stored, publish_item
from services.common.settings import Settings
from services.common.streams import ensure_streams

pytestmark = pytest.mark.integration


async def test_ingest_publisher_stores_and_reports_duplicates_as_publish_item_does(nc: Client) -> None:
    js = nc.jetstream()
    await ensure_streams(js, Settings())
    publisher = AckedPublisher(nc)
    subject = names.event_subject("native", "a" * 24)
    first = await publisher.publish(subject, b'{"n": 1}', "a" * 24, 5)
    assert first == Stored(1, False)
    # the same Nats-Msg-Id within the window: JetStream's de-duplication answers "duplicate"
    assert await publisher.publish(subject, b'{"n": 1}', "a" * 24, 5) == Stored(1, True)
    # another id on the same subject: refused by the one-message-per-subject limit, also a duplicate
    assert await publisher.publish(subject, b'{"n": 2}', "b" * 24, 5) == Stored(None, True)
    assert await publish_item(js, subject, b'{"n": 2}', "b" * 24, 5) == Stored(None, True)  # the reference agrees
    stored = await js.get_msg(names.EVENTS, 1)
    assert stored.data == b'{"n": 1}' and stored.headers == {"Nats-Msg-Id": "a" * 24}
    # concurrent publishes each get their own ack
    results = await asyncio.gather(*(
        publisher.publish(names.event_subject("native", f"{i:024x}"), b"{}", f"{i:024x}", 5) for i in range(50)))
    assert sorted(r.seq for r in results) == list(range(2, 52)) and not any(r.duplicate for r in results)
    assert publisher._waiting == {}


async def test_ingest_publisher_raises_without_a_stream_and_on_timeout(nc: Client) -> None:
    publisher = AckedPublisher(nc)
    with pytest.raises(NoStreamResponseError):
        await publisher.publish("nowhere.listens", b"{}", "x", 5)
    await nc.subscribe("silent.>", cb=_ignore)  # a responder that never answers
    with pytest.raises(nats.errors.TimeoutError):
        await publisher.publish("silent.one", b"{}", "y", 0.2)
    assert publisher._waiting == {}


async def _ignore(_msg: object) -> None:
    return None
