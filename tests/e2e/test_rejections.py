"""Every bad request gets its contract status (404/413/415/401/400) and publishes nothing;
a verified payload we cannot normalise is accepted and kept in the dead-letter stream;
503 with Retry-After while the broker is down."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import nats
import pytest

from services.common import names
from tests.e2e.conftest import Running, start_switchboard

pytestmark = pytest.mark.e2e


def stream_counts(nats_url: str) -> dict[str, int]:
    async def go() -> dict[str, int]:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        counts = {s: (await js.stream_info(s)).state.messages for s in (names.EVENTS, names.DLQ)}
        await nc.close()
        return counts

    return asyncio.run(go())


def test_bad_requests_get_their_status_and_publish_nothing(switchboard: Running) -> None:
    before = stream_counts(switchboard.nats_url)
    good = json.dumps({"type": "x", "data": {"text": "hello"}}).encode()
    url = switchboard.url + "/webhooks/native"
    cases = []
    cases.append(("unknown source", httpx.post(switchboard.url + "/webhooks/nope", content=good, headers={"content-type": "application/json"}), 404))
    cases.append(("too large", httpx.post(url, content=b"{" + b" " * (2 * 1024 * 1024) + b"}", headers={"content-type": "application/json"}), 413))
    cases.append(("wrong type", httpx.post(url, content=good, headers={"content-type": "text/plain"}), 415))
    cases.append(("no signature", httpx.post(url, content=good, headers={"content-type": "application/json"}), 401))
    signed = switchboard.post("native", good)  # sanity: the same body signed is accepted
    assert signed.status_code == 202
    tampered_headers = {k: v for k, v in signed.request.headers.items() if k.lower() != "content-length"}
    cases.append(("tampered", httpx.post(url, content=good + b" ", headers=tampered_headers), 401))
    stale = switchboard.post("native", good, now=time.time() - 3600)
    cases.append(("stale timestamp", stale, 401))
    future = switchboard.post("native", good, now=time.time() + 3600)
    cases.append(("future timestamp", future, 401))
    cases.append(("malformed json", switchboard.post("native", b'{"type": "x", "data": '), 400))
    cases.append(("deep nesting", switchboard.post("native", b"[" * 100_000 + b"]" * 100_000), 400))
    for name, resp, status in cases:
        assert resp.status_code == status, (name, resp.status_code, resp.text)
    after = stream_counts(switchboard.nats_url)
    assert after[names.EVENTS] == before[names.EVENTS] + 1  # only the signed sanity request
    assert after[names.DLQ] == before[names.DLQ]


def test_verified_but_unusable_payload_is_kept_in_the_dead_letter_stream(switchboard: Running) -> None:
    before = stream_counts(switchboard.nats_url)
    resp = switchboard.post("native", json.dumps({"type": "feedback.created", "data": {"text": ""}}).encode())
    assert resp.status_code == 202 and resp.json()["accepted"] == 1
    after = stream_counts(switchboard.nats_url)
    assert after[names.DLQ] == before[names.DLQ] + 1
    assert after[names.EVENTS] == before[names.EVENTS]


def test_503_with_retry_after_while_the_broker_is_down(nats_server, tmp_path) -> None:
    sb = start_switchboard(nats_server.url, tmp_path)
    try:
        nats_server.kill()
        resp = sb.post("native", json.dumps({"type": "x", "data": {"text": "are you there?"}}).encode())
        assert resp.status_code == 503
        assert int(resp.headers["retry-after"]) > 0
    finally:
        sb.process.kill()
        sb.process.wait()
