"""Waiting for the pipeline to have nothing left to do, instead of sleeping and hoping it is done: every stage's
durable consumer has no pending and no unacknowledged message (polled with a deadline)."""

from __future__ import annotations

import asyncio

import nats
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from services.common import names

STAGES = ((names.EVENTS, names.ENRICH_CONSUMER), (names.ENRICHED, names.ROUTE_CONSUMER))


async def idle(js: JetStreamContext, stages=STAGES, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """Return once each (stream, durable) has num_pending == num_ack_pending == 0, twice in a row (a stage may
    publish what the next one has not fetched yet); AssertionError after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    quiet = 0
    while loop.time() < deadline:
        try:
            infos = [await js.consumer_info(stream, durable) for stream, durable in stages]
            busy = [i.name for i in infos if i.num_pending or i.num_ack_pending]
        except NotFoundError:  # a stage not started yet
            busy = ["not started"]
        quiet = 0 if busy else quiet + 1
        if quiet >= 2:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"pipeline still busy after {timeout}s: {busy}")


def wait_idle(url: str, stages=STAGES, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """`idle` for synchronous (e2e) tests, on its own connection."""

    async def check() -> None:
        nc = await nats.connect(url)
        try:
            await idle(nc.jetstream(), stages, timeout)
        finally:
            await nc.close()

    asyncio.run(check())
