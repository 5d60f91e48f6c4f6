from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from services.ingest.adapters import slack
from services.ingest.errors import AuthenticationFailed, NormaliseError

from . import accept, make_request, make_source, sample_bytes, signed

pytestmark = pytest.mark.unit

SRC = make_source("slack")
# slackapi/python-slack-sdk tests/slack_sdk/signature/test_signature_verifier.py
SDK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SDK_TS = "1531420618"
SDK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SDK_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
NOW = 1_772_443_900.0


def _req(sig=SDK_SIG, ts=SDK_TS, body=SDK_BODY):
    return make_request({"content-type": "application/x-www-form-urlencoded", "x-slack-signature": sig,
                         "x-slack-request-timestamp": ts}, body)


def test_sdk_vector_slash_command():
    slack.verify(_req(), [SDK_SECRET], [], SRC, int(SDK_TS))
    [d] = slack.normalise(slack.decode(_req()), _req(), SRC)
    assert d.event_type == "slash_command"
    assert d.delivery_id == "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    assert d.attributes["command"] == "/webhook-collect"
    assert d.attributes["response_url"].startswith("https://hooks.slack.com/commands/")
    assert d.category == "system"  # the command was sent without text


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamp_window(skew):
    with pytest.raises(AuthenticationFailed):
        slack.verify(_req(), [SDK_SECRET], [], SRC, int(SDK_TS) + skew)


@pytest.mark.parametrize("req", [_req(sig=SDK_SIG[:-1] + "4"), _req(sig=SDK_SIG[3:]), _req(ts="1531420619"),
                                 _req(ts="abc"), _req(body=SDK_BODY + b"&x=1"),
                                 make_request({"content-type": "application/json"}, b"{}")])
def test_bad_signatures(req):
    with pytest.raises(AuthenticationFailed):
        slack.verify(req, [SDK_SECRET], [], SRC, int(SDK_TS))


def test_rotation_and_missing_secret():
    slack.verify(_req(), ["old", SDK_SECRET], [], SRC, int(SDK_TS))
    with pytest.raises(AuthenticationFailed):
        slack.verify(_req(), [], [], SRC, int(SDK_TS))


def test_url_verification_replies_with_challenge():
    body = b'{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}'
    req = signed(SRC, body, NOW, ["k"])
    slack.verify(req, ["k"], [], SRC, NOW)
    r = slack.reply(slack.decode(req), req)
    assert r is not None and r.status == 200
    assert json.loads(r.body) == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_sample_event_round_trip():
    [d] = accept(SRC, signed(SRC, sample_bytes("slack.json"), NOW, ["k"]), NOW, ["k"])
    assert (d.delivery_id, d.event_type, d.category) == ("Ev06SWBRD7Q2", "message", "feedback")
    assert d.text and "quiet hours" in d.text
    assert d.person and d.person.id == "U05CSMDANA"
    assert d.attributes["channel"] == "C05CUSTFDBK" and d.attributes["team_id"] == "T1DC2JH3J"
    assert d.occurred_at and d.occurred_at.timestamp() == 1772444400


def test_bot_messages_and_edits_are_system():
    base = json.loads(sample_bytes("slack.json"))
    for event in ({"bot_id": "B1"}, {"subtype": "bot_message"}, {"subtype": "message_changed"}):
        payload = dict(base, event=dict(base["event"], **event))
        [d] = accept(SRC, signed(SRC, json.dumps(payload).encode(), NOW, ["k"]), NOW, ["k"])
        assert d.category == "system"


def test_slash_command_with_text_and_ack():
    form = {"command": "/feedback", "text": "Customer Acme wants SSO for contractors", "user_id": "U1", "user_name": "dana",
            "team_id": "T1", "channel_id": "C1", "trigger_id": "13345224609.738474920.8088930838d88f008e0",
            "response_url": "https://hooks.slack.com/commands/T1/1/abc"}
    req = signed(SRC, urlencode(form).encode(), NOW, ["k"])
    assert req.content_type == "application/x-www-form-urlencoded"
    [d] = accept(SRC, req, NOW, ["k"])
    assert (d.category, d.event_type, d.text) == ("feedback", "slash_command", form["text"])
    assert d.delivery_id == form["trigger_id"] and d.attributes["response_url"] == form["response_url"]
    ack = slack.acknowledge(["id1"])
    body = json.loads(ack.body)
    assert ack.status == 200 and body["response_type"] == "ephemeral" and body["text"] and body["ids"] == ["id1"]


def test_message_shortcut():
    payload = {"type": "message_action", "callback_id": "send_to_switchboard", "trigger_id": "t-1",
               "user": {"id": "U9", "username": "dana"}, "team": {"id": "T1"}, "channel": {"id": "C1"},
               "message": {"type": "message", "user": "U7", "ts": "1.2", "text": "Globex cannot export invoices"},
               "response_url": "https://hooks.slack.com/app/x"}
    req = signed(SRC, urlencode({"payload": json.dumps(payload)}).encode(), NOW, ["k"])
    [d] = accept(SRC, req, NOW, ["k"])
    assert (d.category, d.event_type, d.text, d.delivery_id) == ("feedback", "message_action", "Globex cannot export invoices", "t-1")


def test_unusable():
    for body in (b"[]", b"{}", b"foo=bar"):
        with pytest.raises(NormaliseError):
            accept(SRC, signed(SRC, body, NOW, ["k"]), NOW, ["k"])
