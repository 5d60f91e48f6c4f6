""""Did this help?" against a real nats-server: ingest's recorder keeps the first verdict per item, and route's
feedback consumer puts a rejected answer in its team queue with `answer_rejected`, exactly once, however often
the button is pressed or the verdict redelivered."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from schemas.item import Answer, Decision, Item, KbMatch, item_id
from schemas.outbox import Feedback
from services.cli.reading import read_subjects
from services.common import names
from services.common.broker import publish_item
from services.common.settings import Settings
from services.common.streams import decisions_bucket, ensure_streams
from services.config.live import LiveConfig
from services.config.loader import load_config
from services.config.models import RuleConfig
from services.ingest.errors import NotAnswered
from services.ingest.metrics import IngestMetrics
from services.ingest.verdicts import FeedbackRecorder
from services.route.feedback import FeedbackHandler
from services.route.rules import compile_rules
from services.route.worker import run_route
from tests.conftest import EXAMPLE_CONFIG

pytestmark = pytest.mark.integration


def answered(delivery: str) -> Item:
    return Item(
        id=item_id("native", delivery), source="native", kind="standard", event_type="feedback.created",
        delivery_id=delivery, received_at=datetime.now(UTC), text="How do I set up SSO with Okta?",
        intent="question", area={"id": "access", "confidence": 0.91}, kb=KbMatch(article="sso-setup", score=0.93),
        decision=Decision(rule="answer-how-to", action="answer", reason="KB article sso-setup scored 0.93"),
        answer=Answer(article="sso-setup", score=0.93, title="Set up single sign-on"),
    )


async def store_answer(js: JetStreamContext, item: Item) -> None:
    await publish_item(js, names.answer_subject(item.source, item.id), item.model_dump_json().encode(), item.id, 5)


async def queued(js: JetStreamContext, item: str) -> list[tuple[str, dict]]:
    rows = await read_subjects(js, names.QUEUES, [f"{names.QUEUE_PREFIX}.*.{item}"])
    return [(subject, json.loads(data)) for subject, data in rows]


async def settled(js: JetStreamContext, timeout: float = 30.0) -> None:
    """Wait until route's feedback consumer has processed and acked everything in SB_FEEDBACK."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        try:
            info = await js.consumer_info(names.FEEDBACK, names.ROUTE_FEEDBACK_CONSUMER)
            if info.num_pending == 0 and info.num_ack_pending == 0:
                return
        except Exception:  # noqa: BLE001 - the consumer is not created yet
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("route's feedback consumer did not settle")


@pytest.fixture
async def env(nc: Client, tmp_path: Path):
    settings = Settings(data=tmp_path, batch_size=16)
    js = nc.jetstream()
    await ensure_streams(js, settings)
    return settings, js, load_config(EXAMPLE_CONFIG)


@pytest.fixture
async def route(env):
    settings, js, config = env
    stop = asyncio.Event()
    task = asyncio.create_task(run_route(js, config, settings, stop))
    yield
    stop.set()
    await asyncio.wait_for(task, 15)


async def test_not_helpful_pressed_three_times_lands_in_the_team_queue_once(env, route) -> None:
    settings, js, _ = env
    item = answered("fb-three-presses")
    await store_answer(js, item)
    metrics = IngestMetrics()
    recorder = FeedbackRecorder(js, metrics, settings)

    results = [await recorder.record(item.id, "not_helpful", "link") for _ in range(3)]
    late = await recorder.record(item.id, "helpful", "slack", by="U1")  # a change of mind: the first counts
    assert [r.first for r in results] == [True, False, False] and not late.first
    assert {r.feedback.verdict for r in [*results, late]} == {"not_helpful"}

    deadline = asyncio.get_running_loop().time() + 30
    rows: list[tuple[str, dict]] = []
    while not rows and asyncio.get_running_loop().time() < deadline:
        rows = await queued(js, item.id)
        await asyncio.sleep(0.1)
    await settled(js)
    rows = await queued(js, item.id)
    assert len(rows) == 1, rows
    subject, body = rows[0]
    assert subject == names.queue_subject("platform", item.id)
    assert body["answer_rejected"] is True and body["answer"]["article"] == "sso-setup"
    assert body["decision"]["action"] == "route" and body["decision"]["team"] == "platform"
    assert "did not help" in body["decision"]["reason"]
    assert set(body["decision"]["thresholds"]) == {"kb", "area", "intent"}
    assert len(await read_subjects(js, names.FEEDBACK, [names.feedback_subject(item.id)])) == 1
    sample = metrics.registry.get_sample_value
    assert sample("switchboard_answer_feedback_total", {"article": "sso-setup", "verdict": "not_helpful"}) == 1
    assert sample("switchboard_answer_feedback_total", {"article": "sso-setup", "verdict": "helpful"}) is None


async def test_helpful_is_recorded_and_queues_nothing(env, route) -> None:
    settings, js, _ = env
    item = answered("fb-helpful")
    await store_answer(js, item)
    assert (await FeedbackRecorder(js, IngestMetrics(), settings).record(item.id, "helpful", "link")).first
    await settled(js)
    assert await queued(js, item.id) == []


async def test_redelivered_verdict_goes_to_the_first_decisions_queue_once(env) -> None:
    """The same SB_FEEDBACK message handled three times at once (redeliveries after lost acks), the last time
    by a worker whose rules changed: one queue message, in the queue the first re-decision chose."""
    settings, js, config = env
    item = answered("fb-redelivered")
    await store_answer(js, item)
    await FeedbackRecorder(js, IngestMetrics(), settings).record(item.id, "not_helpful", "link")
    sub = await js.pull_subscribe(names.feedback_subject(item.id), stream=names.FEEDBACK)
    [msg] = await sub.fetch(1, timeout=5)
    decisions = await decisions_bucket(js, settings)
    handler = FeedbackHandler(js, LiveConfig(lambda c: compile_rules(c.rules), config), settings, decisions)
    assert await handler([msg, msg, msg]) == [None, None, None]
    changed = config.model_copy(update={"rules": [RuleConfig(name="all-to-insights", route={"team": "insights"})]})
    live = LiveConfig(lambda c: compile_rules(c.rules), changed)
    assert await FeedbackHandler(js, live, settings, decisions)([msg]) == [None]
    rows = await queued(js, item.id)
    assert [s for s, _ in rows] == [names.queue_subject("platform", item.id)]
    pinned = await decisions.get(names.rejected_decision_key(item.id))
    assert json.loads(pinned.value)["team"] == "platform"


async def test_a_verdict_on_an_item_that_was_not_answered_is_refused(env) -> None:
    settings, js, _ = env
    recorder = FeedbackRecorder(js, IngestMetrics(), settings)
    item = answered("fb-source")
    await store_answer(js, item)
    routed = answered("fb-routed").model_copy(update={"answer": None})
    await publish_item(js, names.queue_subject("platform", routed.id), routed.model_dump_json().encode(), routed.id, 5)
    for item_id_, source in [("0" * 24, None), (routed.id, None), (item.id, "slack"), ("not.a.token", None)]:
        with pytest.raises(NotAnswered):
            await recorder.record(item_id_, "not_helpful", "slack", source=source)
    assert await read_subjects(js, names.FEEDBACK, [names.all_stream_filter(names.FEEDBACK)]) == []


async def test_a_verdict_whose_answer_is_gone_is_dead_lettered_not_lost(env, route) -> None:
    """A verdict published for an answer no longer kept (past retention) ends in SB_DLQ with the reason."""
    settings, js, _ = env
    gone = "feedbeefdeadbeef00000000"
    fb = Feedback(item_id=gone, verdict="not_helpful", via="link", article="sso-setup", at=datetime.now(UTC))
    await publish_item(js, names.feedback_subject(gone), fb.model_dump_json().encode(), gone, 5)
    await settled(js)
    [(subject, data)] = await read_subjects(js, names.DLQ, [names.dlq_subject("route", gone)])
    body = json.loads(data)
    assert body["stage"] == "route" and "no answer is stored" in body["reason"] and json.loads(body["raw_body"])["item_id"] == gone
    assert await queued(js, gone) == []
