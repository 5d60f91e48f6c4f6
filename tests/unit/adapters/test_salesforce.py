from __future__ import annotations

import pytest

from services.ingest.adapters import salesforce
from services.ingest.errors import AuthenticationFailed, Forbidden, MalformedBody, NormaliseError

from . import accept, make_request, make_source, sample_bytes, signed

pytestmark = pytest.mark.unit

ORG = "00D5e000001SwBdEAK"
SRC = make_source("salesforce", secrets=[], organization_id=ORG)
NOW = 1_772_443_900.0


def _req(body: bytes, path="/webhooks/salesforce", ct="text/xml; charset=utf-8"):
    return make_request({"content-type": ct, "soapaction": '""'}, body, path)


def _message(inner: str, org: str = ORG) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        f'<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{org}</OrganizationId>'
        "<ActionId>04k000000000001</ActionId><EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/60.0</EnterpriseUrl>"
        f"{inner}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def _case(n: int) -> str:
    return (
        f'<Notification><Id>04l00000000000{n:02d}</Id><sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>500000000000{n:03d}</sf:Id><sf:AccountId>001000000000001</sf:AccountId>"
        f"<sf:Subject>Case {n}</sf:Subject><sf:Description>Export fails &amp; times out</sf:Description></sObject></Notification>"
    )


def test_sample_verifies_and_splits():
    req = signed(SRC, sample_bytes("salesforce.xml"), NOW)
    assert req.content_type == "text/xml"
    drafts = accept(SRC, req, NOW)
    assert [d.delivery_id for d in drafts] == ["04l5e00000Tq1a1AAB", "04l5e00000Tq1a2AAB"]
    case, account = drafts
    assert case.category == "feedback" and case.event_type == "case.outbound_message"
    assert case.title == "Route optimisation ignores delivery time windows"
    assert case.text and "Rotterdam" in case.text
    assert case.url == "https://switchboard-demo.my.salesforce.com/5005e00000Kx7QzAAJ"
    assert case.account_hint and case.account_hint.external_id == "0015e00000NWND01"
    assert case.person and case.person.email == "henk.devries@northwind.com" and case.person.id == "0035e00000Ab1CdAAF"
    assert case.occurred_at and case.occurred_at.isoformat() == "2026-03-02T08:15:12+00:00"
    assert case.raw["sObject"]["Subject"].startswith("Route")
    u = account.account_update
    assert account.category == "account" and u
    assert (u.id, u.name, u.domain, u.arr, u.plan, u.owner) == (
        "0015e00000STRK07", "Stark Manufacturing", "starkmfg.com", 210000.0, "enterprise", "0055e00000Dana01")
    assert u.attributes["salesforce.Industry"] == "Manufacturing"


def test_fifteen_char_org_id_config_matches():
    salesforce.verify(_req(sample_bytes("salesforce.xml")), [], [], make_source("salesforce", organization_id=ORG[:15]), NOW)


def test_wrong_org_is_forbidden():
    with pytest.raises(Forbidden):
        salesforce.verify(_req(_message(_case(1), org="00D000000000BAD")), [], [], SRC, NOW)


def test_missing_config_or_org_is_unauthenticated():
    with pytest.raises(AuthenticationFailed):
        salesforce.verify(_req(sample_bytes("salesforce.xml")), [], [], make_source("salesforce"), NOW)
    with pytest.raises(AuthenticationFailed):
        salesforce.verify(_req(b"<notifications/>"), [], [], SRC, NOW)
    with pytest.raises(AuthenticationFailed):
        salesforce.verify(_req(b"not xml"), [], [], SRC, NOW)


def test_optional_url_token():
    src = make_source("salesforce", organization_id=ORG, tokens=["SF_TOKEN"])
    body = sample_bytes("salesforce.xml")
    salesforce.verify(_req(body, "/webhooks/salesforce?token=t0k"), [], ["other", "t0k"], src, NOW)
    with pytest.raises(AuthenticationFailed):
        salesforce.verify(_req(body), [], ["t0k"], src, NOW)


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<notifications><OrganizationId>&lol2;</OrganizationId></notifications>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><notifications><OrganizationId>&e;</OrganizationId></notifications>"""


@pytest.mark.parametrize("body", [BOMB, XXE])
def test_entities_and_dtds_refused(body):
    with pytest.raises(AuthenticationFailed):
        salesforce.verify(_req(body), [], [], SRC, NOW)
    with pytest.raises(MalformedBody):
        salesforce.decode(_req(body))


def test_deep_nesting_refused():
    deep = b"<a>" * 70 + b"</a>" * 70
    with pytest.raises(MalformedBody):
        salesforce.decode(_req(deep))


def test_hundred_notifications():
    body = _message("".join(_case(n) for n in range(100)))
    drafts = accept(SRC, _req(body), NOW)
    assert len(drafts) == 100 and len({d.delivery_id for d in drafts}) == 100
    assert drafts[0].text == "Export fails & times out"


def test_other_objects_and_empty_message():
    lead = '<Notification><Id>04l1</Id><sObject xsi:type="sf:Opportunity" xmlns:sf="urn:x"><sf:Id>006</sf:Id></sObject></Notification>'
    [d] = accept(SRC, _req(_message(lead)), NOW)
    assert d.category == "system"
    with pytest.raises(NormaliseError):
        accept(SRC, _req(_message("")), NOW)
    with pytest.raises(MalformedBody):
        salesforce.decode(_req(b"<x/>"))


def test_soap_ack():
    r = salesforce.acknowledge(["a", "b"])
    assert r.status == 200 and r.media_type == "text/xml"
    assert b"<Ack>true</Ack>" in r.body and b'xmlns="http://soap.sforce.com/2005/09/outbound"' in r.body
    assert b"<soapenv:Envelope" in r.body and b"notificationsResponse" in r.body
    assert r.headers["X-Switchboard-Ids"] == "a,b" and r.headers["X-Switchboard-Accepted"] == "2"


def test_soap12_content_type_accepted():
    assert "application/soap+xml" in salesforce.content_types
