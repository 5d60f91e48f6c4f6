"""The item as published, built straight from the draft: the JSON `Item(...).model_dump_json()` would give,
without pydantic validating and serialising it on the hot path (~15 µs of ~60 per webhook, docs/performance.md).

Safe by construction, not by hope: the fast path runs only when every field already has the exact type the
model would store (str, None, a UTC or naive datetime, a float score, the nested models themselves, a dict of
attributes), and orjson refuses everything it cannot write the way pydantic does (ints beyond 64 bits,
non-string keys, lone surrogates, unknown types). Anything else falls back to `build_item` + `encode`, the
pydantic path. tests/unit/test_item_json.py proves byte-identical output for every adapter's sample and for
hypothesis-generated drafts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

from schemas.item import SCHEMA_VERSION, AccountRef, AccountUpdate, Item, Person, item_id
from services.config.models import SourceConfig
from services.ingest.adapters.base import Draft

_CATEGORIES = frozenset(("feedback", "account", "usage", "system"))
_NESTED = frozenset((Person, AccountRef, AccountUpdate))  # exact types, written via their __dict__
# The fields enrich and route fill later, in Item's order: null (and false) when ingest publishes.
_LATER = {
    "account": None, "area": None, "intent": None, "intent_confidence": None, "kb": None, "theme": None,
    "enriched_at": None, "config_version": None, "decision": None, "answer": None, "decided_at": None,
    "answer_rejected": False,
}
_OPTIONS = orjson.OPT_UTC_Z


class Encoded(NamedTuple):
    """An item ready to publish: its id and its JSON."""

    id: str
    payload: bytes


def _nested(value: object) -> dict[str, Any]:
    """orjson's hook for the three models a draft may carry; they were validated when the adapter built them."""
    if type(value) in _NESTED and value.__pydantic_extra__ is None:  # type: ignore[attr-defined]
        return value.__dict__
    raise TypeError(type(value).__name__)


_STR_OR_NONE = frozenset((str, type(None)))
_ZONES = (None, UTC)  # naive or UTC: written alike by orjson (OPT_UTC_Z) and pydantic


def fast_safe(draft: Draft, received_at: datetime) -> bool:
    """True when every field already has the type the model would store, so no validation can change it.
    (Inline type checks: this runs once per webhook.)"""
    d = draft
    occurred = d.occurred_at
    return (
        type(d.delivery_id) is str and type(d.event_type) is str and d.category in _CATEGORIES
        and type(d.title) in _STR_OR_NONE and type(d.text) in _STR_OR_NONE
        and type(d.html) in _STR_OR_NONE and type(d.url) in _STR_OR_NONE
        and type(received_at) is datetime and received_at.tzinfo in _ZONES
        and (occurred is None or (type(occurred) is datetime and occurred.tzinfo in _ZONES))
        and (d.person is None or type(d.person) is Person)
        and (d.account_hint is None or type(d.account_hint) is AccountRef)
        and (d.account_update is None or type(d.account_update) is AccountUpdate)
        and (d.score is None or type(d.score) in (float, int))
        and type(d.attributes) is dict
    )


def encode_draft(draft: Draft, source: SourceConfig, received_at: datetime) -> Encoded:
    """The item's id and JSON, byte-identical to `encode(build_item(draft, source, received_at))`."""
    iid = item_id(source.name, draft.delivery_id)
    if fast_safe(draft, received_at):
        try:
            doc = {
                "schema_version": SCHEMA_VERSION, "id": iid, "source": source.name, "kind": source.kind,
                "event_type": draft.event_type, "category": draft.category, "delivery_id": draft.delivery_id,
                "received_at": received_at, "occurred_at": draft.occurred_at, "title": draft.title,
                "text": draft.text, "html": draft.html, "url": draft.url, "person": draft.person,
                "account_hint": draft.account_hint, "account_update": draft.account_update,
                "score": None if draft.score is None else float(draft.score),
                "attributes": draft.attributes, "raw": draft.raw, **_LATER,
            }
            return Encoded(iid, orjson.dumps(doc, default=_nested, option=_OPTIONS))
        except (TypeError, OverflowError, orjson.JSONEncodeError):
            pass  # a value orjson would not write as pydantic does: take the validated path
    return Encoded(iid, encode(build_item(draft, source, received_at)))


def build_item(draft: Draft, source: SourceConfig, received_at: datetime) -> Item:
    """The validated item (pydantic): the reference the fast path is held to, and its fallback."""
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
