from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest

from services.ingest.adapters import freshdesk
from services.ingest.errors import AuthenticationFailed, NormaliseError

from . import accept, make_request, make_source, sample_bytes, sample_json, signed

pytestmark = pytest.mark.unit

SRC = make_source("freshdesk", secrets=[], tokens=["FRESHDESK_TOKEN"])
NOW = 1_772_443_900.0
TOKEN = "fd-demo-token"
BODY = sample_bytes("freshdesk.json")


def _basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _req(headers=None, path="/webhooks/freshdesk"):
    return make_request({"content-type": "application/json", **(headers or {})}, BODY, path)


@pytest.mark.parametrize("req", [_req({"authorization": f"Bearer {TOKEN}"}), _req(path=f"/webhooks/freshdesk?token={TOKEN}"),
                                 _req({"authorization": _basic("switchboard", TOKEN)}), _req({"authorization": _basic(TOKEN, "X")})])
def test_token_accepted(req):
    freshdesk.verify(req, [], [TOKEN], SRC, NOW)


@pytest.mark.parametrize("req", [_req(), _req({"authorization": "Bearer nope"}), _req({"authorization": _basic("a", "b")}),
                                 _req({"authorization": "Basic !!notbase64"})])
def test_token_refused(req):
    with pytest.raises(AuthenticationFailed):
        freshdesk.verify(req, [], [TOKEN], SRC, NOW)


def test_rotation_and_missing_config():
    freshdesk.verify(_req({"authorization": f"Bearer {TOKEN}"}), [], ["old", TOKEN], SRC, NOW)
    with pytest.raises(AuthenticationFailed):
        freshdesk.verify(_req({"authorization": f"Bearer {TOKEN}"}), [], [], SRC, NOW)


def test_sample_round_trip_and_stable_delivery_id():
    [d] = accept(SRC, signed(SRC, BODY, NOW, tokens=[TOKEN]), NOW, tokens=[TOKEN])
    assert d.category == "feedback" and d.title == "SAML login loops back to the sign-in page"
    assert d.text and d.text.startswith("Hi, since this morning") and d.html and d.html.startswith("<div>")
    assert d.person and d.person.email == "it-admin@tyrellbio.com"
    assert d.account_hint and d.account_hint.name == "Tyrell Bio"
    assert d.url == "https://tyrellbio-help.freshdesk.com/a/tickets/8812"
    [again] = accept(SRC, signed(SRC, BODY, NOW + 1800, tokens=[TOKEN]), NOW + 1800, tokens=[TOKEN])
    assert again.delivery_id == d.delivery_id  # Freshdesk's retry of the same request dedups
    changed = dict(sample_json("freshdesk.json"), text="New comment", updated_at="2026-03-02T10:00:00Z")
    [other] = accept(SRC, signed(SRC, json.dumps(changed).encode(), NOW, tokens=[TOKEN]), NOW, tokens=[TOKEN])
    assert other.delivery_id != d.delivery_id


def test_classic_wrapper_and_form_bodies():
    classic = {"freshdesk_webhook": {"ticket_id": 5, "ticket_subject": "Refund", "ticket_description": "<p>Charged twice</p>",
                                     "ticket_contact_email": "a@acme.co", "ticket_url": "acme.freshdesk.com/helpdesk/tickets/5"}}
    [d] = accept(SRC, signed(SRC, json.dumps(classic).encode(), NOW, tokens=[TOKEN]), NOW, tokens=[TOKEN])
    assert (d.text, d.person.email, d.url) == ("Charged twice", "a@acme.co", "https://acme.freshdesk.com/helpdesk/tickets/5")
    form = urlencode({"ticket_id": "6", "subject": "Dark mode", "text": "Please add dark mode"}).encode()
    req = make_request({"content-type": "application/x-www-form-urlencoded", "authorization": f"Bearer {TOKEN}"}, form)
    [f] = accept(SRC, req, NOW, tokens=[TOKEN])
    assert f.text == "Please add dark mode"
    with pytest.raises(NormaliseError):
        accept(SRC, signed(SRC, b'{"ticket_id": 1}', NOW, tokens=[TOKEN]), NOW, tokens=[TOKEN])
