from __future__ import annotations

import json

import pytest

from services.ingest.adapters import jira
from services.ingest.errors import AuthenticationFailed, NormaliseError

from . import accept, make_request, make_source, sample_bytes, sample_json, signed

pytestmark = pytest.mark.unit

SRC = make_source("jira")
NOW = 1_772_443_900.0
# webhook-formats.md §11 [V]: HMAC-SHA256 hex over the raw body, recomputed with Python's hmac
VECTOR_SECRET = "jira_secret"
VECTOR_BODY = b'{"webhookEvent":"jira:issue_created","timestamp":1700000000000}'
VECTOR_SIG = "sha256=7fa9d4cfc67d745c0a818a658b8b55faf55674c0b6d883ebbcd9459ed0e929ca"


def _req(sig=VECTOR_SIG, body=VECTOR_BODY, extra=None):
    return make_request({"content-type": "application/json", "x-hub-signature": sig, **(extra or {})}, body)


def test_vector():
    jira.verify(_req(), [VECTOR_SECRET], [], SRC, NOW)


@pytest.mark.parametrize("req", [_req(sig=VECTOR_SIG[:-1] + "b"), _req(sig=VECTOR_SIG.split("=")[1]),
                                 _req(sig="sha1=" + VECTOR_SIG.split("=")[1]), _req(body=b"{}"),
                                 make_request({"content-type": "application/json"}, VECTOR_BODY)])
def test_bad_signatures(req):
    with pytest.raises(AuthenticationFailed):
        jira.verify(req, [VECTOR_SECRET], [], SRC, NOW)


def test_rotation_and_missing_secret():
    jira.verify(_req(), ["old", VECTOR_SECRET], [], SRC, NOW)
    with pytest.raises(AuthenticationFailed):
        jira.verify(_req(), [], [], SRC, NOW)


def test_sample_comment_round_trip():
    req = signed(SRC, sample_bytes("jira.json"), NOW, ["k"], delivery_id="b7c1e0c2-1111-4a2b-9c3d-000000000001")
    [d] = accept(SRC, req, NOW, ["k"])
    assert d.delivery_id == "b7c1e0c2-1111-4a2b-9c3d-000000000001"
    assert (d.category, d.event_type) == ("feedback", "comment_created")
    assert d.title == "Webhook retries flood our endpoint after an outage"
    assert d.text and d.text.startswith("This happened again last night")
    assert d.url == "https://switchboard-demo.atlassian.net/browse/SUP-12"
    assert d.person and d.person.email == "sam.carter@vandelay.com"
    assert d.attributes["project"] == "SUP" and d.attributes["issue_key"] == "SUP-12"
    assert d.occurred_at and d.occurred_at.year == 2026


def test_issue_created_with_adf_description_and_hash_delivery_id():
    payload = sample_json("jira.json")
    payload["webhookEvent"] = "jira:issue_created"
    payload.pop("comment")
    payload["issue"]["fields"]["description"] = {
        "type": "doc", "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Retries "}, {"type": "text", "text": "flood us"}]},
                    {"type": "paragraph", "content": [{"type": "text", "text": "Please add jitter"}]}],
    }
    body = json.dumps(payload).encode()
    [d] = accept(SRC, signed(SRC, body, NOW, ["k"]), NOW, ["k"])
    assert d.text == "Retries flood us\nPlease add jitter"
    [again] = accept(SRC, signed(SRC, body, NOW, ["k"]), NOW, ["k"])
    assert d.delivery_id == again.delivery_id  # no identifier header: hash of the body


def test_other_events_are_system_and_garbage_is_normalise_error():
    [d] = accept(SRC, signed(SRC, b'{"webhookEvent": "worklog_created"}', NOW, ["k"]), NOW, ["k"])
    assert d.category == "system"
    for body in (b"[]", b'{"issue": {}}'):
        with pytest.raises(NormaliseError):
            accept(SRC, signed(SRC, body, NOW, ["k"]), NOW, ["k"])
