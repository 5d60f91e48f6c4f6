from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from services.ingest.adapters import zendesk
from services.ingest.errors import AuthenticationFailed, NormaliseError

from . import accept, make_request, make_source, sample_bytes, signed

pytestmark = pytest.mark.unit

# webhook-formats.md §2: Zendesk's static test secret (developer.zendesk.com/documentation/webhooks/verifying/)
# and the third-party vector recomputed with Python hmac.
TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
VECTOR_TS = "2021-03-25T05:09:27Z"
VECTOR_NOW = 1616648967  # == VECTOR_TS
VECTOR_BODY = b'{"event":"ticket.updated","id":123}'
VECTOR_SIG = "S/RDdU2ERmj7LHDDoWJ2onPYH+t7/f2+LTM4dL7UiLM="
SRC = make_source("zendesk", options={"subdomain": "acme"})
SECRET = "zd-signing-secret-1"
NOW = 1_772_443_964.0


def _req(sig=VECTOR_SIG, ts=VECTOR_TS, body=VECTOR_BODY, extra=None):
    headers = {
        "content-type": "application/json",
        "x-zendesk-webhook-signature": sig,
        "x-zendesk-webhook-signature-timestamp": ts,
        **(extra or {}),
    }
    return make_request(headers, body)


def test_published_vector():
    zendesk.verify(_req(), [TEST_SECRET], [], SRC, VECTOR_NOW)


def test_secret_is_used_as_text_not_base64():
    key = base64.b64decode(TEST_SECRET)
    wrong = base64.b64encode(hmac.new(key, VECTOR_TS.encode() + VECTOR_BODY, hashlib.sha256).digest()).decode()
    with pytest.raises(AuthenticationFailed):
        zendesk.verify(_req(sig=wrong), [TEST_SECRET], [], SRC, VECTOR_NOW)


@pytest.mark.parametrize(
    "req",
    [
        _req(sig="S/RDdU2ERmj7LHDDoWJ2onPYH+t7/f2+LTM4dL7UiLA="),
        _req(body=VECTOR_BODY + b" "),
        _req(sig="not base64!"),
        make_request({"content-type": "application/json"}, VECTOR_BODY),
        _req(ts="yesterday"),
    ],
)
def test_bad_signatures(req):
    with pytest.raises(AuthenticationFailed):
        zendesk.verify(req, [TEST_SECRET], [], SRC, VECTOR_NOW)


@pytest.mark.parametrize("skew", [-301, 301])
def test_stale_or_future_timestamp(skew):
    with pytest.raises(AuthenticationFailed):
        zendesk.verify(_req(), [TEST_SECRET], [], SRC, VECTOR_NOW + skew)


def test_within_tolerance():
    zendesk.verify(_req(), [TEST_SECRET], [], SRC, VECTOR_NOW + 299)


def test_rotation_and_missing_config():
    zendesk.verify(_req(), ["old-secret", TEST_SECRET], [], SRC, VECTOR_NOW)
    with pytest.raises(AuthenticationFailed):
        zendesk.verify(_req(), [], [], SRC, VECTOR_NOW)


def test_sample_trigger_body_round_trip():
    req = signed(SRC, sample_bytes("zendesk.json"), NOW, [SECRET], delivery_id="inv-1")
    [d] = accept(SRC, req, NOW, ["other", SECRET])
    assert d.delivery_id == "inv-1"
    assert d.category == "feedback"
    assert d.title == "CSV export times out for large workspaces"
    assert "timeout" in (d.text or "") and "<p>" not in (d.text or "")
    assert d.html and "<strong>" in d.html
    assert d.person and d.person.email == "jordan.smith@globex.com"
    assert d.account_hint and d.account_hint.id == "acc_globex"
    assert d.url == "https://globex-support.zendesk.com/agent/tickets/35436"
    assert d.occurred_at and d.occurred_at.utcoffset().total_seconds() == 0
    assert d.raw["ticket_id"] == "35436"


def test_trigger_without_invocation_id_uses_ticket_and_update_time():
    req = signed(SRC, sample_bytes("zendesk.json"), NOW, [SECRET])
    [d] = accept(SRC, req, NOW, [SECRET])
    assert d.delivery_id == "35436:2026-03-02T09:12:44Z"


def test_form_encoded_trigger():
    body = b"ticket_id=9&subject=Refund&comment=Please+refund+the+duplicate+charge&requester_email=a%40acme.com"
    req = signed(SRC, body, NOW, [SECRET])
    assert req.content_type == "application/x-www-form-urlencoded"
    [d] = accept(SRC, req, NOW, [SECRET])
    assert d.text == "Please refund the duplicate charge"
    assert d.url == "https://acme.zendesk.com/agent/tickets/9"


ENVELOPE = {
    "type": "zen:event-type:ticket.created",
    "account_id": 88888888,
    "id": "01HN7X5T0K9Q",
    "time": "2024-04-17T17:18:10Z",
    "zendesk_event_version": "2022-11-06",
    "subject": "zen:ticket:35436",
    "detail": {
        "id": "35436",
        "subject": "Sync down",
        "description": "It fails every night since the upgrade",
        "requester_id": "2097",
        "organization_id": "5099",
        "status": "OPEN",
    },
    "event": {},
}


def test_event_subscription_ticket_created():
    body = json.dumps(ENVELOPE).encode()
    req = signed(SRC, body, NOW, [SECRET])
    [d] = accept(SRC, req, NOW, [SECRET])
    assert d.delivery_id == "01HN7X5T0K9Q"  # no invocation id header: the envelope id
    assert d.event_type == "ticket.created"
    assert (d.title, d.text) == ("Sync down", "It fails every night since the upgrade")
    assert d.account_hint and d.account_hint.external_id == "5099"
    assert d.person and d.person.id == "2097"
    assert d.url == "https://acme.zendesk.com/agent/tickets/35436"
    assert d.attributes["zendesk_account_id"] == "88888888"
    assert d.occurred_at and d.occurred_at.isoformat() == "2024-04-17T17:18:10+00:00"


def test_event_subscription_comment_and_status_change():
    comment = dict(ENVELOPE, type="zen:event-type:ticket.comment_added",
                   event={"comment": {"id": "1", "body": "<p>Still failing</p>", "is_public": True,
                                      "author": {"id": "2097", "name": "Ann"}}})
    req = signed(SRC, json.dumps(comment).encode(), NOW, [SECRET], delivery_id="inv-2")
    [d] = accept(SRC, req, NOW, [SECRET])
    assert (d.delivery_id, d.event_type, d.text, d.category) == ("inv-2", "ticket.comment_added", "Still failing", "feedback")
    assert d.attributes["public"] is True
    status = dict(ENVELOPE, type="zen:event-type:ticket.status_changed", event={"previous": "open", "current": "solved"})
    [s] = accept(SRC, signed(SRC, json.dumps(status).encode(), NOW, [SECRET]), NOW, [SECRET])
    assert s.category == "system" and s.text is None


def test_unusable_bodies_raise_normalise_error():
    for payload in ([1, 2], {"foo": "bar"}):
        req = signed(SRC, json.dumps(payload).encode(), NOW, [SECRET])
        with pytest.raises(NormaliseError):
            accept(SRC, req, NOW, [SECRET])
