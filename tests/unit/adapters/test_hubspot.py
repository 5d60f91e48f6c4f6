from __future__ import annotations

import json

import pytest

from services.ingest.adapters import hubspot
from services.ingest.errors import AuthenticationFailed, NormaliseError

from . import accept, make_request, make_source, sample_bytes, signed

pytestmark = pytest.mark.unit

# HubSpot/hubspot-api-python tests/spec/utils/test_signature.py (webhook-formats.md §3)
SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
BODY = b"{'example_field':'example_value'}"
URI = "https://www.example.com/webhook_uri"
V1 = "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"
V2_POST = "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"
V2_GET_EMPTY = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
V3_TS = "15000000"
V3 = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
SRC = make_source("hubspot", public_url=URI)
V3_NOW = 15000.0 + 60


def _req(headers, body=BODY, method="POST", path="/webhooks/hubspot"):
    return make_request({"content-type": "application/json", **headers}, body, path, method)


def test_v1_vector():
    hubspot.verify(_req({"x-hubspot-signature": V1, "x-hubspot-signature-version": "v1"}), [SECRET], [], SRC, 0)
    hubspot.verify(_req({"x-hubspot-signature": V1}), [SECRET], [], SRC, 0)  # version header absent -> v1


def test_v2_vectors():
    hubspot.verify(_req({"x-hubspot-signature": V2_POST, "x-hubspot-signature-version": "v2"}), [SECRET], [], SRC, 0)
    get = _req({"x-hubspot-signature": V2_GET_EMPTY, "x-hubspot-signature-version": "v2"}, body=b"", method="GET")
    hubspot.verify(get, [SECRET], [], SRC, 0)


def test_v3_vector():
    req = _req({"x-hubspot-signature-v3": V3, "x-hubspot-request-timestamp": V3_TS})
    hubspot.verify(req, [SECRET], [], SRC, V3_NOW)


def test_v3_header_mangled_by_proxy():
    req = _req({"x-hubspot-signature-v3": V3.replace("+", " "), "x-hubspot-request-timestamp": V3_TS})
    hubspot.verify(req, [SECRET], [], SRC, V3_NOW)


@pytest.mark.parametrize("skew", [-301, 301])
def test_v3_timestamp_window(skew):
    req = _req({"x-hubspot-signature-v3": V3, "x-hubspot-request-timestamp": V3_TS})
    with pytest.raises(AuthenticationFailed):
        hubspot.verify(req, [SECRET], [], SRC, 15000.0 + skew)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-hubspot-signature": V1.replace("6", "7", 1)},
        {"x-hubspot-signature": V2_POST, "x-hubspot-signature-version": "v1"},
        {"x-hubspot-signature": V1, "x-hubspot-signature-version": "v9"},
        {"x-hubspot-signature-v3": V3},
        {"x-hubspot-signature-v3": V3, "x-hubspot-request-timestamp": "15000001"},
        {"x-hubspot-signature-v3": "!!", "x-hubspot-request-timestamp": V3_TS},
        {},
    ],
)
def test_bad_signatures(headers):
    with pytest.raises(AuthenticationFailed):
        hubspot.verify(_req(headers), [SECRET], [], SRC, V3_NOW)


def test_v3_uri_must_match_public_url():
    other = make_source("hubspot", public_url="https://www.example.com/other")
    req = _req({"x-hubspot-signature-v3": V3, "x-hubspot-request-timestamp": V3_TS})
    with pytest.raises(AuthenticationFailed):
        hubspot.verify(req, [SECRET], [], other, V3_NOW)


def test_v3_without_public_url_uses_host_header():
    src = make_source("hubspot")
    req = _req({"x-hubspot-signature-v3": V3, "x-hubspot-request-timestamp": V3_TS, "host": "www.example.com"},
               path="/webhook_uri")
    hubspot.verify(req, [SECRET], [], src, V3_NOW)


def test_rotation_and_missing_secret():
    hubspot.verify(_req({"x-hubspot-signature": V1}), ["old", SECRET], [], SRC, 0)
    with pytest.raises(AuthenticationFailed):
        hubspot.verify(_req({"x-hubspot-signature": V1}), [], [], SRC, 0)


NOW = 1_772_443_900.0


def test_sample_round_trip_v3_with_query():
    src = make_source("hubspot", public_url="https://sb.example.com/webhooks/hubspot?portal=12345678")
    req = signed(src, sample_bytes("hubspot.json"), NOW, ["client-secret"])
    assert "x-hubspot-signature-v3" in req.headers and req.path.endswith("?portal=12345678")
    drafts = accept(src, req, NOW, ["older-secret", "client-secret"])
    assert len(drafts) == 3
    assert len({d.delivery_id for d in drafts}) == 3
    arr, domain, contact = drafts
    assert arr.delivery_id == "1847201001"
    assert arr.category == "account" and arr.account_update and arr.account_update.arr == 310000.0
    assert arr.account_update.id == "9921004401"
    assert domain.account_update and domain.account_update.domain == "northwind.com"
    assert contact.category == "account" and contact.account_update is None and contact.person
    assert arr.occurred_at and arr.occurred_at.microsecond == 123000


def test_public_url_query_appended_from_request():
    src = make_source("hubspot", public_url="https://sb.example.com/webhooks/hubspot")
    body = sample_bytes("hubspot.json")
    import base64, hashlib, hmac  # noqa: E401

    ts = str(int(NOW * 1000))
    uri = "https://sb.example.com/webhooks/hubspot?a=1&b=2"
    sig = base64.b64encode(hmac.new(b"k", b"POST" + uri.encode() + body + ts.encode(), hashlib.sha256).digest()).decode()
    req = make_request({"content-type": "application/json", "x-hubspot-signature-v3": sig,
                        "x-hubspot-request-timestamp": ts}, body, "/webhooks/hubspot?a=1&b=2")
    hubspot.verify(req, ["k"], [], src, NOW)


def test_v1_round_trip_without_public_url():
    src = make_source("hubspot")
    req = signed(src, sample_bytes("hubspot.json"), NOW, ["k"])
    assert req.headers["x-hubspot-signature-version"] == "v1"
    assert len(accept(src, req, NOW, ["k"])) == 3


def test_property_mapping_from_options():
    src = make_source("hubspot", options={"arr_property": "arr_usd", "plan_property": "tier", "owner_property": "csm"})
    events = [
        {"eventId": 1, "subscriptionType": "company.propertyChange", "objectId": 7, "propertyName": "arr_usd", "propertyValue": "1,200"},
        {"eventId": 2, "subscriptionType": "company.propertyChange", "objectId": 7, "propertyName": "tier", "propertyValue": "gold"},
        {"eventId": 3, "subscriptionType": "company.propertyChange", "objectId": 7, "propertyName": "csm", "propertyValue": "dana"},
        {"eventId": 4, "subscriptionType": "company.propertyChange", "objectId": 7, "propertyName": "annualrevenue", "propertyValue": "5"},
        {"eventId": 5, "subscriptionType": "object.propertyChange", "objectTypeId": "0-2", "objectId": 8, "propertyName": "name", "propertyValue": "Acme"},
        {"eventId": 6, "subscriptionType": "ticket.creation", "objectId": 9},
    ]
    req = signed(src, json.dumps(events).encode(), NOW, ["k"])
    d = accept(src, req, NOW, ["k"])
    assert d[0].account_update.arr == 1200.0
    assert d[1].account_update.plan == "gold"
    assert d[2].account_update.owner == "dana"
    assert d[3].account_update.arr is None and d[3].account_update.attributes == {"hubspot.annualrevenue": "5"}
    assert d[4].account_update.name == "Acme"
    assert d[5].category == "system"


def test_not_an_event_list():
    for body in (b"[]", b"[1]", b'"x"', b'[{"eventId": 1}]'):
        req = signed(make_source("hubspot"), body, NOW, ["k"])
        with pytest.raises(NormaliseError):
            accept(make_source("hubspot"), req, NOW, ["k"])
