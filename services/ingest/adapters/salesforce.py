"""Salesforce Outbound Messages (SOAP, workflow/flow "Outbound Message" action).

Salesforce does not sign outbound messages. We accept a message only when its `OrganizationId` equals
the source's `organization_id` (15- or 18-character form), read from the body with defusedxml
(no DTDs/entities) inside `verify`. Wrong org -> 403; missing config or unreadable org id -> 401.
For more assurance: also configure `tokens` and add `?token=<value>` to the endpoint URL of the
outbound message (then the token is required too), allow-list Salesforce's IP ranges, or terminate
mutual TLS with Salesforce's client certificate in front of Switchboard.

Each `<Notification>` (up to 100 per message) becomes one item; delivery id = the Notification `Id`
(Salesforce retries for 24 h and may deliver duplicates and out of order).
- `Case` (and any object carrying Subject/Description/CommentBody) -> `feedback`: Subject as title,
  Description (or CommentBody) as text, `AccountId` as account hint, `ContactId`/`SuppliedEmail` as
  person, url = the org's host (from EnterpriseUrl/PartnerUrl) + "/" + record Id.
- `Account` -> `account` with an AccountUpdate: Id, Name, Website -> domain, AnnualRevenue -> arr,
  Type -> plan, OwnerId -> owner (override with options `name_field`, `domain_field`, `arr_field`,
  `plan_field`, `owner_field`); other sent fields land in the update's attributes.
- anything else -> `system`.
The reply is the SOAP acknowledgement Salesforce requires (otherwise it keeps retrying).
"""

from __future__ import annotations

import hmac
from typing import Any, Sequence
from urllib.parse import urlsplit

from schemas.item import AccountRef, AccountUpdate, Person
from services.config.models import SourceConfig
from services.ingest.adapters.base import Draft, InboundRequest, Reply
from services.ingest.adapters.fields import as_dict, as_float, as_list, as_str, domain_of, iso_utc, stable_hash
from services.ingest.adapters.tokens import verify_token
from services.ingest.errors import AuthenticationFailed, Forbidden, MalformedBody, NormaliseError
from services.ingest.text import html_to_text
from services.ingest.xml import XSI, find_local, local, parse_xml, to_value

kind = "salesforce"
content_types = frozenset({"text/xml", "application/soap+xml"})
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body>"
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
).encode()
DEFAULT_FIELDS = {"name": "Name", "domain": "Website", "arr": "AnnualRevenue", "plan": "Type", "owner": "OwnerId"}
TEXT_FIELDS = ("Description", "CommentBody", "Body", "Comments__c", "Feedback__c")


def _org_matches(sent: str, configured: str) -> bool:
    """Constant-time compare; a 15-character configured id matches the 18-character id Salesforce sends."""
    a = sent.encode("utf-8")
    ok = hmac.compare_digest(a, configured.encode("utf-8"))
    if len(configured) == 15:
        ok |= hmac.compare_digest(a[:15], configured.encode("utf-8"))
    return ok


def verify(
    request: InboundRequest, secrets: Sequence[str], tokens: Sequence[str], source: SourceConfig, now: float
) -> None:
    configured = (source.organization_id or "").strip()
    if not configured:
        raise AuthenticationFailed("no organization_id is configured for this Salesforce source")
    if tokens:
        verify_token(request, tokens)
    try:
        root = parse_xml(request.body)
    except MalformedBody as exc:
        raise AuthenticationFailed(f"cannot read the OrganizationId: {exc.message}") from None
    org_el = find_local(root, "OrganizationId")
    sent = (org_el.text or "").strip() if org_el is not None else ""
    if not sent:
        raise AuthenticationFailed("outbound message without OrganizationId")
    if not _org_matches(sent, configured):
        raise Forbidden("outbound message from another Salesforce organization")


def decode(request: InboundRequest) -> Any:
    """{"OrganizationId", "ActionId", "EnterpriseUrl", "PartnerUrl", "Notifications": [{"Id", "sObject": {...}}]}"""
    root = parse_xml(request.body)
    notifications_el = find_local(root, "notifications")
    if notifications_el is None:
        raise MalformedBody("not a Salesforce outbound message (no <notifications>)")
    out: dict[str, Any] = {"Notifications": []}
    for child in notifications_el:
        name = local(child.tag)
        if name == "Notification":
            note: dict[str, Any] = {}
            for part in child:
                pname = local(part.tag)
                if pname == "sObject":
                    obj = to_value(part)
                    obj = obj if isinstance(obj, dict) else {}
                    xsi_type = part.get(XSI + "type") or ""
                    obj = {"type": xsi_type.rsplit(":", 1)[-1], **obj}
                    note["sObject"] = obj
                elif pname:
                    note[pname] = to_value(part)
            out["Notifications"].append(note)
        elif name:
            out[name] = to_value(child)
    return out


def reply(payload: Any, request: InboundRequest) -> Reply | None:
    return None


def _host(payload: dict[str, Any]) -> str | None:
    for key in ("EnterpriseUrl", "PartnerUrl"):
        url = as_str(payload.get(key))
        if url:
            try:
                parts = urlsplit(url)
            except ValueError:
                continue
            if parts.scheme in ("http", "https") and parts.netloc:
                return f"{parts.scheme}://{parts.netloc}"
    return None


def _account(base: dict[str, Any], obj: dict[str, Any], record_id: str, source: SourceConfig) -> Draft:
    mapping = dict(DEFAULT_FIELDS)
    for field in mapping:
        value = as_str(source.options.get(f"{field}_field"))
        if value:
            mapping[field] = value
    used = set(mapping.values()) | {"type", "Id"}
    update = AccountUpdate(
        id=record_id,
        name=as_str(obj.get(mapping["name"])),
        domain=domain_of(obj.get(mapping["domain"])),
        arr=as_float(obj.get(mapping["arr"])),
        plan=as_str(obj.get(mapping["plan"])),
        owner=as_str(obj.get(mapping["owner"])),
        attributes={f"salesforce.{k}": v for k, v in ((k, as_str(v)) for k, v in obj.items() if k not in used) if v},
    )
    return Draft(
        **base, category="account", account_update=update, account_hint=AccountRef(id=record_id, external_id=record_id)
    )


def _notification(note: Any, index: int, payload: dict[str, Any], request: InboundRequest, source: SourceConfig) -> Draft:
    note = as_dict(note)
    obj = as_dict(note.get("sObject"))
    sobject = as_str(obj.get("type")) or "sObject"
    record_id = as_str(obj.get("Id"))
    attributes = {
        k: v
        for k, v in {
            "sobject": sobject,
            "record_id": record_id,
            "action_id": as_str(payload.get("ActionId")),
            "organization_id": as_str(payload.get("OrganizationId")),
        }.items()
        if v
    }
    base: dict[str, Any] = {
        "delivery_id": as_str(note.get("Id")) or stable_hash(request.body, index),
        "event_type": f"{sobject.lower()}.outbound_message",
        "occurred_at": iso_utc(obj.get("LastModifiedDate")) or iso_utc(obj.get("CreatedDate")),
        "attributes": attributes,
        "raw": {"OrganizationId": payload.get("OrganizationId"), "ActionId": payload.get("ActionId"), **note},
    }
    if sobject == "Account" and record_id:
        return _account(base, obj, record_id, source)
    subject = as_str(obj.get("Subject"))
    body = next((v for v in (as_str(obj.get(f)) for f in TEXT_FIELDS) if v), None)
    if not (subject or body):
        return Draft(**base, category="system")
    text, html = html_to_text(body) if body else (subject or "", None)
    host = _host(payload)
    account_id = as_str(obj.get("AccountId"))
    contact = as_str(obj.get("ContactId"))
    email = as_str(obj.get("SuppliedEmail")) or as_str(obj.get("ContactEmail"))
    name = as_str(obj.get("SuppliedName"))
    return Draft(
        **base,
        title=subject,
        text=text or subject,
        html=html,
        url=f"{host}/{record_id}" if host and record_id else None,
        person=Person(id=contact, email=email, name=name) if (contact or email or name) else None,
        account_hint=AccountRef(id=account_id, external_id=account_id, name=as_str(obj.get("SuppliedCompany")))
        if account_id
        else None,
    )


def normalise(payload: Any, request: InboundRequest, source: SourceConfig) -> list[Draft]:
    if not isinstance(payload, dict):
        raise NormaliseError("not a decoded outbound message")
    notes = as_list(payload.get("Notifications"))
    if not notes:
        raise NormaliseError("outbound message without Notification elements")
    return [_notification(n, i, payload, request, source) for i, n in enumerate(notes)]


def acknowledge(ids: Sequence[str]) -> Reply:
    # Salesforce reads only the SOAP body; the ids ride along in headers for tools (`switchboard demo`, curl).
    return Reply(200, ACK, media_type="text/xml", headers={"X-Switchboard-Accepted": str(len(ids)),
                                                           "X-Switchboard-Ids": ",".join(ids)})
