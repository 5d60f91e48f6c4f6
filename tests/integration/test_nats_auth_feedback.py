""""Did this help?" under deploy/nats/auth.conf: ingest may record a verdict (read the answer, publish on
sb.feedback.>) but not queue anything; route's `route-feedback` consumer re-queues a rejected answer; the
pm-reader can count verdicts (`answers --stats`) and write none."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from schemas.item import Answer, Item
from services.cli.reading import read_subjects
from services.common import names
from services.common.settings import Settings
from services.common.streams import config_bucket, ensure_streams
from services.config.versions import current_version
from services.config.loader import load_config
from services.ingest.metrics import IngestMetrics
from services.ingest.verdicts import FeedbackRecorder
from services.route.worker import run_route
from tests.conftest import EXAMPLE_CONFIG
from tests.integration.test_nats_auth import as_user, denied, secured  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


async def test_feedback_loop_runs_with_each_service_users_permissions(secured, tmp_path) -> None:  # noqa: F811
    url, passwords = secured
    admin = await as_user(url, "admin", passwords)
    await ensure_streams(admin.jetstream(), Settings())
    item = Item(id="a1b2c3", source="native", kind="standard", event_type="question.asked", delivery_id="d1",
                received_at=datetime.now(UTC), text="How do I set up SSO?", intent="question",
                area={"id": "access", "confidence": 0.9}, answer=Answer(article="sso-setup", score=0.9))
    await admin.jetstream().publish(names.answer_subject("native", item.id), item.model_dump_json().encode())

    ingest = await as_user(url, "ingest", passwords)
    recorded = await FeedbackRecorder(ingest.jetstream(), IngestMetrics(), Settings()).record(item.id, "not_helpful", "link")
    assert recorded.first
    assert await denied(ingest.jetstream().publish(names.queue_subject("platform", "x"), b"{}", timeout=0.5))

    route = await as_user(url, "route", passwords)
    assert await current_version(await config_bucket(route.jetstream(), Settings())) is None  # readable, not refused
    stop = asyncio.Event()
    task = asyncio.create_task(run_route(route.jetstream(), load_config(EXAMPLE_CONFIG), Settings(data=tmp_path), stop))
    rows: list = []
    deadline = asyncio.get_running_loop().time() + 30
    while not rows and asyncio.get_running_loop().time() < deadline and not task.done():
        rows = await read_subjects(admin.jetstream(), names.QUEUES, [f"{names.QUEUE_PREFIX}.*.{item.id}"])
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 15)
    assert [s for s, _ in rows] == [names.queue_subject("platform", item.id)]

    reader = await as_user(url, "pm-reader", passwords)
    assert len(await read_subjects(reader.jetstream(), names.FEEDBACK, [names.all_stream_filter(names.FEEDBACK)])) == 1
    assert await denied(reader.jetstream().publish(names.feedback_subject("other"), b"{}", timeout=0.5))
    for c in (admin, ingest, route, reader):
        await c.close()
