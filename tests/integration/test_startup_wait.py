"""Services start alongside their NATS cluster (compose, Kubernetes): declaring the streams waits while JetStream
cannot answer yet (no meta leader), up to `jetstream_wait_s`, and fails at once on an error that waiting cannot
mend."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Iterator

import nats
import pytest
from nats.js.errors import APIError, ServiceUnavailableError
from tenacity import RetryCallState

from bench.cluster import Cluster
from services.common import names
from services.common.embedded import EmbeddedNats
from services.common.settings import Settings
from services.common.streams import declare
from tests.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster.create(tmp_path)
    yield c
    c.stop()


async def connected(url: str) -> nats.NATS:
    async def attempt() -> nats.NATS | None:
        try:
            return await nats.connect(url, allow_reconnect=False, connect_timeout=1)
        except Exception:  # noqa: BLE001 - the node is still starting
            return None
    return await eventually(attempt, timeout=30)


async def test_declaring_waits_for_the_cluster_to_elect_its_meta_leader(cluster: Cluster) -> None:
    first = cluster.nodes[0].start()  # one node of three: no quorum, JetStream cannot answer
    nc = await connected(first.url)
    errors: list[BaseException | None] = []

    def waiting(state: RetryCallState) -> None:
        errors.append(state.outcome.exception() if state.outcome else None)

    try:
        declaring = asyncio.create_task(declare(nc.jetstream(), Settings(replicas=3, jetstream_wait_s=120), waiting))
        await eventually(lambda: len(errors) >= 2 or declaring.done(), timeout=60)
        assert not declaring.done(), declaring  # still waiting, not failed
        assert all(isinstance(e, (ServiceUnavailableError, nats.errors.TimeoutError)) for e in errors), errors
        for node in cluster.nodes[1:]:
            node.start()
        await asyncio.wait_for(declaring, timeout=120)  # quorum: the meta leader is elected, the streams are made
        info = await nc.jetstream().stream_info(names.EVENTS)
        assert info.config.num_replicas == 3
    finally:
        await nc.close()


async def test_an_error_that_waiting_cannot_mend_fails_at_once(nats_server: EmbeddedNats) -> None:
    nc = await nats.connect(nats_server.url)
    retries: list[RetryCallState] = []
    try:
        with pytest.raises(APIError) as raised:  # R3 on a single server
            await declare(nc.jetstream(), Settings(replicas=3, jetstream_wait_s=120), retries.append)
        assert not isinstance(raised.value, ServiceUnavailableError)
        assert retries == []
    finally:
        await nc.close()
