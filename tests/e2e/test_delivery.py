"""Webhook in, comment out: a signed Zendesk webhook with a question the example KB answers becomes exactly
one internal note on a fake Zendesk (a local HTTP server), through a `kill -9` of `switchboard up` while the
note's request is in flight (Zendesk applied it, the answer never came) and a restart: the restarted deliver
finds the ledger entry `pending`, looks for the note's marker in the ticket's comments, and posts nothing."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import httpx
import pytest
import yaml

from services.common.embedded import EmbeddedNats
from tests.conftest import EXAMPLE_CONFIG
from tests.e2e.conftest import start_switchboard
from tests.fake_tool import FakeTool

pytestmark = pytest.mark.e2e


def config_with_reply(tmp: Path, tool: FakeTool) -> Path:
    folder = tmp / "config"
    shutil.copytree(EXAMPLE_CONFIG, folder)
    sources = yaml.safe_load((folder / "sources.yaml").read_text())
    for source in sources["sources"]:
        if source["kind"] == "zendesk":
            source["reply"] = {"url": tool.url, "credentials": "E2E_ZENDESK_API"}
    (folder / "sources.yaml").write_text(yaml.safe_dump(sources, sort_keys=False))
    return folder


def wait(predicate, timeout: float = 60.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_one_comment_on_the_ticket_through_a_kill_9_mid_request(
    nats_server: EmbeddedNats, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = FakeTool().start()
    try:
        for key, value in {"E2E_ZENDESK_API": "agent@acme.example/token:e2e-api-token",
                           "SWITCHBOARD_OUTBOUND_ALLOW": "127.0.0.1", "SWITCHBOARD_ACK_WAIT_S": "4",
                           "SWITCHBOARD_DELIVER_READ_TIMEOUT_S": "5", "SWITCHBOARD_DELIVER_BUDGET_S": "2",
                           "SWITCHBOARD_DELIVER_CONNECT_TIMEOUT_S": "1"}.items():
            monkeypatch.setenv(key, value)
        folder = config_with_reply(tmp_path, tool)
        sb = start_switchboard(nats_server.url, tmp_path, folder)
        tool.faults = [("slow", 120)]  # Zendesk applies the note but answers only after we are dead
        body = json.dumps({"event": "ticket.created", "ticket_id": "4711", "subject": "Password",
                           "comment": "How do I reset my password? I forgot it.",
                           "requester_email": "sam@example.org", "updated_at": "2026-03-02T09:00:00Z"}).encode()
        resp = sb.post("zendesk", body, "e2e-invocation-1")
        assert resp.status_code == 202, resp.text
        item_id = resp.json()["ids"][0]
        marker = f"[sb:{item_id}:answer]"

        wait(lambda: any(r.method == "PUT" for r in tool.requests), what="the note's PUT")
        sb.process.send_signal(signal.SIGKILL)  # mid-request: applied by the tool, no answer yet
        sb.process.wait(10)
        assert tool.count_marker(marker) == 1

        sb = start_switchboard(nats_server.url, tmp_path, folder)
        try:
            def delivered() -> dict | None:  # type: ignore[type-arg]
                out = sb.cli("trace", item_id, "--json")
                rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
                return next((r["delivery"] for r in rows if r["step"] == "delivery" and r["delivery"]["status"] == "sent"), None)

            delivery = wait(delivered, what="the delivery to be settled")
            assert delivery["target"] == "answer" and delivery["kind"] == "zendesk"
            assert delivery["checked"] is True  # found by its marker, not posted again
            assert tool.count_marker(marker) == 1
            assert [r.method for r in tool.requests].count("PUT") == 1
            note = tool.comments["4711"][0]
            assert "Reset your password" in note or "password" in note.lower()
            assert tool.requests[0].headers["authorization"].startswith("Basic ")
            trace = sb.cli("trace", item_id)
            assert "delivery" in trace.stdout and "answer (zendesk) sent" in trace.stdout, trace.stdout
            assert "e2e-api-token" not in sb.log.read_text()
            metrics = httpx.get(sb.url + "/metrics", timeout=5).text
            assert 'switchboard_deliveries_total{kind="zendesk",outcome="found"} 1.0' in metrics
        finally:
            sb.process.terminate()
            sb.process.wait(15)
    finally:
        tool.stop()
