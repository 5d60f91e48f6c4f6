"""Standard Webhooks (https://www.standardwebhooks.com), also Switchboard's native format.

Signature: `webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`, several
space-separated signatures allowed (rotation). The secret is `whsec_` + base64 of the key bytes.
Timestamp: unix seconds, ±300 s. Delivery id: `webhook-id`.

Native body: `{"type": "...", "timestamp": "...", "data": {"text": ..., "title": ..., "url": ...,
"email": ..., "account_id": ..., "name": ...}}`; only `data.text` is required for a feedback item.
`type` starting with `account.` (e.g. `account.updated`) carries an account update in `data`
(`account_id, name, domain, arr, plan, owner`) instead.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Any, Sequence

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
    utc_from_iso,
)
from services.ingest.errors import AuthenticationFailed, NormaliseError
from services.ingest.text import html_to_text

kind = "standard"
content_types = frozenset({"application/json"})
SECRET_PREFIX = "whsec_"


@lru_cache(maxsize=64)  # pure: the same secret always decodes to the same key
def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_...` secret: the base64-decoded part after the prefix."""
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(raw + "==")
    except (binascii.Error, ValueError):
        raise AuthenticationFailed("configured secret is not valid base64") from None


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac_digest(secret_key(secret), f"{msg_id}.{timestamp}.".encode() + body)
    return "v1," + base64.b64encode(digest).decode()


def verify(
    request: InboundRequest, secrets: Sequence[str], tokens: Sequence[str], source: SourceConfig, now: float
) -> None:
    require_secrets(secrets)
    msg_id = request.headers.get("webhook-id")
    ts = request.headers.get("webhook-timestamp")
    sig_header = request.headers.get("webhook-signature")
    if not (msg_id and ts and sig_header):
        raise AuthenticationFailed("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        ts_int = int(ts)
    except ValueError:
        raise AuthenticationFailed("webhook-timestamp is not a unix timestamp") from None
    check_timestamp(ts_int, now)
    candidates: list[bytes] = []
    for part in sig_header.split():
        version, _, value = part.partition(",")
        if version == "v1" and value:
            try:
                candidates.append(base64.b64decode(value, validate=True))
            except (binascii.Error, ValueError):
                continue
    message = f"{msg_id}.{ts_int}.".encode() + request.body
    expected = [hmac_digest(secret_key(s), message) for s in secrets]
    if not candidates or not any_digest_matches(expected, candidates):
        raise AuthenticationFailed("no matching signature")


def decode(request: InboundRequest) -> Any:
    return decode_json(request.body)


def reply(payload: Any, request: InboundRequest) -> Reply | None:
    return None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def normalise(payload: Any, request: InboundRequest, source: SourceConfig) -> list[Draft]:
    if not isinstance(payload, dict):
        raise NormaliseError("body must be a JSON object")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise NormaliseError("`data` must be an object")
    event_type = _str(payload.get("type")) or "message"
    delivery_id = request.headers.get("webhook-id", "")
    occurred = utc_from_iso(_str(payload.get("timestamp")))
    email = _str(data.get("email"))
    account_id = _str(data.get("account_id"))
    if event_type.startswith("account."):
        if not account_id:
            raise NormaliseError("an account event needs data.account_id")
        arr = data.get("arr")
        update = AccountUpdate(
            id=account_id,
            name=_str(data.get("name")),
            domain=_str(data.get("domain")),
            arr=float(arr) if isinstance(arr, (int, float)) else None,
            plan=_str(data.get("plan")),
            owner=_str(data.get("owner")),
        )
        return [Draft(delivery_id, event_type, "account", account_update=update, occurred_at=occurred, raw=payload)]
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise NormaliseError("`data.text` is required and must be a non-empty string")
    plain, html = html_to_text(text)
    return [
        Draft(
            delivery_id=delivery_id,
            event_type=event_type,
            title=_str(data.get("title")),
            text=plain,
            html=html,
            url=_str(data.get("url")),
            occurred_at=occurred,
            person=Person(email=email, name=_str(data.get("name"))) if (email or data.get("name")) else None,
            account_hint=AccountRef(id=account_id) if account_id else None,
            raw=payload,
        )
    ]


def acknowledge(ids: Sequence[str]) -> Reply:
    return accepted_reply(ids)
