"""Source adapters, one module per kind. `ADAPTERS[kind]` is the adapter for a sources.yaml `kind`."""

from __future__ import annotations

import importlib

from services.ingest.adapters.base import Adapter

# kind -> module name under services.ingest.adapters
_MODULES = {
    "standard": "standard",
    "zendesk": "zendesk",
    "intercom": "intercom",
    "hubspot": "hubspot",
    "salesforce": "salesforce",
    "segment": "segment",
    "pendo": "pendo",
    "jira": "jira",
    "slack": "slack",
    "github": "github",
    "stripe": "stripe",
    "freshdesk": "freshdesk",
}

ADAPTERS: dict[str, Adapter] = {
    kind: importlib.import_module(f"services.ingest.adapters.{module}")  # type: ignore[misc]
    for kind, module in _MODULES.items()
}


def adapter_for(kind: str) -> Adapter | None:
    return ADAPTERS.get(kind)
