"""Pendo webhooks (support.pendo.io "Webhooks"; "Example Webhook Responses").

Pendo documents no request signing, so the source uses a shared token: configure `tokens` and either
put `?token=<value>` in the webhook URL or set the webhook's Authorization header to
`Bearer <value>` (or to the bare value). Compared in constant time against every configured token.

One item per event (a JSON array of events is split), delivery id = `uniqueId`:
- `npsSubmitted`, `pollSubmitted`, guide responses etc. with comment text in `properties`
  (`comment`, `npsComment`, `text`, `response`, `pollResponse`, `feedback`, `answer`, `freeformText`;
  option `text_properties`) -> `feedback`, the numeric score (`score`, `npsScore`, `nps`, `rating`,
  `pollResponse`) kept as the item's score.
- the same without text, and every other event -> `usage` (attributes: event, properties, score).
Account hint: `accountId`; person: `visitorId` (+ `visitor.email`/`properties.email` when present).
Timestamps are seconds or milliseconds (detected by magnitude).
"""

from __future__ import annotations

from typing import Any, Sequence

from schemas.item import AccountRef, Person
from services.config.models import SourceConfig
from services.ingest.adapters.base import Draft, InboundRequest, Reply, accepted_reply, decode_json
from services.ingest.adapters.fields import as_dict, as_float, as_str, stable_hash, unix_utc
from services.ingest.adapters.tokens import verify_token
from services.ingest.errors import NormaliseError
from services.ingest.text import html_to_text

kind = "pendo"
content_types = frozenset({"application/json"})
TEXT_PROPERTIES = ("comment", "npsComment", "text", "response", "pollResponse", "feedback", "answer", "freeformText")
SCORE_PROPERTIES = ("score", "npsScore", "nps", "rating", "pollResponse")


def verify(
    request: InboundRequest, secrets: Sequence[str], tokens: Sequence[str], source: SourceConfig, now: float
) -> None:
    verify_token(request, tokens)


def decode(request: InboundRequest) -> Any:
    return decode_json(request.body)


def reply(payload: Any, request: InboundRequest) -> Reply | None:
    return None


def _time(value: Any):
    f = as_float(value)
    return unix_utc(f, millis=f is not None and abs(f) > 1e11)


def _event(event: Any, index: int, request: InboundRequest, source: SourceConfig) -> Draft:
    if not isinstance(event, dict):
        raise NormaliseError(f"event {index} is not a JSON object")
    name = as_str(event.get("event")) or as_str(event.get("type"))
    if not name:
        raise NormaliseError(f"event {index} has no `event`")
    props = as_dict(event.get("properties"))
    keys = source.options.get("text_properties")
    keys = [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else list(TEXT_PROPERTIES)
    text = next((v for v in (as_str(props.get(k)) for k in keys) if v and as_float(v) is None), None)
    score = next((s for s in (as_float(props.get(k)) for k in SCORE_PROPERTIES) if s is not None), None)
    visitor = as_str(event.get("visitorId"))
    email = as_str(as_dict(event.get("visitor")).get("email")) or as_str(props.get("email"))
    account = as_str(event.get("accountId"))
    attributes: dict[str, Any] = {"event": name, "properties": props}
    app = as_dict(event.get("app"))
    if as_str(app.get("name")):
        attributes["app"] = as_str(app.get("name"))
    for key in ("guideId", "guideStepId", "pollId"):
        if as_str(props.get(key)):
            attributes[key] = as_str(props.get(key))
    base: dict[str, Any] = {
        "delivery_id": as_str(event.get("uniqueId")) or stable_hash(request.body, index),
        "event_type": name,
        "occurred_at": _time(event.get("timestamp")),
        "person": Person(id=visitor, email=email) if (visitor or email) else None,
        "account_hint": AccountRef(id=account, external_id=account) if account else None,
        "score": score,
        "attributes": attributes,
        "raw": event,
    }
    if text:
        plain, html = html_to_text(text)
        return Draft(**base, category="feedback", text=plain or text, html=html)
    return Draft(**base, category="usage")


def normalise(payload: Any, request: InboundRequest, source: SourceConfig) -> list[Draft]:
    events = payload if isinstance(payload, list) else [payload] if isinstance(payload, dict) else None
    if not events:
        raise NormaliseError("Pendo body must be an event object or a JSON array of events")
    return [_event(e, i, request, source) for i, e in enumerate(events)]


def acknowledge(ids: Sequence[str]) -> Reply:
    return accepted_reply(ids)
