"""Digests and KB gaps under deploy/nats/auth.conf: `pm-reader` (the CLI's and the inbox's read-only user)
reads the period's items and verdicts for `digest` and `kb gaps`, but may not publish a digest; every service
user may declare the `sb_schedule` bucket at start-up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from services.common import names
from services.common.settings import Settings
from services.common.streams import ensure_streams
from services.digest.build import build_digest
from services.digest.reader import read_period
from tests.digest_support import fb_item
from tests.integration.test_nats_auth import as_user, denied, secured  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


async def test_pm_reader_reads_a_digest_and_cannot_publish_one(secured) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    url, passwords = secured
    for user in ("ingest", "enrich", "route"):  # each declares every stream and bucket, sb_schedule included
        c = await as_user(url, user, passwords)
        await ensure_streams(c.jetstream(), Settings())
        await c.close()
    route = await as_user(url, "route", passwords)
    now = datetime.now(UTC)
    item = fb_item(1, now=now)
    await route.jetstream().publish(names.queue_subject("insights", item.id), item.model_dump_json().encode(), timeout=2)
    reader = await as_user(url, "pm-reader", passwords)
    items, feedback = await read_period(reader.jetstream(), "7d", now)
    assert build_digest(items, feedback, "7d", "insights", now).items == 1
    assert await denied(reader.jetstream().publish(names.digest_subject("insights", "20261130-0900"), b"{}", timeout=0.5))
    await asyncio.gather(route.close(), reader.close())
