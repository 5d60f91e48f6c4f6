"""Hostile input against a running `switchboard up` (reliability matrix T8, contract 2).

Over a thousand bad requests across every source kind this build has: unknown sources, oversize bodies
(declared and chunked), wrong content types, missing and bad signatures/tokens, stale and future
timestamps, malformed JSON, 100,000-deep nesting, XML bombs and external entities (Salesforce), and a
burst over a per-source rate limit. Each gets its exact status and never a 5xx, nothing is published
but the valid control requests, and the server's memory stays flat. `pytest -s` prints the table.

Also: the check order (the first failing check answers: 404 → 429 → 413 → 415 → 401 → 400), shown with
requests that fail several checks at once, and /metrics behind SWITCHBOARD_ADMIN_TOKEN.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Iterator
from unittest import mock

import httpx
import nats
import pytest

from bench.hostile import Cases, hostile_env, rss_bytes, run, table
from services.common import names
from services.common.embedded import EmbeddedNats
from tests.conftest import ROOT
from tests.e2e.conftest import Running, start_switchboard

pytestmark = pytest.mark.e2e

CONFIG = ROOT / "tests" / "fixtures" / "hostile-config"
ADMIN_TOKEN = "hostile-admin-token-" + os.urandom(8).hex()
RSS_GROWTH_BOUND = 50 * 1024 * 1024  # a resource bound: a leak per request would blow well past it


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("hostile")
    server = EmbeddedNats(tmp / "nats").start()
    env = hostile_env()
    with mock.patch.dict(os.environ, {**env, "SWITCHBOARD_ADMIN_TOKEN": ADMIN_TOKEN}):
        sb = start_switchboard(server.url, tmp, CONFIG)
    try:
        yield sb, env
    finally:
        sb.process.terminate()
        try:
            sb.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            sb.process.kill()
        server.stop()


def stream_counts(nats_url: str) -> dict[str, int]:
    async def go() -> dict[str, int]:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            return {s: (await js.stream_info(s)).state.messages for s in (names.EVENTS, names.DLQ)}
        finally:
            await nc.close()

    return asyncio.run(go())


def test_hostile_requests_get_their_status_publish_nothing_and_leave_memory_flat(hostile) -> None:  # type: ignore[no-untyped-def]
    sb, env = hostile
    builder = Cases(sb.config, env)
    cases = builder.build()
    with httpx.Client(timeout=30) as client:
        run(sb.url, cases[:60], client)  # warm-up: imports, buffers and caches settle before the baseline
        time.sleep(0.5)
        before = stream_counts(sb.nats_url)
        rss_before = rss_bytes(sb.process.pid)
        rows, statuses = run(sb.url, Cases(sb.config, env).build(), client)
        rows += run(sb.url, builder.burst(), client)[0]
        rss_after = rss_bytes(sb.process.pid)
    time.sleep(0.5)  # the control items are published before their 202; enrich/route do not touch these counts
    after = stream_counts(sb.nats_url)
    events_delta = after[names.EVENTS] - before[names.EVENTS]
    dlq_delta = after[names.DLQ] - before[names.DLQ]
    report = table(rows, events_delta, dlq_delta, (rss_before, rss_after))
    print("\n" + report)
    out = os.environ.get("SWITCHBOARD_HOSTILE_TABLE")  # where docs/reliability.md's table comes from
    if out:
        Path(out).write_text(report + "\n")

    hostile_requests = sum(r.requests for r in rows if r.category not in ("valid control (signed)", "lone surrogates in JSON (signed)", "burst over rate limit"))
    assert hostile_requests >= 1000, hostile_requests
    assert sum(r.server_errors for r in rows) == 0, report
    wrong = {r.category: r.wrong[:5] for r in rows if r.wrong}
    assert not wrong, f"{wrong}\n{report}"
    published = sum(r.published for r in rows)
    assert events_delta == published, report  # only the valid control requests (and the burst's first few)
    assert dlq_delta == 0, report
    burst = next(r for r in rows if r.category == "burst over rate limit")
    assert burst.got["429"] >= burst.requests - 20, report  # burst of 5, then 1/s while the burst lasts
    assert 5 <= burst.got["202"] <= 20, report
    assert rss_after - rss_before < RSS_GROWTH_BOUND, report


def _post(sb: Running, source: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{sb.url}/webhooks/{source}", content=body, headers=headers, timeout=30)


def _exhaust(sb: Running, source: str) -> httpx.Response:
    for _ in range(50):
        resp = _post(sb, source, b"{}", {"content-type": "application/json"})
        if resp.status_code == 429:
            return resp
    raise AssertionError(f"{source} never answered 429")


def test_the_first_failing_check_answers(hostile) -> None:  # type: ignore[no-untyped-def]
    """404 → 429 → 413 → 415 → 401 → 400, shown with requests that fail several checks at once."""
    sb, env = hostile
    native = sb.config.source("native")
    assert native is not None
    cases = Cases(sb.config, env)
    big = b"{" + b" " * native.max_body_bytes + b"}"
    malformed = b'{"type": "x", "data": '
    signed_h, _, _ = cases.signed(native, malformed)
    bad_sig = {**signed_h, "webhook-signature": "v1," + "A" * 44}
    stale_h, _, _ = cases.signed(native, malformed, now=time.time() - 3600)

    def chunked(data: bytes) -> Iterator[bytes]:
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    before = stream_counts(sb.nats_url)
    checks = [
        ("unknown source + oversize + wrong type", "nope", big, {"content-type": "text/plain"}, 404),
        ("unknown source + malformed + no signature", "nope", malformed, {"content-type": "application/json"}, 404),
        ("oversize + wrong type", "native", big, {"content-type": "text/plain"}, 413),
        ("oversize (chunked) + wrong type", "native", chunked(big), {"content-type": "text/plain"}, 413),
        ("oversize + bad signature", "native", big, {**bad_sig}, 413),
        ("wrong type + bad signature", "native", malformed, {**bad_sig, "content-type": "text/plain"}, 415),
        ("wrong type + no signature + malformed", "native", malformed, {"content-type": "application/xml"}, 415),
        ("bad signature + malformed body", "native", malformed, bad_sig, 401),
        ("stale timestamp + malformed body", "native", malformed, stale_h, 401),
        ("no signature + 100k-deep nesting", "native", b"[" * 100_000, {"content-type": "application/json"}, 401),
        ("valid signature + malformed body", "native", malformed, signed_h, 400),
    ]
    for what, source, body, headers, status in checks:
        resp = _post(sb, source, body, headers)
        assert resp.status_code == status, (what, resp.status_code, resp.text)
    # the rate limit sits right after the source lookup: once over it, every request is 429 whatever else is wrong
    _exhaust(sb, "trickle")
    for what, body, headers in [
        ("over the limit + oversize + wrong type", big, {"content-type": "text/plain"}),
        ("over the limit + bad signature", malformed, bad_sig),
    ]:
        resp = _post(sb, "trickle", body, headers)
        assert resp.status_code == 429, (what, resp.status_code, resp.text)
        assert 1 <= int(resp.headers["retry-after"]) <= 100
    # ...but never for a source that does not exist (no bucket to spend)
    assert _post(sb, "trickle-nope", b"{}", {"content-type": "application/json"}).status_code == 404
    after = stream_counts(sb.nats_url)
    assert after == before


def test_rate_limit_recovers_after_retry_after(hostile) -> None:  # type: ignore[no-untyped-def]
    sb, env = hostile
    limited = sb.config.source("limited")
    assert limited is not None
    resp = _exhaust(sb, "limited")
    time.sleep(int(resp.headers["retry-after"]) + 0.1)
    body = json.dumps({"type": "feedback.created", "data": {"text": "after the wait"}}).encode()
    h, b, p = Cases(sb.config, env).signed(limited, body, delivery_id=f"msg_after_wait_{time.time_ns()}")
    assert httpx.post(sb.url + p, content=b, headers=h, timeout=10).status_code == 202


def test_metrics_needs_the_admin_token_when_one_is_set(hostile) -> None:  # type: ignore[no-untyped-def]
    sb, _ = hostile
    assert httpx.get(sb.url + "/metrics", timeout=5).status_code == 401
    assert httpx.get(sb.url + "/metrics", headers={"authorization": "Bearer wrong"}, timeout=5).status_code == 401
    assert httpx.get(sb.url + "/metrics", headers={"authorization": ADMIN_TOKEN}, timeout=5).status_code == 401
    resp = httpx.get(sb.url + "/metrics", headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=5)
    assert resp.status_code == 200 and b"switchboard" in resp.content
    # health probes stay open (orchestrators call them without credentials)
    assert httpx.get(sb.url + "/healthz", timeout=5).status_code == 200
    assert httpx.get(sb.url + "/readyz", timeout=5).status_code == 200
