"""The digest schedule through `switchboard up`: a team whose digest is due gets it posted to its Slack webhook
(the demo's fake tools) by deliver, once; a restart in the same period finds the slot taken and posts nothing."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.common.embedded import EmbeddedNats, free_port
from services.demo.fake_tools import DemoFakeTools
from services.digest.schedule import due_slot, parse_every, slot_token
from tests.conftest import EXAMPLE_CONFIG
from tests.e2e.conftest import Running, start_switchboard

pytestmark = pytest.mark.e2e


def digests(tools: DemoFakeTools) -> list[object]:
    return [r for r in tools.received if r.tool == "hooks" and "Digest for insights" in str(r.body)]


def wait(predicate, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def stop(sb: Running) -> None:
    sb.process.terminate()
    sb.process.wait(timeout=20)


def test_due_digest_is_posted_once_across_a_restart(nats_server: EmbeddedNats, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    tools = DemoFakeTools(free_port()).start()
    monkeypatch.setenv("E2E_DIGEST_HOOK", f"{tools.url}/hooks/insights")
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, config)
    teams = config / "teams.yaml"
    text = teams.read_text()
    assert 'digest: {every: "mon 09:00", slack_webhook: INSIGHTS_DIGEST_WEBHOOK}' in text
    teams.write_text(text.replace('every: "mon 09:00", slack_webhook: INSIGHTS_DIGEST_WEBHOOK',
                                  'every: "daily 00:00", slack_webhook: E2E_DIGEST_HOOK'))
    slot = slot_token(due_slot(parse_every("daily 00:00"), datetime.now(UTC)))
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    try:
        first = start_switchboard(nats_server.url, tmp_path / "one", config)
        try:
            [post] = wait(lambda: digests(tools))
            assert set(post.body) == {"text", "blocks"}
            wait(lambda: b"delivery.sent" in first.log.read_bytes())  # the ledger says sent before we stop
        finally:
            stop(first)
        second = start_switchboard(nats_server.url, tmp_path / "two", config)
        try:
            wait(lambda: f'"slot":"{slot}"'.encode() in second.log.read_bytes()
                 and b"digest.slot_taken" in second.log.read_bytes())
        finally:
            stop(second)
        assert len(digests(tools)) == 1
    finally:
        tools.stop()
