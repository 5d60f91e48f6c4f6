"""Slack "did this help?" buttons: a signed `block_actions` interaction on the Slack source's URL is a verdict
(recorded on SB_FEEDBACK), never an item; tampered, stale or unsigned clicks are 401; other buttons are
answered 200 "ignored" (Slack shows the user an error on anything else) and store nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from services.ingest.adapters import slack
from services.ingest.adapters.base import Verdict
from services.ingest.errors import AuthenticationFailed
from services.ingest.pipeline import accept

from . import make_request, make_source, signed

pytestmark = pytest.mark.unit

SRC = make_source("slack")
SECRET = "slack-signing-secret-for-tests"
NOW = 1_772_443_900.0
ITEM = "0123456789abcdef01234567"
RECEIVED = datetime(2026, 3, 2, tzinfo=UTC)


def click(action_id: str = "sb_not_helpful", value: str = ITEM, extra_actions: list | None = None) -> bytes:
    """A block_actions payload as Slack sends it (docs.slack.dev/reference/interaction-payloads/block_actions-payload)."""
    payload = {
        "type": "block_actions",
        "user": {"id": "U05CSMDANA", "username": "dana", "team_id": "T1DC2JH3J"},
        "api_app_id": "A05SWBRD01",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": "1772444400.100300", "channel_id": "C05CUSTFDBK"},
        "trigger_id": "1234567890.123456.abcdef",
        "team": {"id": "T1DC2JH3J", "domain": "acme"},
        "channel": {"id": "C05CUSTFDBK", "name": "customer-feedback"},
        "response_url": "https://hooks.slack.com/actions/T1DC2JH3J/1234/abcd",
        "actions": [
            *(extra_actions or []),
            {"action_id": action_id, "block_id": "sb_feedback", "value": value, "type": "button",
             "text": {"type": "plain_text", "text": "No"}, "action_ts": "1772444460.000100"},
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def run(body: bytes, now: float = NOW, secrets: list[str] | None = None, request=None):
    request = request or signed(SRC, body, now, [SECRET])
    return accept(request, SRC, slack, secrets or [SECRET], [], now, RECEIVED)


@pytest.mark.parametrize("action,verdict", [("sb_helpful", "helpful"), ("sb_not_helpful", "not_helpful")])
def test_signed_click_is_a_verdict_not_an_item(action, verdict):
    accepted = run(click(action))
    assert accepted.verdict == Verdict(item_id=ITEM, verdict=verdict, by="U05CSMDANA")
    assert accepted.items == [] and accepted.dead_letter is None and accepted.reply is None


def test_our_button_is_found_among_other_actions():
    other = {"action_id": "open_ticket", "value": "x", "type": "button"}
    assert run(click("sb_helpful", extra_actions=[other])).verdict.verdict == "helpful"


def test_tampered_click_is_refused():
    request = signed(SRC, click("sb_helpful"), NOW, [SECRET])
    forged = click("sb_not_helpful")  # the same signature headers over another body
    with pytest.raises(AuthenticationFailed):
        run(forged, request=make_request(dict(request.headers), forged))


def test_click_signed_with_another_secret_is_refused():
    with pytest.raises(AuthenticationFailed):
        run(click(), request=signed(SRC, click(), NOW, ["not-the-secret"]))


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_stale_click_is_refused(age):
    request = signed(SRC, click(), NOW - age, [SECRET])
    with pytest.raises(AuthenticationFailed):
        run(click(), request=request)


def test_unsigned_click_is_refused():
    request = make_request({"content-type": "application/x-www-form-urlencoded"}, click())
    with pytest.raises(AuthenticationFailed):
        run(click(), request=request)


def test_unknown_action_is_ignored_and_stores_nothing():
    accepted = run(click("approve_invoice"))
    assert accepted.verdict is None and accepted.items == [] and accepted.dead_letter is None
    assert accepted.reply is not None and accepted.reply.status == 200
    assert "ignored" in json.loads(accepted.reply.body)


def test_block_actions_without_actions_is_ignored():
    payload = {"type": "block_actions", "user": {"id": "U1"}, "actions": "not-a-list"}
    accepted = run(urlencode({"payload": json.dumps(payload)}).encode())
    assert accepted.reply is not None and accepted.reply.status == 200 and accepted.items == []


def test_unknown_action_still_needs_a_valid_signature():
    request = signed(SRC, click("approve_invoice"), NOW - 3600, [SECRET])
    with pytest.raises(AuthenticationFailed):
        run(click("approve_invoice"), request=request)


def test_other_interactivity_still_makes_items():
    shortcut = {"type": "message_action", "trigger_id": "t1", "user": {"id": "U1"},
                "message": {"text": "Customers keep asking for SSO on the starter plan", "user": "U2", "ts": "1.2"}}
    accepted = run(urlencode({"payload": json.dumps(shortcut)}).encode())
    assert accepted.verdict is None and len(accepted.items) == 1 and accepted.items[0].category == "feedback"


def test_slack_events_are_not_verdicts():
    body = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "message", "text": "hi", "user": "U1"}}).encode()
    accepted = run(body)
    assert accepted.verdict is None and len(accepted.items) == 1
