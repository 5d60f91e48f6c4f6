"""Property tests over the whole accept path (`services.ingest.pipeline.accept`) with every registered adapter.

Whatever the bytes and headers, signed or not, `accept` either returns `Accepted` or raises a
`RequestRejected` subclass (a 4xx): never another exception, which the HTTP layer would turn into a 5xx.
And whatever it accepts can be published: every item and dead letter serialises to JSON (a payload that
could not be would answer 503 for ever). Per-adapter properties live in tests/unit/adapters/test_properties.py.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.hostile import SALESFORCE_OK, hostile_env
from services.config.loader import load_config
from services.config.models import SourceConfig
from services.demo.signing import signed_request
from services.ingest.adapters import ADAPTERS
from services.ingest.adapters.base import InboundRequest
from services.ingest.errors import RequestRejected
from services.ingest.pipeline import Accepted, accept, encode, without_lone_surrogates
from tests.conftest import ROOT

pytestmark = pytest.mark.unit

CONFIG = load_config(ROOT / "tests" / "fixtures" / "hostile-config")
ENV = hostile_env()
SAMPLES = ROOT / "examples" / "samples"
KINDS = sorted(ADAPTERS)
# SB_PROPERTY_EXAMPLES=2000 for a longer hunt than `make test` affords
SETTINGS = settings(max_examples=int(os.environ.get("SB_PROPERTY_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

HEADER_NAMES = [
    "content-type", "webhook-id", "webhook-timestamp", "webhook-signature", "x-zendesk-webhook-signature",
    "x-zendesk-webhook-signature-timestamp", "x-zendesk-webhook-invocation-id", "x-hub-signature",
    "x-hub-signature-256", "x-hubspot-signature", "x-hubspot-signature-v3", "x-hubspot-request-timestamp",
    "x-hubspot-signature-version", "x-signature", "authorization", "x-slack-signature", "x-slack-request-timestamp",
    "x-github-event", "x-github-delivery", "stripe-signature", "soapaction", "x-switchboard-token",
    "x-atlassian-webhook-identifier", "host",
]
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/xml; charset=utf-8", "text/plain", ""]

# header values as Starlette hands them over (latin-1 decoded bytes)
header_text = st.text(st.characters(min_codepoint=0, max_codepoint=255, exclude_characters="\r\n"), max_size=80)
# JSON values, including strings with lone surrogates and numbers Python turns into inf/huge ints
json_text = st.text(st.characters(codec=None, categories=None), max_size=30) | st.text(st.characters(categories=["Cs"]), max_size=3)
json_scalar = st.none() | st.booleans() | st.integers() | st.floats() | json_text
json_value = st.recursive(json_scalar, lambda c: st.lists(c, max_size=4) | st.dictionaries(json_text, c, max_size=4), max_leaves=20)


def source(kind: str) -> SourceConfig:
    found = next((s for s in CONFIG.sources if s.kind == kind and s.rate_limit is None), None)
    assert found is not None, f"tests/fixtures/hostile-config has no source of kind {kind}"
    return found


def secrets_of(s: SourceConfig) -> tuple[list[str], list[str]]:
    return [ENV[n] for n in s.secrets], [ENV[n] for n in s.tokens]


def sample(kind: str) -> Any:
    path = SAMPLES / f"{kind}.json"
    if path.is_file():
        return json.loads(path.read_text())
    return {"type": "feedback.created", "data": {"text": "hello"}}


def dumps(value: Any, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def mutated_sample(draw: st.DrawFn, kind: str) -> bytes:
    """The kind's sample payload with random values put at random places (so normalise sees odd shapes)."""
    if kind == "salesforce":
        text = draw(st.text(max_size=40)).replace("&", "&amp;").replace("<", "&lt;")
        return SALESFORCE_OK.replace(b"ORG", (source(kind).organization_id or "").encode()).replace(
            b"hostile", text.encode("utf-8", "replace")
        )
    payload = sample(kind)
    for _ in range(draw(st.integers(0, 6))):
        node, path = payload, []
        while isinstance(node, (dict, list)) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
            path.append(key)
            node = node[key]
        value = draw(json_value)
        if not path:
            payload = value if draw(st.integers(0, 9)) == 0 else payload
            continue
        parent = payload
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value
    return dumps(payload, draw(st.booleans()))


def run_accept(kind: str, headers: dict[str, str], body: bytes, path: str | None = None, now: float | None = None) -> None:
    s = source(kind)
    secrets, tokens = secrets_of(s)
    request = InboundRequest(
        method="POST",
        path=path or f"/webhooks/{s.name}",
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
        query=dict(p.split("=", 1) for p in (path or "").partition("?")[2].split("&") if "=" in p),
    )
    try:
        accepted = accept(request, s, ADAPTERS[kind], secrets, tokens, time.time() if now is None else now,
                          datetime.now(UTC))
    except RequestRejected as exc:
        assert 400 <= exc.status < 500
        return
    assert isinstance(accepted, Accepted)
    for item in accepted.items:  # what ingest publishes, and what enrich reads back
        assert type(item).model_validate_json(encode(item)).id == item.id
    if accepted.dead_letter is not None:
        json.loads(encode(accepted.dead_letter))


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(data=st.data())
def test_unsigned_noise_is_rejected_or_accepted_never_an_error(kind: str, data: st.DataObject) -> None:
    headers = data.draw(st.dictionaries(st.sampled_from(HEADER_NAMES), header_text, max_size=8))
    headers["content-type"] = data.draw(st.sampled_from(CONTENT_TYPES))
    body = data.draw(st.binary(max_size=300) | mutated_sample(kind) | st.sampled_from([b"", b"[" * 70, b"{" * 70]))
    run_accept(kind, headers, body)


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(data=st.data())
def test_signed_payloads_of_any_shape_are_rejected_or_accepted_never_an_error(kind: str, data: st.DataObject) -> None:
    """Correctly signed, so decode and normalise see every body: odd shapes, bad JSON, lone surrogates."""
    s = source(kind)
    secrets, tokens = secrets_of(s)
    body = data.draw(
        mutated_sample(kind)
        | st.builds(dumps, json_value, st.booleans())
        | st.binary(max_size=200)
        | st.sampled_from([b"[" * 100 + b"]" * 100, b'{"a":' * 80 + b"1" + b"}" * 80, b"{}", b"[]", b"null", b'"x"', b"1e999"])
    )
    now = time.time()
    try:
        headers, payload, path = signed_request(s, secrets, tokens, body, now, data.draw(st.none() | st.text(max_size=20)))
    except RecursionError:
        return  # the demo GitHub signer json-parses deep bodies to pick X-GitHub-Event: not the receiver
    except (ValueError, UnicodeError):
        return  # the signer cannot express this delivery id in a header
    if data.draw(st.booleans()):  # and sometimes one header altered after signing
        name = data.draw(st.sampled_from(sorted(headers)))
        headers[name] = data.draw(header_text)
    run_accept(kind, headers, payload, path, now)


def test_lone_surrogates_are_kept_as_replacement_characters() -> None:
    s = source("standard")
    secrets, tokens = secrets_of(s)
    for body in (b'{"type": "feedback.created", "data": {"text": "cut emoji \\ud83d here", "title": "\\udc00"}}',
                 b'{"type": "feedback.created", "data": {"text": "raw \xed\xa0\x80 bytes"}}'):
        headers, payload, path = signed_request(s, secrets, tokens, body, time.time(), "msg_surrogate")
        request = InboundRequest("POST", path, headers, payload)
        accepted = accept(request, s, ADAPTERS["standard"], secrets, tokens, time.time(), datetime.now(UTC))
        (item,) = accepted.items
        stored = json.loads(encode(item))
        assert "\ufffd" in stored["text"] and stored["id"] == item.id
        assert stored["text"].replace("\ufffd", "?") in ("cut emoji ? here", "raw ? bytes")


def test_without_lone_surrogates_leaves_clean_payloads_alone() -> None:
    clean = {"a": ["x", 1, None, {"b": "😀"}]}
    assert without_lone_surrogates(clean) == clean
    assert without_lone_surrogates({"\ud800": "\udfff"}) == {"\ufffd": "\ufffd"}


@pytest.mark.parametrize("ids", [[], ["0123456789abcdef01234567"], ["0123456789abcdef01234567", "abc"], ["we\u00efrd \"id\""], ["\u0661"]])
def test_the_202_body_is_what_json_dumps_writes(ids):
    from services.ingest.adapters.base import accepted_reply

    reply = accepted_reply(ids)
    assert (reply.status, reply.body) == (202, json.dumps({"accepted": len(ids), "ids": ids}).encode())
