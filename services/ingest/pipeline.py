"""The decision core of ingest (pure): from a raw request to the items to store, a dead letter, or a reply.

The HTTP layer (services.ingest.app) checks source, size and content type, then calls `accept`, then
publishes what it returns. Nothing here touches the network, the clock or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from schemas.item import DeadLetter, Item, item_id
from services.config.models import SourceConfig
from services.ingest.adapters.base import Adapter, Draft, InboundRequest, Reply, Verdict, body_hash, verdict_of
from services.ingest.errors import NormaliseError
from services.ingest.item_json import Encoded, build_item, encode, encode_draft, without_lone_surrogates

__all__ = ["Accepted", "accept", "build_item", "encode", "encode_draft", "normalise", "without_lone_surrogates"]

# Request headers never stored (they authenticate; a replay does not need them)
_SECRET_HEADER_WORDS = ("signature", "authorization", "token", "cookie", "secret")


@dataclass
class Accepted:
    drafts: list[Draft] = field(default_factory=list)  # normalised events, with their delivery ids
    dead_letter: DeadLetter | None = None
    reply: Reply | None = None  # an immediate reply that stores nothing (Slack url_verification)
    verdict: Verdict | None = None  # a "did this help?" click: recorded on SB_FEEDBACK, not stored as an item
    source: SourceConfig | None = None
    received_at: datetime | None = None

    @property
    def items(self) -> list[Item]:
        """The items, validated by the model (for callers that read them; ingest publishes `encoded()`)."""
        return [build_item(d, self.source, self.received_at) for d in self.drafts]  # type: ignore[arg-type]

    def encoded(self) -> list[Encoded]:
        """Each item's id and JSON as published: byte-identical to the model's, built without validating it."""
        return [encode_draft(d, self.source, self.received_at) for d in self.drafts]  # type: ignore[arg-type]


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
    return Accepted(drafts=drafts, source=source, received_at=received_at)
