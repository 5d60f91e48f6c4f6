from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from services.ingest.adapters import segment
from services.ingest.errors import AuthenticationFailed, NormaliseError

from . import accept, make_request, make_source, sample_bytes, sample_json, signed

pytestmark = pytest.mark.unit

SRC = make_source("segment")
NOW = 1_772_443_900.0
# webhook-formats.md §7 [V]: HMAC-SHA1 hex, recomputed with Python's hmac
VECTOR_SECRET = "abc123"
VECTOR_BODY = b'{"type":"track","event":"Signed Up","userId":"u1","messageId":"m1"}'
VECTOR_SIG = "334a30e0c851eedbc1a277462acff4149d881f80"


def _req(sig=VECTOR_SIG, body=VECTOR_BODY):
    return make_request({"content-type": "application/json", "x-signature": sig}, body)


def test_vector():
    segment.verify(_req(), [VECTOR_SECRET], [], SRC, NOW)
    [d] = accept(SRC, _req(), NOW, [VECTOR_SECRET])
    assert (d.delivery_id, d.category, d.event_type, d.title) == ("m1", "usage", "track", "Signed Up")
    assert d.attributes["event"] == "Signed Up"


@pytest.mark.parametrize("req", [_req(sig=VECTOR_SIG[:-1] + "1"), _req(sig="sha1=" + VECTOR_SIG), _req(body=VECTOR_BODY + b" "),
                                 make_request({"content-type": "application/json"}, VECTOR_BODY)])
def test_bad_signatures(req):
    with pytest.raises(AuthenticationFailed):
        segment.verify(req, [VECTOR_SECRET], [], SRC, NOW)


def test_rotation_and_missing_secret():
    segment.verify(_req(), ["old", VECTOR_SECRET], [], SRC, NOW)
    with pytest.raises(AuthenticationFailed):
        segment.verify(_req(), [], [], SRC, NOW)


def _first_event_signature(events, secret="k"):
    first = json.dumps(events[0], separators=(",", ":"), ensure_ascii=False).encode()
    return hmac.new(secret.encode(), first, hashlib.sha1).hexdigest()


def test_batch_signed_over_first_event_only():
    # segmentio/action-destinations webhook tests: the signature covers JSON.stringify(body[0])
    events = sample_json("segment.json")["batch"]
    sig = _first_event_signature(events)
    for body in (json.dumps({"batch": events}, indent=2).encode(), json.dumps(events).encode()):
        drafts = accept(SRC, _req(sig=sig, body=body), NOW, ["k"])
        assert len(drafts) == 4
    with pytest.raises(AuthenticationFailed):  # signature of another event does not pass
        segment.verify(_req(sig=_first_event_signature(events[1:]), body=json.dumps(events).encode()), ["k"], [], SRC, NOW)


def test_sample_round_trip():
    drafts = accept(SRC, signed(SRC, sample_bytes("segment.json"), NOW, ["k"]), NOW, ["k"])
    assert [d.delivery_id for d in drafts] == [f"ajs-7f3c1a9e-0{i}" for i in range(1, 5)]
    fb, page, group, ident = drafts
    assert fb.category == "feedback" and fb.text and fb.text.startswith("The new dashboard filters")
    assert fb.score == 2.0 and fb.title == "Feedback Submitted"
    assert fb.account_hint and fb.account_hint.id == "acc_hooli"
    assert fb.person and fb.person.email == "gavin@hooli.dev" and fb.person.id == "u-2231"
    assert page.category == "usage" and page.event_type == "page" and page.url.endswith("/pricing")
    assert group.category == "account" and group.account_update
    u = group.account_update
    assert (u.id, u.name, u.domain, u.plan) == ("acc_hooli", "Hooli Labs", "hooli.dev", "business")
    assert u.attributes["segment.employees"] == "420"
    assert ident.category == "account" and ident.account_update is None
    assert ident.person and ident.person.name == "Gavin Belson" and ident.account_hint.id == "acc_hooli"
    assert fb.occurred_at and fb.occurred_at.isoformat() == "2026-03-02T10:01:12+00:00"


def test_feedback_property_option_and_numeric_text_is_not_feedback():
    src = make_source("segment", options={"feedback_properties": ["note"]})
    body = json.dumps({"type": "track", "event": "NPS", "messageId": "x", "properties": {"note": "Love it", "comment": "ignored"}}).encode()
    [d] = accept(src, signed(src, body, NOW, ["k"]), NOW, ["k"])
    assert d.text == "Love it"
    body = json.dumps({"type": "track", "event": "NPS", "messageId": "y", "properties": {"comment": "9"}}).encode()
    [d] = accept(SRC, signed(SRC, body, NOW, ["k"]), NOW, ["k"])
    assert d.category == "usage"


def test_unusable_events():
    for body in (b"[]", b'{"batch": []}', b"[1]", b'{"event": "x"}', b'{"type": "group", "traits": {}}'):
        with pytest.raises(NormaliseError):
            accept(SRC, signed(SRC, body, NOW, ["k"]), NOW, ["k"])
    [d] = accept(SRC, signed(SRC, b'{"type": "alias", "messageId": "a"}', NOW, ["k"]), NOW, ["k"])
    assert d.category == "system"
