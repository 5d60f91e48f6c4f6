"""A full Item from the few fields a person writes by hand (pure): `switchboard rules test` and the routing
config cases (tests/config_cases) both take partial items like `{intent: bug, area: billing, text: ...}`.

Filled in: id, source (default `native`), kind (the source's configured kind), event_type, delivery_id and
received_at; an account id when `account` is given without one; a confidence when `area` is a plain id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.item import Item
from services.config.models import Config


def item_from_partial(partial: dict[str, Any], config: Config) -> Item:
    """Raise pydantic.ValidationError when the fields do not fit the item schema."""
    fields = dict(partial)
    if isinstance(fields.get("account"), dict):
        fields["account"] = {"id": "acc_case", **fields["account"]}
    if isinstance(fields.get("area"), str):
        fields["area"] = {"id": fields["area"], "confidence": 0.9}
    source = fields.get("source", "native")
    configured = config.source(source) if isinstance(source, str) else None
    defaults = {
        "id": "case",
        "source": source,
        "kind": configured.kind if configured else source,
        "event_type": "message",
        "delivery_id": "case-1",
        "received_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    return Item.model_validate({**defaults, **fields})
