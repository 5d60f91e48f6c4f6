"""Segment Webhooks destination (classic and Actions).

Signature: `X-Signature: <hex HMAC-SHA1(shared secret, JSON.stringify(data))>`, sent only when a shared
secret is set in the destination (we require one). Segment signs no timestamp; dedup on `messageId`
makes replays harmless.

Batches: the Actions destination can send `{"batch": [...]}` or a JSON array, and then signs only
`JSON.stringify(<first event>)` (segmentio/action-destinations webhook tests). We accept a signature over
the raw body, or over the compact re-serialisation of the first event
(`json.dumps(first, separators=(",", ":"), ensure_ascii=False)`). Limitations: (1) the other events of a
batch are not covered by the signature — anyone holding one genuine signed event could append events
to it; disable batching in the destination when that matters; (2) the re-serialisation equals
`JSON.stringify` only for ordinary payloads (numbers like `1.0` or `1e21` serialise differently in JS),
so such batches fail verification — single events (signed over the raw body) are unaffected.

Events (Segment spec), one item each, delivery id = `messageId`:
- `track` -> `usage` (attributes: event name, properties); a track event whose properties carry free text
  (`feedback`, `comment`, `comments`, `message`, `text`, `body`; option `feedback_properties`) -> `feedback`,
  with `score`/`rating`/`nps` kept as the item's score.
- `page` / `screen` -> `usage` (attributes: name, properties; url = properties.url).
- `group` -> `account`: AccountUpdate from traits (`name`, `website`/`domain`, `arr`, `plan`, `owner`;
  override trait names with options `name_trait`, `domain_trait`, `arr_trait`, `plan_trait`, `owner_trait`).
- `identify` -> `account` category record of the person (traits email/name) with the groupId hint
  (`context.groupId`, `traits.company.id` or `traits.groupId`); no account update.
- `alias` and others -> `system`.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from schemas.item import AccountRef, AccountUpdate, Person
from services.config.models import SourceConfig
from services.ingest.adapters.base import Draft, InboundRequest, Reply, accepted_reply, decode_json
from services.ingest.adapters.fields import as_dict, as_float, as_str, domain_of, iso_utc, stable_hash
from services.ingest.adapters.hmac_hex import verify_hex
from services.ingest.errors import MalformedBody, NormaliseError
from services.ingest.text import html_to_text

kind = "segment"
content_types = frozenset({"application/json"})
SIGNATURE = "x-signature"
FEEDBACK_PROPERTIES = ("feedback", "comment", "comments", "message", "text", "body")
SCORE_PROPERTIES = ("score", "rating", "nps", "nps_score")
TRAITS = {"name": "name", "domain": "website", "arr": "arr", "plan": "plan", "owner": "owner"}


def _events(payload: Any) -> list[Any] | None:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        batch = payload.get("batch")
        return batch if isinstance(batch, list) else [payload]
    return None


def signed_messages(body: bytes) -> list[bytes]:
    """The byte strings Segment may have signed: the body, and the compact first event of a batch."""
    messages = [body]
    try:
        payload = decode_json(body)
    except MalformedBody:
        return messages
    if isinstance(payload, list):
        batch: Any = payload
    elif isinstance(payload, dict):
        batch = payload.get("batch")
    else:
        batch = None
    if isinstance(batch, list) and batch:
        try:
            messages.append(json.dumps(batch[0], separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        except (ValueError, TypeError, UnicodeError):
            pass
    return messages


def verify(
    request: InboundRequest, secrets: Sequence[str], tokens: Sequence[str], source: SourceConfig, now: float
) -> None:
    verify_hex(request.headers.get(SIGNATURE), secrets, signed_messages(request.body), "sha1", None, "X-Signature")


def decode(request: InboundRequest) -> Any:
    return decode_json(request.body)


def reply(payload: Any, request: InboundRequest) -> Reply | None:
    return None


def _names(source: SourceConfig, option: str, default: Sequence[str]) -> list[str]:
    value = source.options.get(option)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)] or list(default)
    return list(default)


def _event(event: Any, index: int, request: InboundRequest, source: SourceConfig) -> Draft:
    if not isinstance(event, dict):
        raise NormaliseError(f"event {index} is not a JSON object")
    etype = (as_str(event.get("type")) or "").lower()
    if not etype:
        raise NormaliseError(f"event {index} has no `type`")
    context = as_dict(event.get("context"))
    traits = as_dict(event.get("traits")) or as_dict(context.get("traits"))
    properties = as_dict(event.get("properties"))
    user_id = as_str(event.get("userId"))
    anonymous = as_str(event.get("anonymousId"))
    email = as_str(traits.get("email")) or as_str(properties.get("email"))
    person = (
        Person(id=user_id or anonymous, email=email, name=as_str(traits.get("name")) if etype == "identify" else None,
               external_id=anonymous if user_id else None)
        if (user_id or anonymous or email)
        else None
    )
    group_id = (
        as_str(event.get("groupId"))
        or as_str(context.get("groupId"))
        or as_str(as_dict(traits.get("company")).get("id"))
        or as_str(traits.get("groupId"))
    )
    hint = AccountRef(id=group_id, external_id=group_id) if group_id else None
    base: dict[str, Any] = {
        "delivery_id": as_str(event.get("messageId")) or stable_hash(request.body, index),
        "occurred_at": iso_utc(event.get("timestamp")) or iso_utc(event.get("originalTimestamp")),
        "person": person,
        "account_hint": hint,
        "raw": event,
    }
    name = as_str(event.get("event")) or as_str(event.get("name"))
    if etype == "track":
        attributes: dict[str, Any] = {"event": name, "properties": properties}
        text = next(
            (v for v in (as_str(properties.get(k)) for k in _names(source, "feedback_properties", FEEDBACK_PROPERTIES)) if v),
            None,
        )
        score = next((s for s in (as_float(properties.get(k)) for k in SCORE_PROPERTIES) if s is not None), None)
        if text and not text.replace(".", "", 1).isdigit():
            plain, html = html_to_text(text)
            return Draft(**base, event_type="track", category="feedback", title=name, text=plain or text, html=html,
                         url=as_str(properties.get("url")), score=score, attributes=attributes)
        return Draft(**base, event_type="track", category="usage", title=name, score=score, attributes=attributes)
    if etype in ("page", "screen"):
        return Draft(**base, event_type=etype, category="usage", title=name, url=as_str(properties.get("url")),
                     attributes={"name": name, "properties": properties})
    if etype == "group":
        if not group_id:
            raise NormaliseError(f"group event {index} without groupId")
        trait = {f: (as_str(source.options.get(f"{f}_trait")) or d) for f, d in TRAITS.items()}
        domain = domain_of(traits.get(trait["domain"])) or domain_of(traits.get("domain"))
        used = set(trait.values()) | {"domain"}
        update = AccountUpdate(
            id=group_id,
            name=as_str(traits.get(trait["name"])),
            domain=domain,
            arr=as_float(traits.get(trait["arr"])),
            plan=as_str(traits.get(trait["plan"])),
            owner=as_str(traits.get(trait["owner"])),
            attributes={f"segment.{k}": v for k, v in ((k, as_str(v)) for k, v in traits.items() if k not in used) if v},
        )
        return Draft(**base, event_type="group", category="account", account_update=update,
                     attributes={"traits": traits})
    if etype == "identify":
        return Draft(**base, event_type="identify", category="account", attributes={"traits": traits})
    return Draft(**base, event_type=etype, category="system")


def normalise(payload: Any, request: InboundRequest, source: SourceConfig) -> list[Draft]:
    events = _events(payload)
    if not events:
        raise NormaliseError("Segment body must be an event, a JSON array of events or {\"batch\": [...]}")
    return [_event(e, i, request, source) for i, e in enumerate(events)]


def acknowledge(ids: Sequence[str]) -> Reply:
    return accepted_reply(ids)
