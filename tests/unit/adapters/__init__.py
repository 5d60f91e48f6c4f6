"""Unit tests of the source adapters. Shared helpers live here (import them relatively)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from services.config.models import SourceConfig
from services.demo.signing import signed_request
from services.ingest.adapters import adapter_for
from services.ingest.adapters.base import Draft, InboundRequest

SAMPLES = Path(__file__).resolve().parents[3] / "examples" / "samples"


def sample_bytes(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample_json(name: str) -> Any:
    return json.loads(sample_bytes(name))


def make_source(kind: str, **kwargs: Any) -> SourceConfig:
    kwargs.setdefault("secrets", [f"{kind.upper()}_SECRET"])
    return SourceConfig(name=kwargs.pop("name", kind), kind=kind, **kwargs)


def make_request(headers: dict[str, str], body: bytes, path: str = "/webhooks/x", method: str = "POST") -> InboundRequest:
    query = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
    return InboundRequest(method, path, {k.lower(): v for k, v in headers.items()}, body, query)


def signed(
    source: SourceConfig,
    body: bytes,
    now: float,
    secrets: list[str] | None = None,
    tokens: list[str] | None = None,
    delivery_id: str | None = None,
) -> InboundRequest:
    headers, body, path = signed_request(source, secrets or [], tokens or [], body, now, delivery_id)
    return make_request(headers, body, path)


def accept(
    source: SourceConfig,
    request: InboundRequest,
    now: float,
    secrets: list[str] | None = None,
    tokens: list[str] | None = None,
) -> list[Draft]:
    """What ingest does after the content-type check: verify, decode, reply/normalise."""
    adapter = adapter_for(source.kind)
    assert adapter is not None
    assert request.content_type in adapter.content_types, request.content_type
    adapter.verify(request, secrets or [], tokens or [], source, now)
    payload = adapter.decode(request)
    assert adapter.reply(payload, request) is None
    return adapter.normalise(payload, request, source)
