"""HTTP in, queue out: a signed webhook POSTed to a running `switchboard up` shows up in
`switchboard inbox TEAM` with its account, area and decision."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.e2e.conftest import Running

pytestmark = pytest.mark.e2e


def wait_for_json_lines(sb: Running, args: list[str], predicate, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    rows: list[dict] = []
    while time.monotonic() < deadline:
        out = sb.cli(*args, "--json")
        assert out.returncode == 0, out.stderr
        rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
        if predicate(rows):
            return rows
        time.sleep(0.3)
    raise AssertionError(f"timed out; last rows: {rows}")


def native(text: str, **data: str) -> bytes:
    return json.dumps({"type": "feedback.created", "timestamp": "2026-03-02T10:00:00Z", "data": {"text": text, **data}}).encode()


def test_strategic_bug_lands_in_strategic_queue_with_account_area_and_decision(switchboard: Running) -> None:
    delivery = f"msg_{uuid.uuid4().hex}"
    body = native(
        "The Salesforce integration stopped syncing this morning and none of our opportunities update. It is broken.",
        email="revops@starkmfg.com",
    )
    resp = switchboard.post("native", body, delivery)
    assert resp.status_code == 202, resp.text
    reply = resp.json()
    assert reply["accepted"] == 1 and len(reply["ids"]) == 1
    item_id = reply["ids"][0]

    rows = wait_for_json_lines(switchboard, ["inbox", "strategic-pm"], lambda rs: any(r["id"] == item_id for r in rs))
    item = next(r for r in rows if r["id"] == item_id)
    assert item["source"] == "native" and item["kind"] == "standard"
    assert item["delivery_id"] == delivery
    assert item["account"]["id"] == "acc_stark" and item["account"]["arr"] == 185000
    assert item["account"]["matched_by"] == "domain"
    assert item["person"]["email"] == "revops@starkmfg.com"
    assert item["area"]["id"] in {"integrations", "unknown"} and 0 <= item["area"]["confidence"] <= 1
    assert item["intent"] == "bug"
    assert item["decision"]["rule"] == "strategic-accounts"
    assert item["decision"]["action"] == "route" and item["decision"]["team"] == "strategic-pm"
    assert "185000" in item["decision"]["reason"]

    trace = switchboard.cli("trace", item_id)
    assert trace.returncode == 0, trace.stderr
    for step in ("received", "enriched", "queued", "strategic-accounts"):
        assert step in trace.stdout
    # the decision audit: the operand of `in` survives the terminal, the runner-up candidates, the thresholds
    # in force and the config version are shown
    assert "in [bug, churn_risk]" in trace.stdout, trace.stdout
    assert "top areas: " in trace.stdout and "top articles: " in trace.stdout
    assert "thresholds in force: kb " in trace.stdout
    assert f"config version {item['decision']['config_version']}" in trace.stdout


def test_redelivery_creates_nothing_new(switchboard: Running) -> None:
    delivery = f"msg_{uuid.uuid4().hex}"
    body = native("The mobile app logs me out every time I switch to another app on Android.", email="a@hooli.dev")
    first = switchboard.post("native", body, delivery)
    second = switchboard.post("native", body, delivery)
    assert first.status_code == 202 and 200 <= second.status_code < 300
    assert first.json()["ids"] == second.json()["ids"]
    item_id = first.json()["ids"][0]
    decided = wait_for_json_lines(
        switchboard, ["trace", item_id], lambda rs: any(r["step"] in ("queued", "answered", "dropped") for r in rs)
    )
    time.sleep(1.0)  # give a (wrong) second copy time to arrive
    steps = [r["step"] for r in wait_for_json_lines(switchboard, ["trace", item_id], lambda rs: True)]
    assert steps.count("received") == 1 and steps.count("enriched") == 1
    assert sum(steps.count(s) for s in ("queued", "answered", "dropped", "recorded")) == 1, decided


def test_how_to_question_is_answered_from_the_kb(switchboard: Running) -> None:
    resp = switchboard.post("native", native("How do I set up SSO with Okta for our workspace?", email="it@hooli.dev"))
    assert resp.status_code == 202
    item_id = resp.json()["ids"][0]
    rows = wait_for_json_lines(switchboard, ["answers"], lambda rs: any(r["id"] == item_id for r in rs))
    item = next(r for r in rows if r["id"] == item_id)
    assert item["answer"]["article"] == "sso-setup"
    assert item["decision"]["action"] == "answer" and item["decision"]["rule"] == "answer-how-to"


def test_empty_team_prints_nothing(switchboard: Running) -> None:
    out = switchboard.cli("inbox", "nobody-here", "--json")
    assert out.returncode == 0 and out.stdout == ""


def test_demo_nps_complaint_is_routed_to_its_team_not_answered(switchboard: Running) -> None:
    """The demo's Pendo NPS comment reports a problem: the answer gate sends it to a team, never an auto-answer."""
    from tests.conftest import ROOT

    event = json.loads((ROOT / "examples" / "samples" / "pendo.json").read_text())
    event["uniqueId"] = str(uuid.uuid4())
    resp = switchboard.post("pendo", json.dumps(event).encode())
    assert resp.status_code == 202, resp.text
    [item_id] = resp.json()["ids"]
    rows = wait_for_json_lines(switchboard, ["inbox", "insights"], lambda rs: any(r["id"] == item_id for r in rs))
    item = next(r for r in rows if r["id"] == item_id)
    assert item["text"].startswith("Scheduling reports is great but the PDF export cuts off wide tables")
    assert item["intent"] != "question" and item["area"]["id"] == "reporting"
    assert item["decision"]["action"] == "route" and item["decision"]["team"] == "insights"
    steps = [r["step"] for r in wait_for_json_lines(switchboard, ["trace", item_id], lambda rs: True)]
    assert "answered" not in steps
