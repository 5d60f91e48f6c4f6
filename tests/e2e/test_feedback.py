""""Did this help?" through a running `switchboard up`: a feedback link's GET shows a confirm page and records
nothing, its POST records, and the answered question lands once in its team queue flagged `answer_rejected`;
a signed Slack `block_actions` click does the same; bad tokens are 404."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlencode

import httpx
import pytest

from services.common.feedback_tokens import feedback_url
from services.demo.signing import signed_request
from tests.e2e.conftest import Running
from tests.e2e.test_webhook_to_inbox import native, wait_for_json_lines

pytestmark = pytest.mark.e2e

QUESTION = "How do I set up SSO with Okta for our workspace?"


def answered_id(sb: Running, resp: httpx.Response) -> str:
    assert resp.status_code in (200, 202), resp.text
    item = resp.json()["ids"][0]
    rows = wait_for_json_lines(sb, ["answers"], lambda rs: any(r["id"] == item for r in rs))
    assert next(r for r in rows if r["id"] == item)["answer"]["article"] == "sso-setup"
    return item


def stats(sb: Running) -> dict[str, dict]:
    out = sb.cli("answers", "--stats", "--json")
    assert out.returncode == 0, out.stderr
    return {row["article"]: row for row in map(json.loads, out.stdout.splitlines())}


def rejected_in_queue(sb: Running, item: str) -> list[dict]:
    rows = wait_for_json_lines(sb, ["inbox", "platform"], lambda rs: any(r["id"] == item for r in rs))
    return [r for r in rows if r["id"] == item]


def test_feedback_link_get_confirms_post_records_and_requeues_once(switchboard: Running) -> None:
    sb = switchboard
    item = answered_id(sb, sb.post("native", native(QUESTION, email="it@hooli.dev"), f"msg_{uuid.uuid4().hex}"))
    url = feedback_url(sb.url, item, "not_helpful", sb.env)

    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Content-Security-Policy" in page.headers and page.headers["cache-control"] == "no-store"
    assert '<form method="post"' in page.text and "No, this did not help" in page.text
    assert "Set up SSO" in page.text or "sso" in page.text.lower()
    assert stats(sb).get("sso-setup", {}).get("not_helpful", 0) == 0  # a GET (a mail scanner) records nothing

    first = httpx.post(url, timeout=10)
    assert first.status_code == 200 and "Thank you" in first.text
    again = httpx.post(url, timeout=10)
    assert again.status_code == 200 and "Already recorded" in again.text
    helpful_after = httpx.post(feedback_url(sb.url, item, "helpful", sb.env), timeout=10)
    assert helpful_after.status_code == 200 and "Already recorded" in helpful_after.text

    [queued] = rejected_in_queue(sb, item)
    assert queued["answer_rejected"] is True and queued["decision"]["team"] == "platform"
    assert "did not help" in queued["decision"]["reason"]
    row = stats(sb)["sso-setup"]
    assert row["not_helpful"] == 1 and row["helpful"] == 0 and row["answers"] >= 1
    metrics = httpx.get(sb.url + "/metrics", timeout=10).text
    assert 'switchboard_answer_feedback_total{article="sso-setup",verdict="not_helpful"} 1.0' in metrics
    steps = [json.loads(line)["step"] for line in sb.cli("trace", item, "--json").stdout.splitlines()]
    assert steps.count("answered") == 1 and steps.count("queued") == 1 and steps.count("feedback") == 1


def test_bad_tokens_are_404_and_record_nothing(switchboard: Running) -> None:
    sb = switchboard
    item = answered_id(sb, sb.post("native", native(QUESTION, email="ops@hooli.dev"), f"msg_{uuid.uuid4().hex}"))
    good = feedback_url(sb.url, item, "not_helpful", sb.env).rsplit("/", 1)[1]
    other = feedback_url(sb.url, "0" * 24, "not_helpful", sb.env).rsplit("/", 1)[1]  # signed, but never answered
    for token in (good[:-2] + ("AA" if not good.endswith("AA") else "BB"), f"n.{item}", "garbage", other,
                  feedback_url(sb.url, item, "not_helpful", {"SWITCHBOARD_FEEDBACK_SECRET": "x"}).rsplit("/", 1)[1]):
        for method in ("GET", "POST"):
            resp = httpx.request(method, f"{sb.url}/feedback/{token}", timeout=10)
            assert resp.status_code == 404, (token, method, resp.status_code)
            assert "not valid" in resp.text
    assert stats(sb).get("sso-setup", {}).get("not_helpful", 0) == 0


def slack_click(sb: Running, action_id: str, value: str) -> httpx.Response:
    payload = {"type": "block_actions", "user": {"id": "U05CSMDANA", "username": "dana"}, "team": {"id": "T1DC2JH3J"},
               "trigger_id": f"t-{uuid.uuid4().hex}", "response_url": "https://hooks.slack.com/actions/T1/1/x",
               "actions": [{"action_id": action_id, "block_id": "sb_feedback", "value": value, "type": "button"}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    cfg = sb.config.source("slack")
    headers, body, path = signed_request(cfg, [sb.env[n] for n in cfg.secrets], [], body, time.time())
    return httpx.post(sb.url + path, content=body, headers=headers, timeout=10)


def test_signed_slack_click_records_and_requeues_once(switchboard: Running) -> None:
    sb = switchboard
    event = {"type": "event_callback", "team_id": "T1DC2JH3J", "event_id": f"Ev{uuid.uuid4().hex[:10]}",
             "event_time": int(time.time()),
             "event": {"type": "message", "channel": "C05CUSTFDBK", "user": "U05CSMDANA", "text": QUESTION,
                       "ts": f"{time.time():.6f}"}}
    item = answered_id(sb, sb.post("slack", json.dumps(event).encode()))

    ignored = slack_click(sb, "approve_invoice", item)
    assert ignored.status_code == 200 and "ignored" in ignored.json()
    assert slack_click(sb, "sb_not_helpful", "0" * 24).status_code == 404
    first = slack_click(sb, "sb_not_helpful", item)
    assert first.status_code == 200 and first.json() == {"recorded": True, "item": item, "verdict": "not_helpful"}
    for _ in range(2):
        repeat = slack_click(sb, "sb_not_helpful", item)
        assert repeat.status_code == 200 and repeat.json()["recorded"] is False

    [queued] = rejected_in_queue(sb, item)
    assert queued["answer_rejected"] is True and queued["source"] == "slack"
