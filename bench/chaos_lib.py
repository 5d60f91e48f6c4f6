"""Shared machinery of the fault scenarios (`make chaos`, tests/e2e/test_kill_recovery.py).

- `Sender`: signed native webhooks over HTTP; every delivery is retried (same delivery id, re-signed with
  a fresh timestamp) after any non-2xx or connection error until it is acknowledged or its deadline
  passes. It keeps the ledger: sent, acknowledged, statuses seen.
- `landed`: every item id found in the final places (SB_QUEUES, SB_ANSWERS, SB_DROPPED, SB_RECORDS,
  SB_DLQ), counted, so "exactly once" is checked by id across all of them.
- `Proc`: a `switchboard <command>` subprocess with its own log, killed with SIGKILL.
Everything is bound to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import httpx

from bench.readiness import all_after, started_in
from bench.run import EXAMPLE_CONFIG, ROOT, SB, demo_env
from schemas.item import item_id
from services.common import names
from services.common.broker import server_list
from services.config.loader import load_config
from services.demo.signing import signed_request

FINAL_STREAMS = (names.QUEUES, names.ANSWERS, names.DROPPED, names.RECORDS, names.DLQ)

TEXTS = [
    "The Salesforce sync stopped this morning and none of our opportunities update",
    "How do I set up SSO with Okta for our workspace?",
    "Please add a dark mode to the dashboard",
    "We were charged twice for the March invoice",
    "The mobile app logs me out every time I switch apps",
    "Exports to CSV time out for large workspaces",
    "Love the new reporting page, great work",
    "We are evaluating other vendors because pricing went up",
    "Can we get an API endpoint for bulk user import?",
    "The Slack notifications arrive an hour late",
]
DOMAINS = ["northwind.com", "globex.com", "initech.io", "umbrellahealth.org", "hooli.dev", "example.org"]


def chaos_config(dest: Path) -> Path:
    """The example config, with one extra rule set untouched; sources: only `native`, no rate limit."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(EXAMPLE_CONFIG, dest)
    (dest / "sources.yaml").write_text("sources:\n  - name: native\n    kind: standard\n    secrets: [SWITCHBOARD_NATIVE_SECRET]\n")
    return dest


def body_for(n: int, text: str | None = None) -> bytes:
    import json

    t = text or f"{TEXTS[n % len(TEXTS)]} (ticket {n})"
    return json.dumps({"type": "feedback.created", "timestamp": "2026-03-02T10:00:00Z",
                       "data": {"text": t, "email": f"user{n % 97}@{DOMAINS[n % len(DOMAINS)]}"}}).encode()


@dataclass
class Ledger:
    sent: int = 0
    acknowledged: set[str] = field(default_factory=set)  # item ids answered 2xx
    unacknowledged: set[str] = field(default_factory=set)  # gave up (deadline)
    statuses: Counter = field(default_factory=Counter)  # type: ignore[type-arg]
    started: float = field(default_factory=time.monotonic)

    def summary(self) -> str:
        st = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items(), key=str))
        return f"sent {self.sent}, acknowledged {len(self.acknowledged)} ({st})"


class Sender:
    """Posts signed `native` webhooks; retries each until 2xx (same delivery id), like a real sender."""

    def __init__(self, base_url: Callable[[], str], run_id: str, concurrency: int = 32,
                 give_up_after: float = 180.0, body: Callable[[int], bytes] = body_for) -> None:
        self.base_url = base_url
        self.run_id = run_id
        self.concurrency = concurrency
        self.give_up_after = give_up_after
        self.body = body
        self.ledger = Ledger()
        cfg = load_config(EXAMPLE_CONFIG).source("native")
        assert cfg is not None
        self.source = cfg
        self.secret = demo_env()["SWITCHBOARD_NATIVE_SECRET"]

    def delivery(self, n: int) -> str:
        return f"msg_{self.run_id}_{n}"

    def item_id(self, n: int) -> str:
        return item_id(self.source.name, self.delivery(n))

    async def _one(self, client: httpx.AsyncClient, n: int) -> None:
        delivery = self.delivery(n)
        body = self.body(n)
        deadline = time.monotonic() + self.give_up_after
        attempt = 0
        self.ledger.sent += 1
        while True:
            headers, payload, path = signed_request(self.source, [self.secret], [], body, time.time(), delivery)
            try:
                resp = await client.post(self.base_url() + path, content=payload, headers=headers)
                self.ledger.statuses[resp.status_code] += 1
                if 200 <= resp.status_code < 300:
                    ids = resp.json()["ids"]
                    assert ids == [self.item_id(n)], (ids, n)
                    self.ledger.acknowledged.add(ids[0])
                    return
            except (httpx.HTTPError, OSError):
                self.ledger.statuses["conn-error"] += 1
            attempt += 1
            if time.monotonic() > deadline:
                self.ledger.unacknowledged.add(self.item_id(n))
                return
            await asyncio.sleep(min(1.0, 0.05 * 2 ** min(attempt, 5)) * (0.5 + random.random()))

    async def send(self, numbers: Sequence[int], on_progress: Callable[[int], None] | None = None) -> Ledger:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in numbers:
            queue.put_nowait(n)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=2.0), limits=limits) as client:
            async def worker() -> None:
                while True:
                    try:
                        n = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    await self._one(client, n)
                    if on_progress:
                        on_progress(len(self.ledger.acknowledged))

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        return self.ledger


async def landed(nats_url: str) -> Counter:  # type: ignore[type-arg]
    """How many times each item id appears across the final streams (subjects end with the item id)."""
    import nats

    from services.dlq.store import read_stream

    nc = await nats.connect(server_list(nats_url), max_reconnect_attempts=10)
    js = nc.jetstream()
    counts: Counter = Counter()  # type: ignore[type-arg]
    try:
        for stream in FINAL_STREAMS:
            for _, subject, _, _ in await read_stream(js, stream, [names.all_stream_filter(stream)]):
                counts[names.split_item_subject(subject)[0]] += 1
    finally:
        await nc.close()
    return counts


async def drained(nats_url: str) -> bool:
    """Both worker consumers have nothing pending and nothing unacknowledged (redeliveries done)."""
    import nats

    nc = await nats.connect(server_list(nats_url), max_reconnect_attempts=10)
    try:
        js = nc.jetstream()
        for stream, durable in ((names.EVENTS, names.ENRICH_CONSUMER), (names.ENRICHED, names.ROUTE_CONSUMER)):
            info = await js.consumer_info(stream, durable)
            if info.num_pending or info.num_ack_pending:
                return False
        return True
    finally:
        await nc.close()


async def wait_landed(nats_url: str, expected: set[str], timeout: float, settle: float = 1.0) -> Counter:  # type: ignore[type-arg]
    """Poll until every expected id has landed AND both worker consumers are drained (so every redelivery
    after a kill has been processed and had its chance to make a second copy), or timeout."""
    deadline = time.monotonic() + timeout
    counts: Counter = Counter()  # type: ignore[type-arg]
    while time.monotonic() < deadline:
        try:
            counts = await landed(nats_url)
            done = expected <= set(counts) and await drained(nats_url)
        except Exception:  # noqa: BLE001 - broker restarting
            await asyncio.sleep(1)
            continue
        if done:
            await asyncio.sleep(settle)
            return await _retrying(lambda: landed(nats_url))
        await asyncio.sleep(0.5)
    return counts


async def _retrying(factory, attempts: int = 20):  # type: ignore[no-untyped-def]
    """A read that may meet a cluster still electing leaders (JetStream API 503): retry for ~20 s."""
    for attempt in range(attempts):
        try:
            return await factory()
        except Exception:  # noqa: BLE001
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(1.0)


@dataclass
class Result:
    scenario: str
    sent: int
    acknowledged: int
    landed: int  # acknowledged items found in a final place
    duplicated: int  # extra copies of any item across the final places
    lost: int  # acknowledged items found nowhere
    seconds: float
    notes: str = ""

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.acknowledged > 0

    def row(self) -> str:
        return (f"| {self.scenario} | {self.sent} | {self.acknowledged} | {self.landed} | {self.duplicated} | "
                f"{self.lost} | {self.seconds:.0f} s | {'PASS' if self.ok else 'FAIL'} | {self.notes} |")


def judge(scenario: str, ledger: Ledger, counts: Counter, seconds: float, notes: str = "") -> Result:  # type: ignore[type-arg]
    acked = ledger.acknowledged
    landed_ids = {i for i in acked if counts.get(i, 0) > 0}
    duplicated = sum(c - 1 for c in counts.values() if c > 1)
    return Result(scenario, ledger.sent, len(acked), len(landed_ids), duplicated, len(acked - landed_ids), seconds, notes)


TABLE_HEAD = ("| scenario | sent | acknowledged | landed | duplicated | lost | time | verdict | notes |\n"
              "|---|---|---|---|---|---|---|---|---|")


class Proc:
    """A `switchboard <args>` subprocess (its own session, so SIGKILL hits only it)."""

    def __init__(self, args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.log = log
        self.env = {**os.environ, **demo_env(), "SWITCHBOARD_LOG_JSON": "true", **(env or {})}
        self.process: subprocess.Popen | None = None  # type: ignore[type-arg]
        self.kills = 0

    def start(self) -> "Proc":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")
        self.process = subprocess.Popen([SB, *self.args], stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                        cwd=ROOT, start_new_session=True)
        out.close()
        return self

    def started(self) -> Counter[str]:
        """How many times each consumer loop of this process has started, per durable (bench/readiness.py)."""
        return started_in(self.log)

    def wait_started(self, durables: tuple[str, ...], before: Counter[str] | None = None, timeout: float = 90.0) -> None:
        """Until every one of `durables` has (re)started since `before` (a `started()` read before start)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.args[0]} exited: {self.log.read_text()[-2000:]}")
            if all_after(self.started(), durables, before):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.args[0]}: {durables} not started after {timeout}s: {self.log.read_text()[-2000:]}")

    def wait_http(self, url: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.args[0]} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.args[0]} not ready after {timeout}s: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, in-flight messages stay unacked."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Fault runs test the transport: the BM25 encoder keeps enrich fast on 2 cores (the model is optional)."""
    return {"SWITCHBOARD_ENCODER": "bm25", "SWITCHBOARD_ACK_WAIT_S": "10", **(extra or {})}
