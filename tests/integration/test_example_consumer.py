"""examples/consumers/tracker_mirror.py (FastStream) against a real nats-server, a local tracker and the inbox:
every item of the team's queue becomes one issue (a tracker failure is retried, never duplicated) and is
claimed in the inbox by the bot user."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import httpx
import pytest

from services.common import names
from services.common.embedded import EmbeddedNats
from services.config.teams import UserConfig
from tests.inbox_support import InboxServer, inbox_config, queued_item

pytestmark = pytest.mark.integration

pytest.importorskip("faststream", reason="the example consumer needs faststream (pip install faststream==0.7.8)")


class Tracker:
    """A tracker API on 127.0.0.1: POST /issues, de-duplicated by Idempotency-Key; the first call fails (503)."""

    def __init__(self) -> None:
        self.issues: dict[str, dict[str, Any]] = {}
        self.calls = 0
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                tracker.calls += 1
                if tracker.calls == 1 or self.headers.get("Authorization") != "Bearer tracker-token":
                    self.send_response(503 if tracker.calls == 1 else 401)
                    self.end_headers()
                    return
                tracker.issues.setdefault(self.headers["Idempotency-Key"], body)
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def tracker() -> Iterator[Tracker]:
    t = Tracker()
    yield t
    t.server.shutdown()


async def test_mirror_opens_one_issue_per_item_and_claims_it(nats_server: EmbeddedNats, tracker: Tracker) -> None:
    from examples.consumers.tracker_mirror import create

    config, env = inbox_config()
    config = config.model_copy(update={"users": [*config.users, UserConfig(
        email="tracker-bot@example.com", teams=["platform"], token="T_BOT")]})
    env["T_BOT"] = "bot-token"
    items = [queued_item(n, team="platform") for n in range(3)]
    with InboxServer(nats_server.url, items, config, env) as inbox:
        broker, _app = create(nats_server.url, "platform", tracker.url, "tracker-token", inbox.url, "bot-token")
        await broker.start()
        try:
            stream = inbox.call(lambda js: js.stream_info(names.QUEUES))
            assert stream.config.max_msgs_per_subject == 1 and stream.config.discard_new_per_subject  # not re-declared
            deadline = time.monotonic() + 60
            states: list[dict[str, Any]] = []
            async with httpx.AsyncClient(headers={"Authorization": "Bearer bot-token"}) as client:
                while time.monotonic() < deadline:
                    states = [(await client.get(f"{inbox.url}/api/items/{i.id}")).json()["state"] for i in items]
                    if len(tracker.issues) == 3 and all(s["status"] == "claimed" for s in states):
                        break
                    await asyncio.sleep(0.2)
        finally:
            await broker.stop()
    assert set(tracker.issues) == {i.id for i in items}  # one issue each, the failed call retried
    assert tracker.calls >= 4
    assert all(s["assignee"] == "tracker-bot@example.com" for s in states), states
    issue = tracker.issues[items[0].id]
    assert issue["external_id"] == items[0].id and "Stark Manufacturing" in issue["body"]
