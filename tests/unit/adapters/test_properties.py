"""Property tests over every registered adapter: whatever arrives, adapters answer only with their
typed errors (RequestRejected subclasses for verify/decode, NormaliseError for normalise), and every
Draft they produce maps onto a valid Item."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.item import Item
from services.ingest.adapters import ADAPTERS
from services.ingest.adapters.base import Draft, InboundRequest
from services.ingest.errors import NormaliseError, RequestRejected

from . import SAMPLES, make_source

pytestmark = pytest.mark.unit

KINDS = sorted(ADAPTERS)
NOW = 1_772_443_964.0
HEADER_NAMES = [
    "content-type", "authorization", "webhook-id", "webhook-timestamp", "webhook-signature",
    "x-zendesk-webhook-signature", "x-zendesk-webhook-signature-timestamp", "x-zendesk-webhook-invocation-id",
    "x-hub-signature", "x-hub-signature-256", "x-hubspot-signature", "x-hubspot-signature-version",
    "x-hubspot-signature-v3", "x-hubspot-request-timestamp", "x-signature", "x-slack-signature",
    "x-slack-request-timestamp", "x-github-event", "x-github-delivery", "stripe-signature",
    "x-atlassian-webhook-identifier", "soapaction", "host",
]
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/xml", "application/soap+xml", "text/plain", ""]
KEYS = [
    "type", "id", "data", "item", "detail", "event", "topic", "object", "text", "body", "subject", "description",
    "comment", "issue", "fields", "properties", "traits", "batch", "payload", "challenge", "command", "user",
    "eventId", "subscriptionType", "objectId", "propertyName", "propertyValue", "messageId", "uniqueId", "created",
    "timestamp", "created_at", "ticket", "ticket_id", "event_id", "event_time", "customer", "cancellation_details",
    "conversation_parts", "source", "author", "email", "name", "action", "webhookEvent", "groupId", "userId",
    "accountId", "visitorId", "score", "url", "company", "portalId", "occurredAt", "Notification", "sObject",
]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)


def _source(kind: str):
    return make_source(
        kind,
        secrets=["S"],
        tokens=["T"],
        public_url="https://example.com/webhooks/x",
        organization_id="00D000000000001",
        options={"subdomain": "acme"},
    )


def _samples(kind: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted(SAMPLES.glob(f"{kind}.*"))]


@st.composite
def mutated(draw, value: Any) -> Any:
    """The value with random subtrees replaced by arbitrary JSON."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    if isinstance(value, dict):
        return {k: draw(mutated(v)) for k, v in value.items() if draw(st.integers(0, 12))}
    if isinstance(value, list):
        return [draw(mutated(v)) for v in value]
    return value


header_values = (
    st.text(max_size=80)
    | st.text(alphabet="0123456789", min_size=4301, max_size=4400)  # int() refuses > 4300 digits
    | st.from_regex(r"\A(t=\d{1,12},v1=[0-9a-f]{0,64}|v0=[0-9a-f]{0,64}|sha(1|256)=[0-9a-f]{0,64}|v1,[A-Za-z0-9+/=]{0,44})\Z")
)
headers_st = st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=8)


def _request(headers: dict[str, str], body: bytes, ct: str) -> InboundRequest:
    h = dict(headers)
    if ct:
        h["content-type"] = ct
    return InboundRequest("POST", "/webhooks/x?token=T", h, body, {"token": "T"})


def _check_drafts(kind: str, drafts: Any) -> None:
    assert isinstance(drafts, list)
    for d in drafts:
        assert isinstance(d, Draft)
        # (non-empty once verify passed; normalise here also sees requests that failed verify)
        assert isinstance(d.delivery_id, str)
        assert isinstance(d.event_type, str) and d.event_type
        fields = {f.name: getattr(d, f.name) for f in dataclasses.fields(d)}
        item = Item(id="x", source="x", kind=kind, received_at=datetime.now(UTC), **fields)
        item.model_dump_json()
        if d.occurred_at is not None:
            assert d.occurred_at.utcoffset() is not None and d.occurred_at.utcoffset().total_seconds() == 0


def _run_all(kind: str, request: InboundRequest) -> None:
    adapter = ADAPTERS[kind]
    source = _source(kind)
    try:
        adapter.verify(request, ["S"], ["T"], source, NOW)
    except RequestRejected:
        pass
    try:
        payload = adapter.decode(request)
    except RequestRejected:
        return
    try:
        adapter.reply(payload, request)
        _check_drafts(kind, adapter.normalise(payload, request, source))
    except NormaliseError:
        pass


# SWITCHBOARD_FUZZ_EXAMPLES=2000 for a longer run (CI keeps the suite quick)
SETTINGS = settings(max_examples=int(os.environ.get("SWITCHBOARD_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(body=st.binary(max_size=300), headers=headers_st, ct=st.sampled_from(CONTENT_TYPES))
def test_arbitrary_bytes(kind, body, headers, ct):
    _run_all(kind, _request(headers, body, ct))


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(value=json_values, headers=headers_st)
def test_arbitrary_json(kind, value, headers):
    body = json.dumps(value).encode()
    _run_all(kind, _request(headers, body, "application/json"))
    _run_all(kind, _request(headers, b"payload=" + body, "application/x-www-form-urlencoded"))


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(data=st.data(), headers=headers_st)
def test_mutated_samples(kind, data, headers):
    for raw in _samples(kind):
        try:
            value = json.loads(raw)
        except ValueError:
            # XML / form samples: mutate bytes instead
            pos = data.draw(st.integers(0, len(raw)))
            cut = data.draw(st.integers(0, 40))
            ins = data.draw(st.binary(max_size=20))
            body = raw[:pos] + ins + raw[pos + cut :]
            ct = "text/xml" if raw.lstrip().startswith(b"<") else "application/x-www-form-urlencoded"
            _run_all(kind, _request(headers, body, ct))
            continue
        mutated_value = data.draw(mutated(value))
        _run_all(kind, _request(headers, json.dumps(mutated_value).encode(), "application/json"))


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_a_sample(kind):
    assert _samples(kind), f"examples/samples/{kind}.* is missing"
