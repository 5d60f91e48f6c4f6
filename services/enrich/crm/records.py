"""Reading CRM records: field-name maps (defaults plus config overrides) and lenient value conversion."""

from __future__ import annotations

import re
from typing import Any

from services.enrich.crm.lookup import CrmConfigError

PROPERTY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def as_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value).replace(",", ""))
    except ValueError:
        return None


def as_str(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def field_map(defaults: dict[str, str], overrides: dict[str, str] | None) -> dict[str, str]:
    mapping = dict(defaults)
    for key, value in (overrides or {}).items():
        if key in mapping and value:
            if not PROPERTY_RE.match(value):
                raise CrmConfigError(f"CRM field name {value!r} for {key} is not a plain field name")
            mapping[key] = value
    return mapping
