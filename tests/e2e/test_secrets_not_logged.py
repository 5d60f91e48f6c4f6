"""Secrets and raw signatures never reach the logs (anchors §3.12), nor the streams.

Runs `switchboard up` with debug logging and fresh random secrets for every source kind, sends valid and
invalid signed requests (signature headers, bearer tokens, `?token=` URL tokens, the admin token), then
searches the process's whole log, and every message in SB_EVENTS and SB_DLQ, for each secret value and
each credential header value that was sent. None may appear.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import time
from unittest import mock

import httpx
import nats
import pytest

from bench.hostile import Cases, _garble, hostile_env
from services.common import names
from services.common.embedded import EmbeddedNats
from tests.conftest import ROOT
from tests.pipeline_idle import wait_idle
from tests.e2e.conftest import start_switchboard

pytestmark = pytest.mark.e2e

CONFIG = ROOT / "tests" / "fixtures" / "hostile-config"
CREDENTIAL_WORDS = ("signature", "authorization", "token", "secret")


async def _stream_bytes(url: str) -> bytes:
    nc = await nats.connect(url)
    out = []
    try:
        js = nc.jetstream()
        for stream in (names.EVENTS, names.DLQ):
            info = await js.stream_info(stream)
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                try:
                    msg = await js.get_msg(stream, seq)
                except Exception:  # noqa: BLE001 - a deleted sequence
                    continue
                out.append(msg.data or b"")
    finally:
        await nc.close()
    return b"\n".join(out)


def test_no_secret_or_signature_in_logs_or_streams(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = hostile_env(seed=secrets.token_hex(16))
    admin = "admin-" + secrets.token_hex(16)
    server = EmbeddedNats(tmp_path / "nats").start()
    with mock.patch.dict(os.environ, {**env, "SWITCHBOARD_ADMIN_TOKEN": admin, "SWITCHBOARD_LOG_LEVEL": "debug"}):
        sb = start_switchboard(server.url, tmp_path, CONFIG)
    sent: set[str] = set()
    statuses: list[int] = []
    try:
        cases = Cases(sb.config, env)
        with httpx.Client(timeout=30) as client:
            def post(path: str, headers: dict[str, str], body: bytes) -> None:
                for k, v in headers.items():
                    if any(w in k.lower() for w in CREDENTIAL_WORDS):
                        sent.add(v)
                if "token=" in path:
                    sent.add(path.split("token=", 1)[1].split("&")[0])
                statuses.append(client.post(sb.url + path, content=body, headers=headers).status_code)

            for s in cases.sources:
                body = cases.sample(s)
                h, b, p = cases.signed(s, body, delivery_id=f"msg_secret_{time.time_ns()}")
                post(p, h, b)  # valid (202, or 202 + dead letter when the sample does not fit the kind)
                post(p, h, b + b" ")  # tampered body
                post(p, _garble(h, cases.rng), b)  # garbled credentials
                wrong = {"secrets": ["whsec_" + "B" * 43]} if s.secrets else {"tokens": ["wrong-" + secrets.token_hex(8)]}
                wh, wb, wp = cases.signed(s, body, **wrong)  # type: ignore[arg-type]
                post(wp, wh, wb)  # the right scheme under the wrong key
                post(p, h, b"{" * 100)  # signed for another body, malformed
                if s.tokens:  # the URL and header token forms
                    token = env[s.tokens[0]]
                    post(f"/webhooks/{s.name}?token={token}", {"content-type": "application/json"}, b"{not json")
                    post(f"/webhooks/{s.name}?a=1&token={token}", {"content-type": "application/json"}, b"\"url token\"")  # DLQ keeps :path
                    post(f"/webhooks/{s.name}?token=wrong-{token[:6]}", {"content-type": "application/json"}, b)
                    post(f"/webhooks/{s.name}", {"content-type": "application/json", "x-switchboard-token": token}, b"[")
            # a malformed body with a valid signature (dead-lettered or 400) and an unknown source with a signature
            native = sb.config.source("native")
            assert native is not None
            h, b, p = cases.signed(native, json.dumps({"type": "x", "data": {"text": ""}}).encode())
            post(p, h, b)
            post("/webhooks/unknown-source", h, b)
            # the admin token, right and wrong
            for auth in (f"Bearer {admin}", f"Bearer {admin[:-1]}", admin):
                sent.add(auth)
                statuses.append(client.get(sb.url + "/metrics", headers={"authorization": auth}).status_code)
        wait_idle(sb.nats_url)  # every accepted item went through enrich and route (and logged what they log)
        streams = asyncio.run(_stream_bytes(sb.nats_url))
    finally:
        sb.process.terminate()
        try:
            sb.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            sb.process.kill()
        server.stop()

    log = sb.log.read_bytes()
    assert b"webhook.rejected" in log and b"item.received" in log  # the log did record these requests
    assert 202 in statuses and 401 in statuses and all(s < 500 for s in statuses), statuses
    needles = {v for v in env.values()} | {admin} | {v for v in sent if len(v) >= 8}
    # also the key material inside the values: the base64 part of whsec_ secrets, the hex of signatures
    needles |= {v.split(",", 1)[-1].split("=", 1)[-1] for v in sent if len(v.split(",", 1)[-1].split("=", 1)[-1]) >= 16}
    needles |= {v.removeprefix("whsec_") for v in env.values()}
    for needle in sorted(needles):
        raw = needle.encode()
        escaped = json.dumps(needle)[1:-1].encode()  # as the JSON log renderer would write it
        assert raw not in log and escaped not in log, f"credential found in the log: {needle[:12]}..."
        assert raw not in streams and escaped not in streams, f"credential found in a stream: {needle[:12]}..."
