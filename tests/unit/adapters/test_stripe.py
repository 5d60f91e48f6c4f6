from __future__ import annotations

import json

import pytest

from services.ingest.adapters import stripe
from services.ingest.errors import AuthenticationFailed, NormaliseError

from . import accept, make_request, make_source, sample_bytes, sample_json, signed

pytestmark = pytest.mark.unit

SRC = make_source("stripe")
# webhook-formats.md §14 [V] (scheme of stripe/stripe-python stripe/_webhook.py, recomputed with Python's hmac)
VECTOR_SECRET = "whsec_test_secret"
VECTOR_T = 1700000000
VECTOR_BODY = b'{"id":"evt_test_webhook","object":"event"}'
VECTOR_V1 = "d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990"
NOW = 1_772_443_900.0


def _req(header=f"t={VECTOR_T},v1={VECTOR_V1}", body=VECTOR_BODY):
    return make_request({"content-type": "application/json", "stripe-signature": header}, body)


def test_vector():
    stripe.verify(_req(), [VECTOR_SECRET], [], SRC, VECTOR_T + 10)


def test_any_v1_matches_and_v0_ignored():
    stripe.verify(_req(f"t={VECTOR_T},v1={'0' * 64},v0=abc,v1={VECTOR_V1}"), [VECTOR_SECRET], [], SRC, VECTOR_T)


@pytest.mark.parametrize("skew", [-301, 301])
def test_tolerance(skew):
    with pytest.raises(AuthenticationFailed):
        stripe.verify(_req(), [VECTOR_SECRET], [], SRC, VECTOR_T - skew)


@pytest.mark.parametrize("header", [f"t={VECTOR_T},v1={VECTOR_V1[:-1]}1", f"v1={VECTOR_V1}", f"t={VECTOR_T}",
                                    f"t={VECTOR_T + 1},v1={VECTOR_V1}", f"t=abc,v1={VECTOR_V1}", ""])
def test_bad_signatures(header):
    with pytest.raises(AuthenticationFailed):
        stripe.verify(_req(header), [VECTOR_SECRET], [], SRC, VECTOR_T)


def test_secret_used_as_text_and_rotation():
    stripe.verify(_req(), ["whsec_old", VECTOR_SECRET], [], SRC, VECTOR_T)
    with pytest.raises(AuthenticationFailed):
        stripe.verify(_req(), [], [], SRC, VECTOR_T)


def test_sample_cancellation_round_trip():
    [d] = accept(SRC, signed(SRC, sample_bytes("stripe.json"), NOW, ["whsec_x"]), NOW, ["whsec_x"])
    assert (d.delivery_id, d.event_type, d.category) == ("evt_1SwBdCancel0001", "customer.subscription.deleted", "feedback")
    assert d.text and d.text.startswith("We only used the Slack integration") and "too expensive" in d.text
    assert d.attributes["intent_hint"] == "churn_risk" and d.attributes["cancellation_feedback"] == "too_expensive"
    assert d.account_hint and d.account_hint.id == "cus_SoylentFoods01"
    assert d.occurred_at and d.occurred_at.timestamp() == 1772444700


def test_cancellation_without_details_and_other_events():
    payload = sample_json("stripe.json")
    payload["data"]["object"]["cancellation_details"] = {"comment": None, "feedback": None, "reason": "payment_failed"}
    [d] = accept(SRC, signed(SRC, json.dumps(payload).encode(), NOW, ["k"]), NOW, ["k"])
    assert d.category == "system" and d.attributes["intent_hint"] == "churn_risk"
    upd = sample_json("stripe.json")
    upd["type"] = "customer.subscription.updated"
    upd["data"]["object"]["cancel_at_period_end"] = True
    upd["data"]["previous_attributes"] = {"cancel_at_period_end": False}
    [u] = accept(SRC, signed(SRC, json.dumps(upd).encode(), NOW, ["k"]), NOW, ["k"])
    assert u.category == "feedback"
    cust = {"id": "evt_2", "type": "customer.updated", "created": 1,
            "data": {"object": {"object": "customer", "id": "cus_1", "name": "Acme Retail", "email": "ap@acme.co"}}}
    [c] = accept(SRC, signed(SRC, json.dumps(cust).encode(), NOW, ["k"]), NOW, ["k"])
    assert c.category == "account" and c.account_update.id == "cus_1" and c.account_update.name == "Acme Retail"
    inv = {"id": "evt_3", "type": "invoice.paid", "data": {"object": {"customer": "cus_1"}}}
    [i] = accept(SRC, signed(SRC, json.dumps(inv).encode(), NOW, ["k"]), NOW, ["k"])
    assert i.category == "system" and i.account_hint.id == "cus_1"
    with pytest.raises(NormaliseError):
        accept(SRC, signed(SRC, b'{"id": "evt"}', NOW, ["k"]), NOW, ["k"])
