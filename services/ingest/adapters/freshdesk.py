"""Freshdesk automation-rule webhooks (support.freshdesk.com "Trigger Webhook").

Freshdesk does not sign webhooks. Authenticate with a shared token (`tokens`): add `?token=<value>` to
the webhook URL, or a custom header `Authorization: Bearer <value>`, or the rule's HTTP Basic auth with
the token as user name or password. Compared in constant time against every configured token.

The body is yours to define in the rule (JSON or form-encoded). Recommended JSON:

    {"event": "ticket_updated", "ticket_id": "{{ticket.id}}", "subject": "{{ticket.subject}}",
     "text": "{{ticket.latest_public_comment}}", "description": "{{ticket.description}}",
     "email": "{{ticket.contact.email}}", "name": "{{ticket.contact.name}}",
     "company": "{{ticket.company.name}}", "url": "{{ticket.url}}", "status": "{{ticket.status}}",
     "updated_at": "{{ticket.updated_at}}"}

The classic `{"freshdesk_webhook": {"ticket_id": ..., "ticket_subject": ..., ...}}` shape is understood too.
Freshdesk sends no delivery id: we use a hash of ticket id + updated_at + body, so a retry of the same
request (+5, +30, +60 min) dedups, and a new comment on the same ticket is a new item.
`text` (latest public comment) wins over `description`; HTML is stripped (original kept).
"""

from __future__ import annotations

from typing import Any, Sequence

from schemas.item import AccountRef, Person
from services.config.models import SourceConfig
from services.ingest.adapters.base import Draft, InboundRequest, Reply, accepted_reply, decode_json
from services.ingest.adapters.fields import as_dict, as_str, decode_form, stable_hash
from services.ingest.adapters.tokens import verify_token
from services.ingest.errors import NormaliseError
from services.ingest.text import html_to_text

kind = "freshdesk"
content_types = frozenset({"application/json", "application/x-www-form-urlencoded"})


def verify(
    request: InboundRequest, secrets: Sequence[str], tokens: Sequence[str], source: SourceConfig, now: float
) -> None:
    verify_token(request, tokens, basic=True)


def decode(request: InboundRequest) -> Any:
    if request.content_type == "application/x-www-form-urlencoded":
        return decode_form(request.body)
    return decode_json(request.body)


def reply(payload: Any, request: InboundRequest) -> Reply | None:
    return None


def _get(data: dict[str, Any], *names: str) -> str | None:
    for name in names:
        for key in (name, f"ticket_{name}"):
            value = as_str(data.get(key))
            if value:
                return value
    return None


def normalise(payload: Any, request: InboundRequest, source: SourceConfig) -> list[Draft]:
    if not isinstance(payload, dict):
        raise NormaliseError("Freshdesk body must be a JSON object or a form")
    data = as_dict(payload.get("freshdesk_webhook")) or payload
    ticket_id = _get(data, "ticket_id", "id")
    subject = _get(data, "subject")
    body = _get(data, "text", "latest_public_comment", "latest_comment", "comment", "description")
    if not (subject or body):
        raise NormaliseError("Freshdesk body without subject/text/description (see the recommended body)")
    updated = _get(data, "updated_at")
    text, html = html_to_text(body) if body else (subject or "", None)
    email = _get(data, "email", "contact_email", "requester_email")
    name = _get(data, "name", "contact_name", "requester_name")
    company = _get(data, "company", "company_name")
    company_id = _get(data, "company_id", "account_id")
    url = _get(data, "url", "portal_url")
    if url and "://" not in url:
        url = "https://" + url
    attributes = {
        k: v
        for k, v in {"ticket_id": ticket_id, "status": _get(data, "status"), "priority": _get(data, "priority")}.items()
        if v
    }
    return [
        Draft(
            delivery_id=stable_hash(ticket_id or "", updated or "", request.body),
            event_type=_get(data, "event", "triggered_event") or "ticket",
            title=subject,
            text=text or subject,
            html=html,
            url=url,
            person=Person(email=email, name=name) if (email or name) else None,
            account_hint=AccountRef(id=company_id, name=company) if (company or company_id) else None,
            attributes=attributes,
            raw=payload,
        )
    ]


def acknowledge(ids: Sequence[str]) -> Reply:
    return accepted_reply(ids)
