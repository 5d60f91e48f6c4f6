"""A 3-node cluster with R3 streams (bench/cluster.py): SIGKILL the stream leader while items are being
published; every acknowledged item is still there, no item is stored twice, and publishing goes on."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.cluster import Cluster
from schemas.item import Item
from services.common import names
from services.common.broker import connect, publish_item
from services.common.settings import Settings
from services.common.streams import ensure_streams
from services.dlq.store import read_stream

pytestmark = pytest.mark.integration


def item(n: int) -> Item:
    return Item(id=f"c{n:06d}", source="native", kind="standard", event_type="feedback.created", delivery_id=f"d{n}",
                received_at=datetime(2026, 3, 2, tzinfo=UTC), text=f"message {n}")


async def retrying(call, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """JetStream API calls can time out while the cluster moves leaders: retry, as a client would."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await call()
        except Exception:  # noqa: BLE001 - leader moving
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


@pytest.fixture
def cluster(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = Cluster.create(tmp_path).start()
    yield c
    c.stop()


async def test_r3_survives_killing_the_stream_leader(cluster: Cluster) -> None:
    settings = Settings(nats_url=cluster.url, replicas=3)
    nc = await connect(settings)
    js = nc.jetstream()
    deadline = time.monotonic() + 60
    while True:  # a fresh cluster answers JetStream API calls only once it has elected its meta leader
        try:
            await ensure_streams(js, settings)
            info = await js.stream_info(names.EVENTS)
            if info.cluster is not None and info.cluster.leader and len(info.cluster.replicas or []) == 2:
                break
        except Exception:  # noqa: BLE001 - not ready yet
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.5)
    assert info.config.num_replicas == 3 and info.cluster is not None and len(info.cluster.replicas or []) == 2
    leader = info.cluster.leader

    acked: set[str] = set()
    failures = 0
    total = 1500

    async def producer(start: int, step: int) -> None:
        nonlocal failures
        for n in range(start, total, step):
            it = item(n)
            while True:  # a sender retries until acknowledged, with the same id
                try:
                    await publish_item(js, names.event_subject(it.source, it.id), it.model_dump_json().encode(), it.id, 2.0)
                    acked.add(it.id)
                    break
                except Exception:  # noqa: BLE001 - no ack: retry
                    failures += 1
                    await asyncio.sleep(0.2)

    async def killer() -> None:
        while len(acked) < total // 3:
            await asyncio.sleep(0.01)
        victim = next(n for n in cluster.nodes if n.name == leader)
        victim.kill()

    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(killer(), *(producer(i, 8) for i in range(8))), timeout=90)
    assert len(acked) == total
    # a new leader was elected among the survivors, and every acknowledged item is there exactly once
    info = await retrying(lambda: js.stream_info(names.EVENTS))
    assert info.cluster.leader != leader
    rows = await retrying(lambda: read_stream(js, names.EVENTS, ["sb.events.>"]))
    ids = [names.split_item_subject(s)[0] for _, s, _, _ in rows]
    assert len(ids) == len(set(ids)) == total
    assert info.state.messages == total
    # the killed node comes back on the same store and catches up
    victim = next(n for n in cluster.nodes if n.name == leader)
    victim.start()
    cluster.wait_healthy(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = await retrying(lambda: js.stream_info(names.EVENTS))
        if all(r.current for r in info.cluster.replicas or []) and len(info.cluster.replicas or []) == 2:
            break
        await asyncio.sleep(0.5)
    assert all(r.current for r in info.cluster.replicas or []), info.cluster
    await nc.close()
    assert time.monotonic() - started < 90
