"""The load generator of `make bench`: a minimal HTTP/1.1 keep-alive client on uvloop, run in its own process.

Run as `python -m bench.loadgen` with a JSON job on stdin; it prints one JSON result on stdout. The runner
(bench.run) starts it pinned to CPU 0 (with nats-server), away from the server under test on CPU 1.

Modes:
- `closed`: C connections, each sends its next pre-signed request as soon as the previous answer is in.
  Throughput = answers completed inside the measured window / window length (the warm-up is discarded).
- `open`: requests go out at a fixed rate; latency is measured from each request's SCHEDULED send time, so a
  generator (or a connection pool) that falls behind shows up as latency instead of hiding it. A NATS
  subscriber on the output subjects records when each item id first appears (POST → team queue).

Requests are Standard Webhooks (`native` source, kind standard), signed before the clock starts, each with
its own webhook-id (so every request is a new item, never a duplicate).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending list; no interpolation, so p99 is a real sample."""
    if not sorted_values:
        raise ValueError("percentile of an empty list")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    import math

    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# The payload text routes to a team queue with the example config (a bug report, area by keywords).
DEFAULT_TEXT = "The mobile app logs me out every time I switch to another app on Android. Please fix this bug."
OUTPUT_SUBJECTS = ("sb.queue.>", "sb.answers.>", "sb.dropped.>", "sb.dlq.>")


@dataclass
class Prepared:
    raw: list[bytes]  # full HTTP/1.1 request bytes
    delivery_ids: list[str]
    item_ids: list[str]


def prepare(n: int, host: str, port: int, prefix: str, text: str = DEFAULT_TEXT, secret: str | None = None) -> Prepared:
    """n signed POST /webhooks/native requests with unique webhook-ids (signed now: valid for ±300 s)."""
    from schemas.item import item_id
    from services.config.models import SourceConfig
    from services.demo.signing import signed_request

    secret = secret or os.environ["SWITCHBOARD_NATIVE_SECRET"]
    source = SourceConfig(name="native", kind="standard", secrets=["SWITCHBOARD_NATIVE_SECRET"])
    now = time.time()
    raw: list[bytes] = []
    dids: list[str] = []
    iids: list[str] = []
    for i in range(n):
        did = f"msg_{prefix}_{i}"
        body = json.dumps(
            {
                "type": "feedback.created",
                "timestamp": "2026-03-02T10:00:00Z",
                "data": {"text": text, "title": "Logged out on Android", "email": f"user{i}@bench-example.dev"},
            }
        ).encode()
        headers, payload, path = signed_request(source, [secret], [], body, now, did)
        head = f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-length: {len(payload)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        raw.append(head.encode() + payload)
        dids.append(did)
        iids.append(item_id("native", did))
    return Prepared(raw, dids, iids)


class HttpConn(asyncio.Protocol):
    """One keep-alive connection; one request in flight at a time (no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        pos = head.find(b"\r\ncontent-length:")
        length = 0
        if pos >= 0:
            stop = head.find(b"\r\n", pos + 2)
            length = int(head[pos + 17 : stop if stop >= 0 else len(head)])
        total = end + 4 + length
        if len(self.buf) < total:
            return
        status = int(head[9:12])
        body = bytes(self.buf[end + 4 : total])
        del self.buf[:total]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, body))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


async def open_conns(host: str, port: int, n: int) -> list[HttpConn]:
    loop = asyncio.get_running_loop()
    conns = []
    for _ in range(n):
        _, proto = await loop.create_connection(HttpConn, host, port)
        conns.append(proto)
    return conns


@dataclass
class Watcher:
    """Core NATS subscriber on the output subjects: first-seen time and place of each item id."""

    seen: dict[str, tuple[float, str]] = field(default_factory=dict)
    repeats: int = 0

    async def start(self, url: str) -> Any:
        import nats

        nc = await nats.connect(url)

        async def on_msg(msg: Any) -> None:
            now = time.monotonic()
            parts = msg.subject.split(".")
            iid = parts[-1]
            if iid in self.seen:
                self.repeats += 1
            else:
                self.seen[iid] = (now, parts[1])

        for subject in OUTPUT_SUBJECTS:
            await nc.subscribe(subject, cb=on_msg, pending_msgs_limit=1_000_000, pending_bytes_limit=1 << 30)
        await nc.flush()
        return nc


async def closed_loop(job: dict[str, Any]) -> dict[str, Any]:
    host, port, conns_n = job["host"], job["port"], job["conns"]
    warmup, duration = float(job["warmup_s"]), float(job["duration_s"])
    prep = prepare(job["requests"], host, port, job["prefix"], job.get("text", DEFAULT_TEXT))
    watcher, nc = None, None
    if job.get("nats_url"):
        watcher = Watcher()
        nc = await watcher.start(job["nats_url"])
    conns = await open_conns(host, port, conns_n)
    start = time.monotonic()
    window_start, window_end = start + warmup, start + warmup + duration
    state = {"next": 0}
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    counted = 0
    errors = 0
    exhausted = False
    window_ids: list[str] = []

    async def worker(conn: HttpConn) -> None:
        nonlocal counted, errors, exhausted
        while True:
            i = state["next"]
            if i >= len(prep.raw):
                exhausted = True
                return
            state["next"] = i + 1
            t0 = time.monotonic()
            if t0 >= window_end:
                return
            try:
                status, _ = await conn.request(prep.raw[i])
            except ConnectionError:
                errors += 1
                return
            t1 = time.monotonic()
            if t1 >= window_start and t1 < window_end:
                counted += 1
                latencies.append(t1 - t0)
                key = str(status)
                statuses[key] = statuses.get(key, 0) + 1
                if watcher is not None:
                    window_ids.append(prep.item_ids[i])

    cpu0 = time.process_time()
    await asyncio.gather(*(worker(c) for c in conns))
    cpu_s = time.process_time() - cpu0
    wall_s = time.monotonic() - start
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    landed_in_window = 0
    if watcher is not None and nc is not None:
        landed_in_window = sum(1 for t, _ in watcher.seen.values() if window_start <= t < window_end)
        await nc.close()
    ok = statuses.get("202", 0)
    latencies.sort()
    return {
        "mode": "closed",
        "conns": conns_n,
        "duration_s": duration,
        "completed": counted,
        "rps": ok / duration,
        "statuses": statuses,
        "errors": errors,
        "exhausted": exhausted,
        "sent_total": state["next"],
        "ingest_p50_ms": percentile(latencies, 50) * 1000 if latencies else None,
        "ingest_p99_ms": percentile(latencies, 99) * 1000 if latencies else None,
        "landed_rps": landed_in_window / duration if watcher is not None else None,
        "loadgen_cpu_util": cpu_s / wall_s if wall_s > 0 else None,
    }


async def probe_capacity(host: str, port: int, watcher: Watcher, n: int, prefix: str, timeout: float) -> dict[str, Any]:
    """Pipeline capacity with HTTP idle: POST a burst of n items (10 connections), then time until all landed."""
    prep = prepare(n, host, port, prefix)
    conns = await open_conns(host, port, 10)
    state = {"next": 0}
    t0 = time.monotonic()

    async def worker(conn: HttpConn) -> None:
        while state["next"] < n:
            i = state["next"]
            state["next"] = i + 1
            await asyncio.wait_for(conn.request(prep.raw[i]), timeout)

    await asyncio.gather(*(worker(c) for c in conns))
    posted = time.monotonic()
    want = set(prep.item_ids)
    deadline = posted + timeout
    while time.monotonic() < deadline and not want.issubset(watcher.seen.keys()):
        await asyncio.sleep(0.02)
    landed = [watcher.seen[i][0] for i in want if i in watcher.seen]
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    span = (max(landed) - t0) if landed else float("inf")
    return {"items": n, "landed": len(landed), "post_s": posted - t0, "span_s": span,
            "capacity_rps": len(landed) / span if landed else 0.0}


async def open_loop(job: dict[str, Any]) -> dict[str, Any]:
    host, port = job["host"], job["port"]
    duration = float(job["duration_s"])
    request_timeout = float(job.get("request_timeout_s", 30.0))
    watcher = Watcher()
    nc = await watcher.start(job["nats_url"])
    probe = None
    if job.get("probe_only"):  # pipeline capacity alone (bench/pipeline.py)
        probe = await probe_capacity(host, port, watcher, int(job.get("probe_items", 500)), job["prefix"] + "-probe",
                                     request_timeout)
        await nc.close()
        return {"mode": "probe", "probe": probe, "strays": 0}
    if job.get("rate", 0) and float(job["rate"]) > 0:
        rate = float(job["rate"])
    else:
        probe = await probe_capacity(host, port, watcher, int(job.get("probe_items", 500)), job["prefix"] + "-probe",
                                     request_timeout)
        basis = [v for v in (probe["capacity_rps"], job.get("rate_cap")) if v]
        rate = max(5.0, round(float(job.get("rate_fraction", 0.6)) * min(basis))) if basis else 10.0
        watcher.seen.clear()
        await asyncio.sleep(0.5)
    n = int(rate * duration)
    prep = prepare(n, host, port, job["prefix"], job.get("text", DEFAULT_TEXT))
    conns = await open_conns(host, port, job["conns"])
    idle: asyncio.Queue[HttpConn] = asyncio.Queue()
    for c in conns:
        idle.put_nowait(c)
    scheduled = [0.0] * n
    answered: list[tuple[int, float, list[str]] | None] = [None] * n
    errors = 0

    async def send(i: int, conn: HttpConn) -> None:
        nonlocal errors
        try:
            status, body = await asyncio.wait_for(conn.request(prep.raw[i]), request_timeout)
        except (ConnectionError, asyncio.TimeoutError):
            if conn.transport is not None:
                conn.transport.close()
            errors += 1
            answered[i] = (-1, time.monotonic(), [])
            try:
                idle.put_nowait((await open_conns(host, port, 1))[0])
            except OSError:
                pass
            return
        t = time.monotonic()
        ids: list[str] = []
        if status == 202:
            try:
                ids = list(json.loads(body).get("ids", []))
            except ValueError:
                pass
        answered[i] = (status, t, ids)
        idle.put_nowait(conn)

    t0 = time.monotonic() + 0.2
    tasks = []
    max_lag = 0.0
    for i in range(n):
        due = t0 + i / rate
        scheduled[i] = due
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
        conn = await idle.get()
        max_lag = max(max_lag, time.monotonic() - due)
        tasks.append(asyncio.create_task(send(i, conn)))
    send_end = time.monotonic()
    await asyncio.gather(*tasks)
    # Drain: wait for every accepted id to appear on an output subject (or the timeout).
    expected = {prep.item_ids[i] for i in range(n) if answered[i] and answered[i][0] == 202}  # type: ignore[index]
    deadline = time.monotonic() + float(job.get("drain_timeout_s", 30.0))
    while time.monotonic() < deadline and not expected.issubset(watcher.seen.keys()):
        await asyncio.sleep(0.05)
    drained_s = time.monotonic() - send_end
    await asyncio.sleep(0.3)  # late duplicates
    await nc.close()
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    records = []
    reply_mismatch = 0
    for i in range(n):
        a = answered[i]
        status, t_resp, ids = a if a is not None else (-1, None, [])
        iid = prep.item_ids[i]
        if status == 202 and ids != [iid]:
            reply_mismatch += 1
        seen = watcher.seen.get(iid)
        records.append(
            {
                "id": iid,
                "scheduled": scheduled[i],
                "status": status,
                "answered": t_resp,
                "seen": seen[0] if seen else None,
                "place": seen[1] if seen else None,
            }
        )
    sent_ids = set(prep.item_ids)
    strays = sum(1 for k in watcher.seen if k not in sent_ids)
    return {
        "mode": "open",
        "rate": rate,
        "scheduled": n,
        "probe": probe,
        "duration_s": duration,
        "conns": job["conns"],
        "max_send_lag_ms": max_lag * 1000,
        "drain_s": drained_s,
        "errors": errors,
        "reply_mismatch": reply_mismatch,
        "strays": strays,
        "repeats": watcher.repeats,
        "records": records,
    }


def main() -> None:
    job = json.loads(sys.stdin.read())
    cpus = job.get("cpus")
    if cpus and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, set(cpus))
        except OSError:
            pass
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    fn = closed_loop if job["mode"] == "closed" else open_loop
    result = runner(fn(job))
    sys.stdout.write(json.dumps(result) + "\n")



# ---- pure helpers for the runner (unit-tested in tests/unit/test_bench_ledger.py) ----

LANDED_PLACES = ("queue", "answers", "dropped")


def median(values: list[float]) -> float:
    if not values:
        raise ValueError("median of an empty list")
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def ledger(records: list[dict[str, Any]], scheduled: int, strays: int = 0) -> dict[str, Any]:
    """The open-loop ledger: every scheduled request ends as landed (seen in a team queue, answers or dropped)
    or missing (not accepted, dead-lettered, or never seen). `balanced` checks the books independently;
    the run is void when they don't balance or anything is missing (latency percentiles over a censored
    sample would flatter the system)."""
    sent = len(records)
    landed = sum(1 for r in records if r.get("seen") is not None and r.get("place") in LANDED_PLACES)
    not_accepted = sum(1 for r in records if r.get("status") != 202 and not (r.get("seen") and r.get("place") in LANDED_PLACES))
    dead_lettered = sum(1 for r in records if r.get("status") == 202 and r.get("place") == "dlq")
    never_seen = sum(1 for r in records if r.get("status") == 202 and r.get("seen") is None)
    other_place = sum(
        1 for r in records
        if r.get("status") == 202 and r.get("seen") is not None and r.get("place") not in (*LANDED_PLACES, "dlq")
    )
    missing = not_accepted + dead_lettered + never_seen + other_place
    balanced = sent == scheduled and sent == landed + missing and strays == 0
    places: dict[str, int] = {}
    for r in records:
        if r.get("seen") is not None:
            places[r["place"]] = places.get(r["place"], 0) + 1
    return {
        "scheduled": scheduled,
        "sent": sent,
        "landed": landed,
        "missing": missing,
        "missing_not_accepted": not_accepted,
        "missing_dead_lettered": dead_lettered,
        "missing_never_seen": never_seen + other_place,
        "strays": strays,
        "places": places,
        "balanced": balanced,
        "void": (not balanced) or missing > 0,
    }


def latency_summary(records: list[dict[str, Any]]) -> dict[str, float | None]:
    """End-to-end (scheduled send → first seen on an output subject) and ingest (scheduled send → 202) latency, ms."""
    e2e = sorted(
        (r["seen"] - r["scheduled"]) * 1000
        for r in records
        if r.get("seen") is not None and r.get("place") in LANDED_PLACES
    )
    ingest = sorted((r["answered"] - r["scheduled"]) * 1000 for r in records if r.get("status") == 202 and r.get("answered"))
    out: dict[str, float | None] = {}
    for name, values in (("e2e", e2e), ("ingest", ingest)):
        out[f"{name}_p50_ms"] = percentile(values, 50) if values else None
        out[f"{name}_p99_ms"] = percentile(values, 99) if values else None
        out[f"{name}_max_ms"] = values[-1] if values else None
    return out


if __name__ == "__main__":
    main()
