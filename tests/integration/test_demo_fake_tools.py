"""The demo's fake tools (a real local HTTP server): they answer like each API's success, record what they got
(never the credential), and list Zendesk comments back so a look-before-post sees what was posted."""

from __future__ import annotations

import httpx
import pytest

from services.common.embedded import free_port
from services.demo.fake_tools import DemoFakeTools

pytestmark = pytest.mark.integration


@pytest.fixture
def tools():
    fakes = DemoFakeTools(free_port()).start()
    yield fakes
    fakes.stop()


def test_each_tool_answers_and_records(tools: DemoFakeTools) -> None:
    base = tools.url
    zd = httpx.put(f"{base}/zendesk/api/v2/tickets/35436.json", auth=("demo@example.com/token", "sekrit-value"),
                   json={"ticket": {"comment": {"body": "Export large reports: https://docs.example.com/csv", "public": False}}})
    assert zd.status_code == 200 and zd.json()["ticket"]["id"] == "35436"
    listed = httpx.get(f"{base}/zendesk/api/v2/tickets/35436/comments.json").json()
    assert [c["body"] for c in listed["comments"]] == ["Export large reports: https://docs.example.com/csv"]
    assert httpx.post(f"{base}/freshdesk/api/v2/tickets/7/notes", json={"body": "note", "private": True}).status_code == 201
    slack = httpx.post(f"{base}/slack/api/chat.postMessage", headers={"authorization": "Bearer sekrit-bot"},
                       json={"channel": "C1", "thread_ts": "1.2", "text": "Set up SSO: https://docs.example.com/sso"})
    assert slack.json()["ok"] is True
    assert httpx.post(f"{base}/hooks/strategic-pm", json={"text": "New high item"}).text == "ok"
    assert httpx.post(f"{base}/callback", json={"type": "answer.created", "data": {"text": "hi"}},
                      headers={"webhook-signature": "v1,abc"}).status_code == 200
    assert httpx.post(f"{base}/nowhere/x", json={}).status_code == 404

    got = tools.received
    assert [(r.tool, r.method, r.path) for r in got] == [
        ("zendesk", "PUT", "/api/v2/tickets/35436.json"),
        ("freshdesk", "POST", "/api/v2/tickets/7/notes"),
        ("slack", "POST", "/api/chat.postMessage"),
        ("hooks", "POST", "/strategic-pm"),
        ("callback", "POST", "/"),
    ]
    assert got[0].auth == "Basic" and got[2].auth == "Bearer" and got[4].signed
    assert got[2].summary == "Set up SSO: https://docs.example.com/sso" and got[3].summary == "New high item"
    assert "sekrit" not in repr(got)
