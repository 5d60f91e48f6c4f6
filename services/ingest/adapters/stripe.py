"""Stripe webhooks (docs.stripe.com/webhooks; stripe/stripe-python `_webhook.py`).

Signature: `Stripe-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "{t}.{body}")>[,v1=...]`; any `v1`
may match (Stripe sends one per active secret while you roll one). The `whsec_...` endpoint secret is
used as UTF-8 text, not base64-decoded (unlike Standard Webhooks). `t` must be within ±300 s
(Stripe's SDK checks only the past; we also refuse timestamps far in the future).

Events (delivery id = event `id`, occurred_at = `created`), account hint = `data.object.customer`:
- `customer.subscription.deleted` with `cancellation_details` (comment and/or feedback reason), and
  `customer.subscription.updated` that just set `cancel_at_period_end` with such details ->
  `feedback`: text = comment + "(feedback: <reason>)"; attributes `intent_hint: churn_risk`,
  cancellation reason/feedback, subscription id, status. Without any detail -> `system` with the same
  attributes (nothing a PM can read).
- `customer.created` / `customer.updated` -> `account` with an AccountUpdate keyed by the Stripe customer
  id (name; email, currency, delinquent in attributes).
- everything else -> `system`.
Stripe retries for up to 3 days (live mode); events may arrive out of order or twice.
"""

from __future__ import annotations

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
)
from services.ingest.adapters.fields import as_dict, as_str, stable_hash, unix_utc
from services.ingest.errors import AuthenticationFailed, NormaliseError

kind = "stripe"
content_types = frozenset({"application/json"})
SIGNATURE = "stripe-signature"
FEEDBACK_LABELS = {
    "customer_service": "customer service was less than expected",
    "low_quality": "quality was less than expected",
    "missing_features": "some features are missing",
    "other": "other reason",
    "switched_service": "switched to a different service",
    "too_complex": "ease of use was less than expected",
    "too_expensive": "it's too expensive",
    "unused": "doesn't use the service enough",
}


def verify(
    request: InboundRequest, secrets: Sequence[str], tokens: Sequence[str], source: SourceConfig, now: float
) -> None:
    require_secrets(secrets)
    header = request.headers.get(SIGNATURE)
    if not header:
        raise AuthenticationFailed("missing Stripe-Signature header")
    ts: str | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            ts = value.strip()
        elif key == "v1" and value.strip():
            candidates.append(value.strip().lower())
    if not ts or not ts.isascii() or not ts.isdigit() or len(ts) > 16:
        raise AuthenticationFailed("Stripe-Signature has no valid t= timestamp")
    if not candidates:
        raise AuthenticationFailed("Stripe-Signature has no v1 signature")
    check_timestamp(int(ts), now)
    message = f"{ts}.".encode() + request.body
    expected = [hmac_digest(s.encode("utf-8"), message).hex() for s in secrets]
    if not any_digest_matches(expected, candidates):
        raise AuthenticationFailed("no v1 signature matches any configured endpoint secret")


def decode(request: InboundRequest) -> Any:
    return decode_json(request.body)


def reply(payload: Any, request: InboundRequest) -> Reply | None:
    return None


def _cancellation(base: dict[str, Any], obj: dict[str, Any], etype: str, previous: dict[str, Any]) -> Draft:
    details = as_dict(obj.get("cancellation_details"))
    comment = as_str(details.get("comment"))
    feedback = as_str(details.get("feedback"))
    reason = as_str(details.get("reason"))
    base["attributes"].update(
        {
            k: v
            for k, v in {
                "intent_hint": "churn_risk",
                "subscription_id": as_str(obj.get("id")),
                "status": as_str(obj.get("status")),
                "cancellation_reason": reason,
                "cancellation_feedback": feedback,
                "cancel_at_period_end": obj.get("cancel_at_period_end") is True or None,
            }.items()
            if v is not None
        }
    )
    relevant = etype == "customer.subscription.deleted" or (
        obj.get("cancel_at_period_end") is True and "cancel_at_period_end" in previous
    )
    if not relevant or not (comment or feedback):
        return Draft(**base, category="system")
    label = FEEDBACK_LABELS.get(feedback or "", feedback)
    text = " ".join(p for p in (comment, f"(feedback: {label})" if label else None) if p)
    return Draft(**base, category="feedback", title="Subscription canceled", text=text)


def normalise(payload: Any, request: InboundRequest, source: SourceConfig) -> list[Draft]:
    if not isinstance(payload, dict):
        raise NormaliseError("Stripe body must be a JSON object")
    etype = as_str(payload.get("type"))
    if not etype:
        raise NormaliseError("Stripe event without `type`")
    data = as_dict(payload.get("data"))
    obj = as_dict(data.get("object"))
    customer_field = obj.get("customer")
    customer = as_str(customer_field) or as_str(as_dict(customer_field).get("id"))
    if etype.startswith("customer.") and not etype.startswith("customer.subscription") and as_str(obj.get("object")) == "customer":
        customer = customer or as_str(obj.get("id"))
    attributes: dict[str, Any] = {"livemode": obj.get("livemode") is True or payload.get("livemode") is True}
    if as_str(payload.get("account")):
        attributes["stripe_account"] = as_str(payload.get("account"))
    base: dict[str, Any] = {
        "delivery_id": as_str(payload.get("id")) or stable_hash(request.body),
        "event_type": etype,
        "occurred_at": unix_utc(payload.get("created")),
        "account_hint": AccountRef(id=customer, external_id=customer) if customer else None,
        "attributes": attributes,
        "raw": payload,
    }
    if etype.startswith("customer.subscription."):
        return [_cancellation(base, obj, etype, as_dict(data.get("previous_attributes")))]
    if etype in ("customer.created", "customer.updated") and customer:
        email = as_str(obj.get("email"))
        update = AccountUpdate(
            id=customer,
            name=as_str(obj.get("name")),
            attributes={
                k: v
                for k, v in {
                    "stripe.email": email,
                    "stripe.currency": as_str(obj.get("currency")),
                    "stripe.delinquent": str(obj.get("delinquent")).lower() if isinstance(obj.get("delinquent"), bool) else None,
                }.items()
                if v
            },
        )
        person = Person(email=email, name=as_str(obj.get("name"))) if email else None
        return [Draft(**base, category="account", account_update=update, person=person)]
    return [Draft(**base, category="system")]


def acknowledge(ids: Sequence[str]) -> Reply:
    return accepted_reply(ids)
