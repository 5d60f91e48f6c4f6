"""Zendesk webhooks: event subscriptions (fixed envelope) and trigger/automation webhooks (your body).

Signature (developer.zendesk.com/documentation/webhooks/verifying/):
`X-Zendesk-Webhook-Signature: base64(HMAC-SHA256(secret, timestamp + body))`, with
`X-Zendesk-Webhook-Signature-Timestamp` an ISO 8601 time (accepted within ±300 s). The secret is the
webhook's signing secret used verbatim as UTF-8 (not base64-decoded, even though it looks like base64).
Test sends made before a webhook exists are signed with the static secret
`dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==`: add an env var holding it to `secrets` to accept them.

Delivery id: `X-Zendesk-Webhook-Invocation-Id` (stable across retries), else the envelope `id`, else
`ticket_id:updated_at` of a trigger body, else a hash of the body.

Event subscription envelope (`type: zen:event-type:ticket.created`, `detail`, `event`): the ticket's
`detail.subject`/`detail.description`, or `event.comment.body` for comment events, become the item.
Ticket events without customer words (status/priority changes...) become `system` items.

Trigger bodies are yours to write. Recommended (Admin Center > Webhooks, trigger action "Notify webhook",
JSON body):

    {"event": "ticket.updated",
     "ticket_id": "{{ticket.id}}",
     "subject": "{{ticket.title}}",
     "comment": "{{ticket.latest_public_comment_html}}",
     "requester_email": "{{ticket.requester.email}}",
     "requester_name": "{{ticket.requester.name}}",
     "organization": "{{ticket.organization.name}}",
     "organization_id": "{{ticket.organization.external_id}}",
     "url": "{{ticket.link}}",
     "status": "{{ticket.status}}",
     "updated_at": "{{ticket.updated_at_with_timestamp}}"}

Also understood: `id`/`title`/`description`/`text`/`email`/`name`. `organization_id` should be the
organization's external id = the account id in your account directory (CRM id); the Zendesk
organization id of an event subscription is passed as `account_hint.external_id`.

Options (`sources.yaml` `options:`): `subdomain` (e.g. `acme` -> ticket links
`https://acme.zendesk.com/agent/tickets/<id>` for event-subscription items).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Sequence

from schemas.item import AccountRef, Person
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
from services.ingest.adapters.fields import as_dict, as_str, decode_form, domain_of, iso_utc, stable_hash
from services.ingest.errors import AuthenticationFailed, NormaliseError
from services.ingest.text import html_to_text

kind = "zendesk"
content_types = frozenset({"application/json", "application/x-www-form-urlencoded"})

SIGNATURE = "x-zendesk-webhook-signature"
TIMESTAMP = "x-zendesk-webhook-signature-timestamp"
INVOCATION = "x-zendesk-webhook-invocation-id"
TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
ENVELOPE_PREFIX = "zen:event-type:"


def verify(
    request: InboundRequest, secrets: Sequence[str], tokens: Sequence[str], source: SourceConfig, now: float
) -> None:
    require_secrets(secrets)
    signature = request.headers.get(SIGNATURE)
    ts = request.headers.get(TIMESTAMP)
    if not signature or not ts:
        raise AuthenticationFailed("missing X-Zendesk-Webhook-Signature or -Signature-Timestamp")
    when = iso_utc(ts)
    if when is None:
        raise AuthenticationFailed("X-Zendesk-Webhook-Signature-Timestamp is not an ISO 8601 time")
    check_timestamp(when.timestamp(), now)
    try:
        candidate = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise AuthenticationFailed("X-Zendesk-Webhook-Signature is not base64") from None
    message = ts.encode("utf-8") + request.body
    expected = [hmac_digest(s.encode("utf-8"), message) for s in secrets]
    if not any_digest_matches(expected, [candidate]):
        raise AuthenticationFailed("X-Zendesk-Webhook-Signature does not match any configured secret")


def decode(request: InboundRequest) -> Any:
    if request.content_type == "application/x-www-form-urlencoded":
        return decode_form(request.body)
    return decode_json(request.body)


def reply(payload: Any, request: InboundRequest) -> Reply | None:
    return None


def _ticket_url(source: SourceConfig, ticket_id: str | None) -> str | None:
    subdomain = as_str(source.options.get("subdomain"))
    if not subdomain or not ticket_id:
        return None
    return f"https://{subdomain}.zendesk.com/agent/tickets/{ticket_id}"


def _envelope(payload: dict[str, Any], request: InboundRequest, source: SourceConfig) -> Draft:
    event_type = as_str(payload.get("type")) or ""
    short = event_type[len(ENVELOPE_PREFIX) :] if event_type.startswith(ENVELOPE_PREFIX) else event_type
    detail = as_dict(payload.get("detail"))
    event = as_dict(payload.get("event"))
    ticket_id = as_str(detail.get("id"))
    subject = as_str(detail.get("subject"))
    comment = as_dict(event.get("comment"))
    body = as_str(comment.get("body"))
    if body is None and short == "ticket.created":
        body = as_str(detail.get("description"))
    delivery_id = as_str(request.headers.get(INVOCATION)) or as_str(payload.get("id")) or stable_hash(request.body)
    attributes: dict[str, Any] = {"ticket_id": ticket_id, "status": as_str(detail.get("status"))}
    tenant = as_str(payload.get("account_id"))
    if tenant:
        attributes["zendesk_account_id"] = tenant
    if "is_public" in comment:
        attributes["public"] = bool(comment.get("is_public"))
    author = as_dict(comment.get("author"))
    requester = as_str(detail.get("requester_id"))
    person_id = as_str(author.get("id")) or requester
    org = as_str(detail.get("organization_id"))
    text, html = html_to_text(body) if body else (None, None)
    return Draft(
        delivery_id=delivery_id,
        event_type=short or "ticket.event",
        category="feedback" if text else "system",
        title=subject,
        text=text or None,
        html=html,
        url=_ticket_url(source, ticket_id),
        occurred_at=iso_utc(payload.get("time")),
        person=Person(id=person_id, name=as_str(author.get("name"))) if person_id else None,
        account_hint=AccountRef(external_id=org) if org else None,
        attributes={k: v for k, v in attributes.items() if v is not None},
        raw=payload,
    )


def _trigger(payload: dict[str, Any], request: InboundRequest, source: SourceConfig) -> Draft:
    ticket_id = as_str(payload.get("ticket_id")) or as_str(payload.get("id"))
    updated = as_str(payload.get("updated_at"))
    delivery_id = as_str(request.headers.get(INVOCATION)) or (
        f"{ticket_id}:{updated}" if ticket_id and updated else stable_hash(request.body)
    )
    body = next(
        (
            v
            for v in (as_str(payload.get(k)) for k in ("comment", "latest_comment", "text", "description"))
            if v is not None
        ),
        None,
    )
    subject = as_str(payload.get("subject")) or as_str(payload.get("title"))
    if body is None and subject is None:
        raise NormaliseError("trigger body has no comment/text/description/subject (see the recommended body)")
    text, html = html_to_text(body) if body else (subject or "", None)
    email = as_str(payload.get("requester_email")) or as_str(payload.get("email"))
    name = as_str(payload.get("requester_name")) or as_str(payload.get("name"))
    org_id = as_str(payload.get("organization_id"))
    org_name = as_str(payload.get("organization"))
    url = as_str(payload.get("url"))
    if url and "://" not in url:
        url = "https://" + url  # {{ticket.link}} / {{ticket.url}} come without a scheme
    url = url or _ticket_url(source, ticket_id)
    attributes = {"ticket_id": ticket_id, "status": as_str(payload.get("status"))}
    return Draft(
        delivery_id=delivery_id,
        event_type=as_str(payload.get("event")) or as_str(payload.get("type")) or "ticket.trigger",
        title=subject,
        text=text or None,
        html=html,
        url=url if domain_of(url) else None,
        occurred_at=iso_utc(updated),
        person=Person(email=email, name=name) if (email or name) else None,
        account_hint=AccountRef(id=org_id, name=org_name) if (org_id or org_name) else None,
        attributes={k: v for k, v in attributes.items() if v is not None},
        raw=payload,
    )


def normalise(payload: Any, request: InboundRequest, source: SourceConfig) -> list[Draft]:
    if not isinstance(payload, dict):
        raise NormaliseError("Zendesk body must be a JSON object")
    event_type = payload.get("type")
    if isinstance(event_type, str) and event_type.startswith(ENVELOPE_PREFIX):
        return [_envelope(payload, request, source)]
    return [_trigger(payload, request, source)]


def acknowledge(ids: Sequence[str]) -> Reply:
    return accepted_reply(ids)
