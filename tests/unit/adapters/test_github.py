from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from services.ingest.adapters import github
from services.ingest.errors import AuthenticationFailed, MalformedBody, NormaliseError

from . import accept, make_request, make_source, sample_bytes, sample_json, signed

pytestmark = pytest.mark.unit

SRC = make_source("github")
NOW = 1_772_443_900.0
# docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries ("Testing the webhook payload validation")
DOC_SECRET = "It's a Secret to Everybody"
DOC_BODY = b"Hello, World!"
DOC_SIG = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def _req(sig=DOC_SIG, body=DOC_BODY):
    return make_request({"content-type": "application/json", "x-hub-signature-256": sig}, body)


def test_doc_vector():
    github.verify(_req(), [DOC_SECRET], [], SRC, NOW)


@pytest.mark.parametrize("req", [_req(sig=DOC_SIG[:-1] + "8"), _req(sig=DOC_SIG[7:]), _req(body=b"Hello, World"),
                                 make_request({"content-type": "application/json", "x-hub-signature": "sha1=00"}, DOC_BODY)])
def test_bad_signatures(req):
    with pytest.raises(AuthenticationFailed):
        github.verify(req, [DOC_SECRET], [], SRC, NOW)


def test_rotation_and_missing_secret():
    github.verify(_req(), ["old", DOC_SECRET], [], SRC, NOW)
    with pytest.raises(AuthenticationFailed):
        github.verify(_req(), [], [], SRC, NOW)


def test_sample_issue_opened_round_trip():
    req = signed(SRC, sample_bytes("github.json"), NOW, ["k"], delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert req.headers["x-github-event"] == "issues"
    [d] = accept(SRC, req, NOW, ["k"])
    assert (d.delivery_id, d.event_type, d.category) == ("72d3162e-cc78-11e3-81ab-4c9367dc0958", "issues.opened", "feedback")
    assert d.title.startswith("Python SDK") and "Retry-After" in d.text
    assert d.url == "https://github.com/switchboard-demo/python-sdk/issues/318"
    assert d.person and d.person.id == "tyrell-dev"
    assert d.attributes["labels"] == ["bug", "sdk"] and d.attributes["repository"] == "switchboard-demo/python-sdk"


def test_form_encoded_delivery():
    body = urlencode({"payload": sample_bytes("github.json").decode()}).encode()
    req = signed(SRC, body, NOW, ["k"])
    assert req.content_type == "application/x-www-form-urlencoded"
    req = make_request(dict(req.headers, **{"x-github-event": "issues"}), req.body)
    [d] = accept(SRC, req, NOW, ["k"])
    assert d.event_type == "issues.opened" and d.category == "feedback"
    with pytest.raises(MalformedBody):
        github.decode(make_request({"content-type": "application/x-www-form-urlencoded"}, b"x=1"))


def test_comment_ping_and_other_actions():
    payload = sample_json("github.json")
    payload.update(action="created", comment={"body": "Same here on 2.3.1", "html_url": "https://github.com/o/r/issues/318#c1",
                                              "user": {"login": "hooli-ops"}})
    [c] = accept(SRC, signed(SRC, json.dumps(payload).encode(), NOW, ["k"]), NOW, ["k"])
    assert (c.event_type, c.text, c.person.id) == ("issue_comment.created", "Same here on 2.3.1", "hooli-ops")
    [p] = accept(SRC, signed(SRC, b'{"zen": "Keep it logically awesome.", "hook_id": 1}', NOW, ["k"]), NOW, ["k"])
    assert (p.event_type, p.category) == ("ping", "system")
    closed = dict(sample_json("github.json"), action="closed")
    [x] = accept(SRC, signed(SRC, json.dumps(closed).encode(), NOW, ["k"]), NOW, ["k"])
    assert (x.event_type, x.category) == ("issues.closed", "system")
    with pytest.raises(NormaliseError):
        accept(SRC, signed(SRC, b"[]", NOW, ["k"]), NOW, ["k"])
