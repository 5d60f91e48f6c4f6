"""The fast path (services/ingest/item_json.py) publishes exactly what the pydantic model would: the same bytes
for every adapter's samples and for hypothesis-generated drafts, including values the fast path must refuse
(ints beyond 64 bits, lone surrogates, non-UTC datetimes, wrong types), which take the validated path."""

from __future__ import annotations

import hmac
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.item import AccountRef, AccountUpdate, Item, Person
from services.cli.demo import read_env_file
from services.config.loader import load_config
from services.config.models import SourceConfig
from services.ingest.adapters.base import Draft, decode_json, has_long_digit_run, hmac_digest
from services.ingest.item_json import encode_draft, fast_safe
from services.ingest.pipeline import build_item, encode

from .adapters import SAMPLES, accept, signed

pytestmark = pytest.mark.unit

NOW = 1_772_443_900.0
RECEIVED = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)
SOURCE = SourceConfig(name="native", kind="standard", secrets=["S"])


CONFIG = load_config(SAMPLES.parent / "config")
ENV = read_env_file(SAMPLES.parent / "demo.env")


def reference(draft: Draft, source: SourceConfig, received_at: datetime) -> bytes:
    return encode(build_item(draft, source, received_at))


@pytest.mark.parametrize("source", CONFIG.sources, ids=lambda s: s.name)
def test_every_sample_encodes_identically(source):
    secrets, tokens = [ENV[n] for n in source.secrets], [ENV[n] for n in source.tokens]
    samples = sorted(Path(SAMPLES).glob(f"{source.kind}.*"))
    assert samples
    fast = 0
    for sample in samples:
        request = signed(source, sample.read_bytes(), NOW, secrets, tokens, delivery_id=f"demo-{source.name}")
        for draft in accept(source, request, NOW, secrets, tokens):
            encoded = encode_draft(draft, source, RECEIVED)
            assert encoded.payload == reference(draft, source, RECEIVED), sample.name
            assert encoded.id == Item.model_validate_json(encoded.payload).id
            fast += fast_safe(draft, RECEIVED)
    assert fast, "the samples should take the fast path, or this test proves nothing about it"


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(), st.datetimes(timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30))])),
)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                     max_leaves=12)
_opt_text = st.none() | st.text()
_times = st.none() | st.datetimes(timezones=st.sampled_from([None, UTC, timezone.utc, timezone(timedelta(hours=-3))]))
_drafts = st.builds(
    Draft,
    delivery_id=st.text(min_size=1),
    event_type=st.text(),
    category=st.sampled_from(["feedback", "account", "usage", "system"]),
    title=_opt_text, text=_opt_text, html=_opt_text, url=_opt_text,
    occurred_at=_times,
    person=st.none() | st.builds(Person, id=_opt_text, email=_opt_text, name=_opt_text, external_id=_opt_text),
    account_hint=st.none() | st.builds(AccountRef, id=_opt_text, domain=_opt_text),
    account_update=st.none() | st.builds(AccountUpdate, id=st.text(), arr=st.none() | st.floats(allow_nan=False),
                                         attributes=st.dictionaries(st.text(), st.text(), max_size=3)),
    score=st.none() | st.floats(allow_nan=False) | st.integers(min_value=-10**6, max_value=10**6),
    attributes=st.dictionaries(st.text(), _json, max_size=4),
    raw=_json,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(draft=_drafts, received_at=_times.filter(lambda t: t is not None))
def test_generated_drafts_encode_identically(draft, received_at):
    try:
        expected = reference(draft, SOURCE, received_at)
    except Exception as exc:  # noqa: BLE001 - what the model refuses, the fast path must refuse the same way
        with pytest.raises(type(exc)):
            encode_draft(draft, SOURCE, received_at)
        return
    assert encode_draft(draft, SOURCE, received_at).payload == expected


def test_values_orjson_would_write_differently_take_the_validated_path():
    big = Draft("d", "e", raw={"n": 2**70}, text="a \ud83d cut emoji")
    assert encode_draft(big, SOURCE, RECEIVED).payload == reference(big, SOURCE, RECEIVED)
    assert b"1180591620717411303424" in encode_draft(big, SOURCE, RECEIVED).payload


@settings(max_examples=300, deadline=None)
@given(value=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=12))
def test_decode_json_returns_what_json_loads_returns(value):
    body = json.dumps(value).encode()
    assert decode_json(body) == json.loads(body)
    assert repr(decode_json(body)) == repr(json.loads(body))  # 1 stays 1, 1.0 stays 1.0, big ints stay ints


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=80) | st.text(alphabet="0123456789x", max_size=60).map(str.encode))
def test_long_digit_runs_are_found_as_the_regex_finds_them(body):
    assert has_long_digit_run(body) == (re.search(rb"[0-9]{19}", body) is not None)


@settings(max_examples=100, deadline=None)
@given(key=st.binary(max_size=200), message=st.binary(max_size=300), algo=st.sampled_from(["sha256", "sha1"]))
def test_hmac_digest_from_a_keyed_copy_is_hmac_digest(key, message, algo):
    assert hmac_digest(key, message, algo) == hmac.digest(key, message, algo)
    assert hmac_digest(key, message, algo) == hmac.digest(key, message, algo)  # the cached state is not consumed
