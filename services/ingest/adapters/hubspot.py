"""HubSpot app webhooks (developers.hubspot.com/docs/api/webhooks/validating-requests).

Signatures, all with the app's client secret (`secrets`), tried in this order:
- v3: `X-HubSpot-Signature-v3` = base64(HMAC-SHA256(secret, method + uri + body + timestamp)) with
  `X-HubSpot-Request-Timestamp` in **milliseconds**, accepted within ±300 s (HubSpot's SDK checks only
  the past; we also refuse the far future).
- v2: `X-HubSpot-Signature` (+ `X-HubSpot-Signature-Version: v2`) = hex SHA-256 of secret + method + uri + body.
- v1: `X-HubSpot-Signature` (version v1 or absent) = hex SHA-256 of secret + body.
v1/v2 sign no timestamp: a captured request can be replayed (dedup on `eventId` makes that harmless).
The `uri` is `public_url` from sources.yaml — the exact URL configured in HubSpot — plus the query string
of the request when `public_url` has none. Without `public_url` we fall back to
`https://<Host header><path>` (and http://), which breaks behind proxies that rewrite the host: set it.
A `%xx`-decoded variant of the uri is also accepted (HubSpot's v3 docs ask for decoding some characters),
and spaces in the v3 header are read as `+` (some proxies mangle it).

Body: a JSON array of events; one item per event, delivery id = `eventId`.
- `company.*` -> `account` with an AccountUpdate for the company (`objectId`); a `propertyChange` sets the
  mapped field, any other property lands in the update's attributes.
- `contact.*` / `deal.*` -> `account` category records (people/deals, no account update: HubSpot's
  event does not say which company).
- anything else -> `system`.
Options: `name_property` (default `name`), `domain_property` (`domain`), `arr_property` (`annualrevenue`),
`plan_property` (`plan`), `owner_property` (`hubspot_owner_id`): which HubSpot properties map onto
the account's name/domain/arr/plan/owner.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, Sequence
from urllib.parse import unquote, urlsplit

from schemas.item import AccountRef, AccountUpdate, Person
from services.config.models import SourceConfig
from services.ingest.adapters.base import (
    Draft,
    InboundRequest,
    Reply,
    accepted_reply,
    any_digest_matches,
    check_timestamp,
    decode_json,
    hmac_digest,
    require_secrets,
)
from services.ingest.adapters.fields import as_float, as_str, domain_of, stable_hash, unix_utc
from services.ingest.errors import AuthenticationFailed, NormaliseError

kind = "hubspot"
content_types = frozenset({"application/json"})

V3 = "x-hubspot-signature-v3"
V3_TS = "x-hubspot-request-timestamp"
LEGACY = "x-hubspot-signature"
VERSION = "x-hubspot-signature-version"
OBJECT_TYPE_IDS = {"0-1": "contact", "0-2": "company", "0-3": "deal", "0-5": "ticket"}
DEFAULT_MAPPING = {
    "name": "name",
    "domain": "domain",
    "arr": "annualrevenue",
    "plan": "plan",
    "owner": "hubspot_owner_id",
}


def request_uris(request: InboundRequest, source: SourceConfig) -> list[str]:
    """The URIs HubSpot may have signed for this request."""
    query = urlsplit(request.path).query
    uris: list[str] = []
    if source.public_url:
        base = source.public_url
        uris.append(base if ("?" in base or not query) else f"{base}?{query}")
    else:
        host = request.headers.get("host")
        if host:
            uris += [f"https://{host}{request.path}", f"http://{host}{request.path}"]
    for uri in list(uris):
        decoded = unquote(uri)
        if decoded != uri:
            uris.append(decoded)
    return uris


def _verify_v3(request: InboundRequest, secrets: Sequence[str], source: SourceConfig, now: float, sig: str) -> None:
    ts = (request.headers.get(V3_TS) or "").strip()
    if not ts.isascii() or not ts.isdigit() or len(ts) > 16:
        raise AuthenticationFailed("missing or invalid X-HubSpot-Request-Timestamp")
    check_timestamp(int(ts) / 1000.0, now)
    try:
        candidate = base64.b64decode(sig.strip().replace(" ", "+"), validate=True)
    except (binascii.Error, ValueError):
        raise AuthenticationFailed("X-HubSpot-Signature-v3 is not base64") from None
    method = request.method.upper().encode()
    expected = [
        hmac_digest(s.encode("utf-8"), method + uri.encode("utf-8") + request.body + ts.encode())
        for s in secrets
        for uri in request_uris(request, source)
    ]
    if not expected or not any_digest_matches(expected, [candidate]):
        raise AuthenticationFailed("X-HubSpot-Signature-v3 does not match (check the source's public_url)")


def verify(
    request: InboundRequest, secrets: Sequence[str], tokens: Sequence[str], source: SourceConfig, now: float
) -> None:
    require_secrets(secrets)
    v3 = request.headers.get(V3)
    if v3:
        _verify_v3(request, secrets, source, now, v3)
        return
    legacy = (request.headers.get(LEGACY) or "").strip().lower()
    if not legacy:
        raise AuthenticationFailed("missing X-HubSpot-Signature-v3 / X-HubSpot-Signature")
    version = (request.headers.get(VERSION) or "v1").strip().lower()
    if version == "v1":
        messages = [s.encode("utf-8") + request.body for s in secrets]
    elif version == "v2":
        method = request.method.upper().encode()
        messages = [
            s.encode("utf-8") + method + uri.encode("utf-8") + request.body
            for s in secrets
            for uri in request_uris(request, source)
        ]
    else:
        raise AuthenticationFailed(f"unknown X-HubSpot-Signature-Version {version!r}")
    expected = [hashlib.sha256(m).hexdigest() for m in messages]
    if not expected or not any_digest_matches(expected, [legacy]):
        raise AuthenticationFailed("X-HubSpot-Signature does not match any configured secret")


def decode(request: InboundRequest) -> Any:
    return decode_json(request.body)


def reply(payload: Any, request: InboundRequest) -> Reply | None:
    return None


def _mapping(source: SourceConfig) -> dict[str, str]:
    mapping = dict(DEFAULT_MAPPING)
    for field in mapping:
        value = as_str(source.options.get(f"{field}_property"))
        if value:
            mapping[field] = value
    return mapping


def _object_type(event: dict[str, Any], subscription: str) -> str:
    head = subscription.split(".", 1)[0].lower()
    if head == "object":
        return OBJECT_TYPE_IDS.get(as_str(event.get("objectTypeId")) or "", "object")
    return head


def _company_update(object_id: str, event: dict[str, Any], action: str, mapping: dict[str, str]) -> AccountUpdate:
    fields: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    prop = as_str(event.get("propertyName"))
    value = event.get("propertyValue")
    if action == "propertyChange" and prop:
        by_property = {v.lower(): k for k, v in mapping.items()}
        field = by_property.get(prop.lower())
        if field == "arr":
            fields["arr"] = as_float(value)
        elif field == "domain":
            fields["domain"] = domain_of(value)
        elif field:
            fields[field] = as_str(value)
        if not field or fields.get(field) is None:
            attributes[f"hubspot.{prop}"] = as_str(value) or ""
    elif action in ("deletion", "delete"):
        attributes["hubspot.deleted"] = "true"
    return AccountUpdate(id=object_id, attributes=attributes, **fields)


def _event(event: Any, index: int, request: InboundRequest, mapping: dict[str, str]) -> Draft:
    if not isinstance(event, dict):
        raise NormaliseError(f"event {index} is not a JSON object")
    subscription = as_str(event.get("subscriptionType")) or as_str(event.get("eventType"))
    if not subscription:
        raise NormaliseError(f"event {index} has no subscriptionType")
    object_id = as_str(event.get("objectId"))
    object_type = _object_type(event, subscription)
    action = subscription.split(".", 1)[1] if "." in subscription else subscription
    attributes: dict[str, Any] = {
        k: v
        for k, v in {
            "object_type": object_type,
            "object_id": object_id,
            "portal_id": as_str(event.get("portalId")),
            "change_source": as_str(event.get("changeSource")),
            "change_flag": as_str(event.get("changeFlag")),
            "property": as_str(event.get("propertyName")),
            "value": as_str(event.get("propertyValue")),
            "attempt": as_str(event.get("attemptNumber")),
        }.items()
        if v is not None
    }
    base: dict[str, Any] = {
        "delivery_id": as_str(event.get("eventId")) or stable_hash(request.body, index),
        "event_type": subscription,
        "occurred_at": unix_utc(event.get("occurredAt"), millis=True),
        "attributes": attributes,
        "raw": event,
    }
    if object_type == "company" and object_id:
        return Draft(
            **base,
            category="account",
            account_update=_company_update(object_id, event, action, mapping),
            account_hint=AccountRef(id=object_id, external_id=object_id),
        )
    if object_type == "contact" and object_id:
        email = as_str(event.get("propertyValue")) if as_str(event.get("propertyName")) == "email" else None
        return Draft(**base, category="account", person=Person(id=object_id, email=email))
    if object_type == "deal":
        return Draft(**base, category="account")
    return Draft(**base, category="system")


def normalise(payload: Any, request: InboundRequest, source: SourceConfig) -> list[Draft]:
    events = payload if isinstance(payload, list) else [payload] if isinstance(payload, dict) else None
    if not events:
        raise NormaliseError("HubSpot body must be a non-empty JSON array of events")
    mapping = _mapping(source)
    return [_event(e, i, request, mapping) for i, e in enumerate(events)]


def acknowledge(ids: Sequence[str]) -> Reply:
    return accepted_reply(ids)
