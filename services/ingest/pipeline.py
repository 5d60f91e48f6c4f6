"""The decision core of ingest (pure): from a raw request to the items to store, a dead letter, or a reply.

The HTTP layer (services.ingest.app) checks source, size and content type, then calls `accept`, then
publishes what it returns. Nothing here touches the network, the clock or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

from schemas.item import DeadLetter, Item, item_id
from services.config.models import SourceConfig
from services.ingest.adapters.base import Adapter, Draft, InboundRequest, Reply, Verdict, body_hash, verdict_of
from services.ingest.errors import NormaliseError

# Request headers never stored (they authenticate; a replay does not need them)
_SECRET_HEADER_WORDS = ("signature", "authorization", "token", "cookie", "secret")


@dataclass
class Accepted:
    items: list[Item] = field(default_factory=list)
    dead_letter: DeadLetter | None = None
    reply: Reply | None = None  # an immediate reply that stores nothing (Slack url_verification)
    verdict: Verdict | None = None  # a "did this help?" click: recorded on SB_FEEDBACK, not stored as an item


def safe_headers(headers: dict[str, str] | object) -> dict[str, str]:
    return {
        k: v
        for k, v in dict(headers).items()  # type: ignore[call-overload]
        if not any(word in k.lower() for word in _SECRET_HEADER_WORDS)
    }


def safe_path(path: str) -> str:
    """The request path with secret-looking query values (`?token=...`, the URL token of senders that
    cannot sign) replaced, so a dead letter does not carry the credential."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    parts = []
    for part in query.split("&"):
        name, eq, _ = part.partition("=")
        secret = eq and any(word in name.lower() for word in (*_SECRET_HEADER_WORDS, "key", "sig", "password"))
        parts.append(f"{name}=[redacted]" if secret else part)
    return base + "?" + "&".join(parts)


def build_item(draft: Draft, source: SourceConfig, received_at: datetime) -> Item:
    return Item(
        id=item_id(source.name, draft.delivery_id),
        source=source.name,
        kind=source.kind,
        event_type=draft.event_type,
        category=draft.category,
        delivery_id=draft.delivery_id,
        received_at=received_at,
        occurred_at=draft.occurred_at,
        title=draft.title,
        text=draft.text,
        html=draft.html,
        url=draft.url,
        person=draft.person,
        account_hint=draft.account_hint,
        account_update=draft.account_update,
        score=draft.score,
        attributes=draft.attributes,
        raw=draft.raw,
    )


def dead_letter_request(
    request: InboundRequest, source: SourceConfig, reason: str, received_at: datetime, error: str
) -> DeadLetter:
    try:
        text, b64 = request.body.decode("utf-8"), None
    except UnicodeDecodeError:
        import base64

        text, b64 = None, base64.b64encode(request.body).decode()
    return DeadLetter(
        id=item_id(source.name, "raw:" + body_hash(request.body)),
        stage="ingest",
        reason=reason,
        error=error,
        failed_at=received_at,
        source=source.name,
        raw_body=text,
        raw_body_b64=b64,
        headers={**safe_headers(request.headers), ":path": safe_path(request.path), ":method": request.method},
    )


def accept(
    request: InboundRequest,
    source: SourceConfig,
    adapter: Adapter,
    secrets: Sequence[str],
    tokens: Sequence[str],
    now: float,
    received_at: datetime,
) -> Accepted:
    """Verify (raises AuthenticationFailed/Forbidden), decode (raises MalformedBody), then normalise.
    A verified payload that cannot be normalised becomes a dead letter: accepted and kept, never lost.
    A verified click on "did this help?" is returned as a verdict, to be recorded instead of stored."""
    adapter.verify(request, secrets, tokens, source, now)
    payload = adapter.decode(request)
    immediate = adapter.reply(payload, request)
    if immediate is not None:
        return Accepted(reply=immediate)
    verdict = verdict_of(adapter, payload, request)
    if verdict is not None:
        return Accepted(verdict=verdict)
    return normalise(request, payload, source, adapter, received_at)


def encode(model: BaseModel) -> bytes:
    """An item or dead letter as published (JSON, UTF-8).

    A string holding a lone surrogate cannot be encoded as UTF-8: json.loads lets them through from a
    JSON escape ("\ud83d": JavaScript senders cut strings inside emoji) or from the bytes ED A0..BF. Such
    strings get U+FFFD instead, so the item is stored with the customer's words rather than answered 503
    for ever. Costs nothing on the normal path: the serialisation happens anyway."""
    try:
        return model.model_dump_json().encode()
    except PydanticSerializationError:
        clean = type(model).model_validate(without_lone_surrogates(model.model_dump()))
        return clean.model_dump_json().encode()


def without_lone_surrogates(value: object) -> object:
    """The value with every lone surrogate replaced by U+FFFD. Payloads are at most 64 deep (the adapters'
    depth check) and model dumps shallower, so recursion is safe."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")  # one U+FFFD each
    if isinstance(value, dict):
        return {without_lone_surrogates(k): without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_lone_surrogates(v) for v in value]
    return value


def normalise(
    request: InboundRequest, payload: object, source: SourceConfig, adapter: Adapter, received_at: datetime
) -> Accepted:
    try:
        drafts = adapter.normalise(payload, request, source)
    except NormaliseError as exc:
        return Accepted(dead_letter=dead_letter_request(request, source, str(exc), received_at, "NormaliseError"))
    except Exception as exc:  # noqa: BLE001 - a bug in our adapter must never lose the customer's words
        reason = f"adapter bug: {type(exc).__name__}: {exc}"
        return Accepted(dead_letter=dead_letter_request(request, source, reason, received_at, type(exc).__name__))
    for draft in drafts:
        if not draft.delivery_id:
            draft.delivery_id = "body:" + body_hash(request.body)
    return Accepted(items=[build_item(d, source, received_at) for d in drafts])
