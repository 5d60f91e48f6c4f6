from __future__ import annotations

import json

import pytest

from services.ingest.adapters import intercom
from services.ingest.errors import AuthenticationFailed, NormaliseError

from . import accept, make_request, make_source, sample_bytes, signed

pytestmark = pytest.mark.unit

SRC = make_source("intercom")
NOW = 1_772_443_964.0
# webhook-formats.md §4 [V]: HMAC-SHA1 over the raw body, recomputed with Python's hmac
VECTOR_SECRET = "client_secret_x"
VECTOR_BODY = b'{"type":"notification_event","id":"notif_1","topic":"ping"}'
VECTOR_SIG = "sha1=7206fc78018ea0a8c86031cbacfddacbfda02192"


def _req(sig=VECTOR_SIG, body=VECTOR_BODY):
    return make_request({"content-type": "application/json", "x-hub-signature": sig}, body)


def test_vector_and_ping_is_system():
    intercom.verify(_req(), [VECTOR_SECRET], [], SRC, NOW)
    [d] = intercom.normalise(intercom.decode(_req()), _req(), SRC)
    assert (d.category, d.event_type, d.delivery_id) == ("system", "ping", "notif_1")


@pytest.mark.parametrize(
    "req",
    [
        _req(sig="sha1=7206fc78018ea0a8c86031cbacfddacbfda02193"),
        _req(sig="7206fc78018ea0a8c86031cbacfddacbfda02192"),  # no sha1= prefix
        _req(sig="sha256=7206fc78018ea0a8c86031cbacfddacbfda02192"),
        _req(body=VECTOR_BODY + b"\n"),
        make_request({"content-type": "application/json"}, VECTOR_BODY),
    ],
)
def test_bad_signatures(req):
    with pytest.raises(AuthenticationFailed):
        intercom.verify(req, [VECTOR_SECRET], [], SRC, NOW)


def test_rotation_and_missing_config():
    intercom.verify(_req(), ["previous", VECTOR_SECRET], [], SRC, NOW)
    with pytest.raises(AuthenticationFailed):
        intercom.verify(_req(), [], [], SRC, NOW)


def test_uppercase_hex_accepted():
    intercom.verify(_req(sig=VECTOR_SIG.upper().replace("SHA1=", "sha1=")), [VECTOR_SECRET], [], SRC, NOW)


def test_sample_round_trip_takes_last_part():
    req = signed(SRC, sample_bytes("intercom.json"), NOW, ["s3cret"])
    [d] = accept(SRC, req, NOW, ["s3cret"])
    assert d.delivery_id.startswith("notif_78c1")
    assert d.category == "feedback" and d.event_type == "conversation.user.replied"
    assert d.text and d.text.startswith("Still broken this morning")
    assert d.html and d.html.startswith("<p>")
    assert d.person and d.person.email == "priya@initech.io" and d.person.external_id == "u-8841"
    assert d.url == "https://app.intercom.com/a/apps/a86dr8yl/conversations/147000321"
    assert d.occurred_at and d.occurred_at.year == 2026
    assert d.attributes["app_id"] == "a86dr8yl"


def _notification(topic, item):
    return json.dumps({"type": "notification_event", "id": "notif_x", "topic": topic, "app_id": "a1",
                       "created_at": 1772443800, "data": {"item": item}}).encode()


def test_opening_message_and_admin_reply():
    item = {"type": "conversation", "id": "1", "source": {"body": "Can I pay annually?", "author": {"type": "lead", "email": "x@acme.com"}}}
    [d] = accept(SRC, signed(SRC, _notification("conversation.user.created", item), NOW, ["k"]), NOW, ["k"])
    assert (d.category, d.text) == ("feedback", "Can I pay annually?")
    item["conversation_parts"] = {"conversation_parts": [{"part_type": "comment", "body": "Yes!", "author": {"type": "admin", "id": "7"}}]}
    [a] = accept(SRC, signed(SRC, _notification("conversation.admin.replied", item), NOW, ["k"]), NOW, ["k"])
    assert (a.category, a.text) == ("system", "Yes!")


def test_company_update_becomes_account_update():
    item = {"type": "company", "id": "6a1", "company_id": "acme", "name": "Acme", "website": "https://www.acme.com",
            "monthly_spend": 2500, "plan": {"name": "Enterprise"}}
    [d] = accept(SRC, signed(SRC, _notification("company.updated", item), NOW, ["k"]), NOW, ["k"])
    assert d.category == "account" and d.account_update
    u = d.account_update
    assert (u.id, u.name, u.domain, u.arr, u.plan) == ("acme", "Acme", "acme.com", 30000.0, "Enterprise")


def test_not_a_notification():
    for body in (b"[]", b'{"id": "x"}'):
        req = signed(SRC, body, NOW, ["k"])
        with pytest.raises(NormaliseError):
            accept(SRC, req, NOW, ["k"])
