"""The whole loop through `switchboard up` with deliver: a question is answered, deliver posts the answer into
the tool (the demo's fake tools, a real local HTTP server), and the asker's "no" travels back: the Slack button
deliver put on the message, clicked (a signed block_actions with the button's own value), and the "No" link
deliver put in a callback's text, opened and confirmed. Each re-queues the question once, flagged."""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from services.common.embedded import EmbeddedNats, free_port
from services.demo.fake_tools import DemoFakeTools, Received
from tests.conftest import EXAMPLE_CONFIG
from tests.e2e.conftest import Running, start_switchboard
from tests.e2e.test_feedback import QUESTION, rejected_in_queue, slack_click
from tests.e2e.test_webhook_to_inbox import native

pytestmark = pytest.mark.e2e


@pytest.fixture
def looped(nats_server: EmbeddedNats, tmp_path: Path) -> Iterator[tuple[Running, DemoFakeTools]]:
    tools = DemoFakeTools(free_port()).start()
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config)
    sources = config / "sources.yaml"
    sources.write_text(sources.read_text().replace("127.0.0.1:8099", f"127.0.0.1:{tools.port}"))
    sb = start_switchboard(nats_server.url, tmp_path, config)
    yield sb, tools
    sb.process.terminate()
    sb.process.wait(timeout=15)
    tools.stop()


def received(tools: DemoFakeTools, tool: str, item: str, timeout: float = 60.0) -> Received:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in tools.received:
            if r.tool == tool and item in str(r.body):
                return r
        time.sleep(0.1)
    raise AssertionError(f"{tool} received nothing about {item}: {tools.received}")


def test_slack_button_from_the_delivered_answer_requeues_once(looped) -> None:  # type: ignore[no-untyped-def]
    sb, tools = looped
    event = {"type": "event_callback", "team_id": "T1DC2JH3J", "event_id": f"Ev{uuid.uuid4().hex[:10]}",
             "event_time": int(time.time()),
             "event": {"type": "message", "channel": "C05CUSTFDBK", "user": "U05CSMDANA", "text": QUESTION,
                       "ts": f"{time.time():.6f}"}}
    item = sb.post("slack", json.dumps(event).encode()).json()["ids"][0]
    posted = received(tools, "slack", item)
    assert posted.path == "/api/chat.postMessage" and posted.auth == "Bearer"
    buttons = [e for b in posted.body["blocks"] if b.get("type") == "actions" for e in b["elements"]]
    no = next(e for e in buttons if e["action_id"] == "sb_not_helpful")
    assert no["value"] == item
    for _ in range(3):
        assert slack_click(sb, no["action_id"], no["value"]).status_code == 200
    [queued] = rejected_in_queue(sb, item)
    assert queued["answer_rejected"] is True and queued["source"] == "slack"


def test_no_link_from_the_delivered_callback_requeues_once(looped) -> None:  # type: ignore[no-untyped-def]
    sb, tools = looped
    item = sb.post("native", native(QUESTION, email="it@hooli.dev"), f"msg_{uuid.uuid4().hex}").json()["ids"][0]
    callback = received(tools, "callback", item)
    assert callback.signed and callback.body["type"] == "answer.created"
    match = re.search(r"No: \S+/feedback/(\S+)", callback.body["data"]["text"])
    assert match, callback.body["data"]["text"]
    link = f"{sb.url}/feedback/{match.group(1)}"  # deliver builds it on SWITCHBOARD_PUBLIC_URL
    assert "No, this did not help" in httpx.get(link, timeout=10).text
    assert "Thank you" in httpx.post(link, timeout=10).text
    assert "Already recorded" in httpx.post(link, timeout=10).text
    [queued] = rejected_in_queue(sb, item)
    assert queued["answer_rejected"] is True and queued["decision"]["team"] == "platform"
