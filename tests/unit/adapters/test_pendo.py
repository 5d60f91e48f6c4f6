from __future__ import annotations

import base64
import json

import pytest

from services.ingest.adapters import pendo
from services.ingest.errors import AuthenticationFailed, NormaliseError

from . import accept, make_request, make_source, sample_bytes, signed

pytestmark = pytest.mark.unit

SRC = make_source("pendo", secrets=[], tokens=["PENDO_TOKEN"])
NOW = 1_772_443_900.0
TOKEN = "pendo-demo-token"
BODY = sample_bytes("pendo.json")


def _req(headers=None, path="/webhooks/pendo"):
    return make_request({"content-type": "application/json", **(headers or {})}, BODY, path)


@pytest.mark.parametrize(
    "req",
    [
        _req({"authorization": f"Bearer {TOKEN}"}),
        _req({"authorization": TOKEN}),
        _req(path=f"/webhooks/pendo?token={TOKEN}"),
        _req({"x-switchboard-token": TOKEN}),
    ],
)
def test_token_accepted(req):
    pendo.verify(req, [], [TOKEN], SRC, NOW)


@pytest.mark.parametrize(
    "req",
    [
        _req(),
        _req({"authorization": "Bearer wrong"}),
        _req(path="/webhooks/pendo?token=wrong"),
        _req({"authorization": "Basic " + base64.b64encode(f"user:{TOKEN}".encode()).decode()}),  # no Basic for Pendo
    ],
)
def test_token_refused(req):
    with pytest.raises(AuthenticationFailed):
        pendo.verify(req, [], [TOKEN], SRC, NOW)


def test_rotation_and_missing_config():
    pendo.verify(_req({"authorization": f"Bearer {TOKEN}"}), [], ["old", TOKEN], SRC, NOW)
    with pytest.raises(AuthenticationFailed):
        pendo.verify(_req({"authorization": f"Bearer {TOKEN}"}), [], [], SRC, NOW)


def test_sample_round_trip():
    [d] = accept(SRC, signed(SRC, BODY, NOW, tokens=[TOKEN]), NOW, tokens=[TOKEN])
    assert d.delivery_id == "f9610795-8d0b-4c2e-9a51-6c1e2f3a4b5c"
    assert (d.category, d.event_type, d.score) == ("feedback", "npsSubmitted", 4.0)
    assert d.text and "PDF export" in d.text
    assert d.account_hint and d.account_hint.id == "acc_umbrella"
    assert d.person and d.person.email == "nurse.jackie@umbrellahealth.org"
    assert d.occurred_at and d.occurred_at.year == 2026


def test_score_without_text_is_usage_and_arrays_split():
    events = [
        {"event": "npsSubmitted", "uniqueId": "a", "timestamp": 1772443900000, "properties": {"score": 9}},
        {"event": "guideSeen", "uniqueId": "b", "accountId": "acc_x"},
        {"event": "pollSubmitted", "uniqueId": "c", "properties": {"pollResponse": "Export to Sheets please"}},
    ]
    req = signed(SRC, json.dumps(events).encode(), NOW, tokens=[TOKEN])
    a, b, c = accept(SRC, req, NOW, tokens=[TOKEN])
    assert (a.category, a.score, a.occurred_at.year) == ("usage", 9.0, 2026)  # ms timestamp detected
    assert b.category == "usage"
    assert (c.category, c.text, c.score) == ("feedback", "Export to Sheets please", None)


def test_unusable():
    for body in (b"[]", b'{"foo": 1}', b"3"):
        with pytest.raises(NormaliseError):
            accept(SRC, signed(SRC, body, NOW, tokens=[TOKEN]), NOW, tokens=[TOKEN])
