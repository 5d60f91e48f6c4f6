"""Intercom webhooks (developers.intercom.com/docs/webhooks).

Signature: `X-Hub-Signature: sha1=<hex HMAC-SHA1(client_secret, raw body)>`; Intercom signs no
timestamp, so there is no freshness check (dedup on the notification `id` covers replays of one
event). `secrets` = your app's client secret (v1.0 API: the subscription's hub secret).

Topics:
- `ping` -> `system` item (accepted with 202 so the subscription test passes).
- `conversation.*` -> `feedback`: the text is the newest comment part (`conversation_parts`) or
  else the opening message (`source.body`), HTML stripped (original kept). Parts written by an
  admin or bot are not customer words -> `system`.
- `company.*` -> `account` update (company_id or id, name, website -> domain,
  monthly_spend x 12 -> arr, plan.name -> plan).
- anything else (contact.*, user.*, ...) -> `system`.
Delivery id: the notification `id` (`notif_...`). Tenant: `app_id` (kept in attributes).
"""

from __future__ import annotations

from typing import Any, Sequence

from schemas.item import AccountUpdate, Person
from services.config.models import SourceConfig
from services.ingest.adapters.base import Draft, InboundRequest, Reply, accepted_reply, decode_json
from services.ingest.adapters.fields import as_dict, as_float, as_list, as_str, domain_of, stable_hash, unix_utc
from services.ingest.adapters.hmac_hex import verify_hex
from services.ingest.errors import NormaliseError
from services.ingest.text import html_to_text

kind = "intercom"
content_types = frozenset({"application/json"})
SIGNATURE = "x-hub-signature"
COMMENT_PARTS = {"comment", "open", "close", "assignment", "note"}
CUSTOMER_AUTHORS = {"user", "lead", "contact"}


def verify(
    request: InboundRequest, secrets: Sequence[str], tokens: Sequence[str], source: SourceConfig, now: float
) -> None:
    verify_hex(request.headers.get(SIGNATURE), secrets, [request.body], "sha1", "sha1", "X-Hub-Signature")


def decode(request: InboundRequest) -> Any:
    return decode_json(request.body)


def reply(payload: Any, request: InboundRequest) -> Reply | None:
    return None


def _person(author: dict[str, Any], contacts: list[Any]) -> Person | None:
    first = as_dict(contacts[0]) if contacts else {}
    pid = as_str(author.get("id")) or as_str(first.get("id"))
    email = as_str(author.get("email"))
    external = as_str(first.get("external_id"))
    name = as_str(author.get("name"))
    if not (pid or email or external or name):
        return None
    return Person(id=pid, email=email, name=name, external_id=external)


def _conversation(base: dict[str, Any], item: dict[str, Any]) -> Draft:
    source = as_dict(item.get("source"))
    parts = as_list(as_dict(item.get("conversation_parts")).get("conversation_parts"))
    body: str | None = None
    author: dict[str, Any] = {}
    for part in reversed(parts):
        part = as_dict(part)
        candidate = as_str(part.get("body"))
        if candidate and (as_str(part.get("part_type")) or "comment") in COMMENT_PARTS:
            body, author = candidate, as_dict(part.get("author"))
            break
    if body is None:
        body, author = as_str(source.get("body")), as_dict(source.get("author"))
    contacts = as_list(as_dict(item.get("contacts")).get("contacts"))
    author_type = as_str(author.get("type"))
    text, html = html_to_text(body) if body else (None, None)
    customer = bool(text) and (author_type is None or author_type in CUSTOMER_AUTHORS)
    app_id = base["attributes"].get("app_id")
    conv_id = as_str(item.get("id"))
    if conv_id:
        base["attributes"]["conversation_id"] = conv_id
    if author_type:
        base["attributes"]["author_type"] = author_type
    return Draft(
        **base,
        category="feedback" if customer else "system",
        title=as_str(item.get("title")) or as_str(source.get("subject")),
        text=text or None,
        html=html,
        url=f"https://app.intercom.com/a/apps/{app_id}/conversations/{conv_id}" if app_id and conv_id else None,
        person=_person(author, contacts),
    )


def _company(base: dict[str, Any], item: dict[str, Any]) -> Draft:
    company_id = as_str(item.get("company_id")) or as_str(item.get("id"))
    if not company_id:
        raise NormaliseError("company event without company_id/id")
    spend = as_float(item.get("monthly_spend"))
    plan = item.get("plan")
    update = AccountUpdate(
        id=company_id,
        name=as_str(item.get("name")),
        domain=domain_of(item.get("website")),
        arr=spend * 12 if spend is not None else None,
        plan=as_str(as_dict(plan).get("name")) if isinstance(plan, dict) else as_str(plan),
        attributes={k: str(v) for k, v in (("intercom_id", as_str(item.get("id"))),) if v},
    )
    return Draft(**base, category="account", account_update=update)


def normalise(payload: Any, request: InboundRequest, source: SourceConfig) -> list[Draft]:
    if not isinstance(payload, dict):
        raise NormaliseError("Intercom body must be a JSON object")
    topic = as_str(payload.get("topic"))
    if not topic:
        raise NormaliseError("Intercom notification without `topic`")
    attributes: dict[str, Any] = {"topic": topic}
    app_id = as_str(payload.get("app_id"))
    if app_id:
        attributes["app_id"] = app_id
    attempts = payload.get("delivery_attempts")
    if isinstance(attempts, int) and not isinstance(attempts, bool):
        attributes["delivery_attempts"] = attempts
    base: dict[str, Any] = {
        "delivery_id": as_str(payload.get("id")) or stable_hash(request.body),
        "event_type": topic,
        "occurred_at": unix_utc(payload.get("created_at")),
        "attributes": attributes,
        "raw": payload,
    }
    item = as_dict(as_dict(payload.get("data")).get("item"))
    if topic == "ping":
        return [Draft(**base, category="system")]
    if topic.startswith("conversation.") or as_str(item.get("type")) == "conversation":
        return [_conversation(base, item)]
    if topic.startswith("company.") and as_str(item.get("type")) in (None, "company"):
        return [_company(base, item)]
    return [Draft(**base, category="system")]


def acknowledge(ids: Sequence[str]) -> Reply:
    return accepted_reply(ids)
