"""The fault scenarios of `make chaos`; each returns a Result (sent, acknowledged, landed, duplicated, lost).

(a) broker:  webhooks while nats-server is SIGKILLed and restarted (same store, same port); 503 meanwhile.
(b) workers: `switchboard ingest|enrich|route` as separate processes, enrich and route SIGKILLed mid-stream
             and restarted; then `switchboard up` as a whole SIGKILLed and restarted.
(c) poison:  a few items that route can never store reach SB_DLQ after max deliveries; the rest flows on.
(d) cluster: 3-node cluster, R3 streams; the SB_EVENTS leader node SIGKILLed under load, restarted later.
Sizes are parameters: `make chaos` runs the full sizes, tests/e2e/test_kill_recovery.py compact ones.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import nats

from bench.chaos_lib import (
    Proc,
    Result,
    Sender,
    body_for,
    chaos_config,
    judge,
    landed,
    wait_landed,
    worker_env,
)
from bench.readiness import UP
from services.common import names
from services.common.broker import server_list
from services.common.embedded import EmbeddedNats, free_port


_CLEANUP: list = []  # processes and servers of the running scenario, stopped even when it fails


def _track(thing):  # type: ignore[no-untyped-def]
    _CLEANUP.append(thing)
    return thing


def cleanup() -> None:
    """Stop whatever a failed scenario left running (called by bench.chaos after each scenario)."""
    while _CLEANUP:
        thing = _CLEANUP.pop()
        try:
            thing.stop()
        except Exception:  # noqa: BLE001
            pass


def _log(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


async def _until(predicate, timeout: float = 600.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("chaos step waited too long")
        await asyncio.sleep(0.05)


def _up(root: Path, nats_url: str, name: str = "up", env: dict[str, str] | None = None) -> tuple[Proc, str]:
    port = free_port()
    cfg = chaos_config(root / "config")
    proc = _track(Proc(["up", "--config", str(cfg), "--nats", nats_url, "--port", str(port), "--data", str(root / "data")],
                       root / f"{name}.log", worker_env(env)))
    return proc, f"http://127.0.0.1:{port}"


async def _start_up(proc: Proc, url: str) -> None:
    before = proc.started()
    proc.start()
    await asyncio.to_thread(proc.wait_http, url)
    await asyncio.to_thread(proc.wait_started, UP, before)


# ---- (a) the broker is SIGKILLed ---------------------------------------------------------------


async def broker_kill(root: Path, n: int = 20_000, kills: int = 2, down_s: float = 8.0) -> Result:
    started = time.monotonic()
    server = _track(EmbeddedNats(root / "nats").start())
    up, url = _up(root, server.url)
    await _start_up(up, url)
    sender = Sender(lambda: url, uuid.uuid4().hex[:8], concurrency=48)
    statuses_down: dict[str, int] = {}

    async def chaos() -> None:
        for k in range(kills):
            await _until(lambda k=k: len(sender.ledger.acknowledged) >= n * (k + 1) // (kills + 1))
            server.kill()
            _log(f"nats-server SIGKILLed ({len(sender.ledger.acknowledged)} acknowledged so far)")
            before = dict(sender.ledger.statuses)
            await asyncio.sleep(down_s)  # longer than ingest's publish timeout (5 s): senders get 503 meanwhile
            during = {str(s): sender.ledger.statuses[s] - before.get(s, 0) for s in sender.ledger.statuses}
            await asyncio.to_thread(server.start)
            statuses_down[f"kill{k + 1}"] = during.get("503", 0)
            _log(f"nats-server restarted on the same port and store; replies while it was down: {during}")

    await asyncio.gather(sender.send(range(n)), chaos())
    _log(f"sending done: {sender.ledger.summary()}")
    counts = await wait_landed(server.url, sender.ledger.acknowledged, timeout=300)
    up.stop()
    server.stop()
    n503 = sender.ledger.statuses.get(503, 0)
    return judge("(a) nats-server kill -9 x%d" % kills, sender.ledger, counts, time.monotonic() - started,
                 f"{n503} x 503 while down ({', '.join(f'{k}: {v}' for k, v in statuses_down.items())}); "
                 f"{sender.ledger.statuses.get('conn-error', 0)} conn errors; retried with the same delivery id")


# ---- (b) workers are SIGKILLed ------------------------------------------------------------------


async def worker_kills(root: Path, n: int = 6_000, rounds: int = 2) -> Result:
    """ingest, enrich and route as separate processes; enrich and route SIGKILLed `rounds` times each."""
    started = time.monotonic()
    server = _track(EmbeddedNats(root / "nats").start())
    cfg = chaos_config(root / "config")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = worker_env()
    ingest = _track(Proc(["ingest", "--config", str(cfg), "--nats", server.url, "--port", str(port)], root / "ingest.log", env))
    enrich = _track(Proc(["enrich", "--config", str(cfg), "--nats", server.url], root / "enrich.log", env))
    route = _track(Proc(["route", "--config", str(cfg), "--nats", server.url], root / "route.log", env))
    ingest.start()
    for p in (enrich, route):
        p.start()
    await asyncio.to_thread(ingest.wait_http, url)
    await asyncio.to_thread(enrich.wait_started, (names.ENRICH_CONSUMER,))
    await asyncio.to_thread(route.wait_started, (names.ROUTE_CONSUMER, names.ROUTE_FEEDBACK_CONSUMER))
    sender = Sender(lambda: url, uuid.uuid4().hex[:8], concurrency=32)
    nc = await nats.connect(server.url)
    js = nc.jetstream()
    in_flight_at_kill: list[int] = []
    steps = rounds * 2

    async def kill_restart(proc: Proc, name: str) -> None:
        before = proc.started()
        stream, durable = (names.EVENTS, names.ENRICH_CONSUMER) if name == "enrich" else (names.ENRICHED, names.ROUTE_CONSUMER)
        # mid-stream: it has been handed a good share of the items since it (re)started, with more to come
        target = (await _delivered(js, stream, durable)) + max(5, n // (steps + 3))
        deadline = time.monotonic() + 300
        while await _delivered(js, stream, durable) < target and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        in_flight = 0
        deadline = time.monotonic() + 30
        while in_flight == 0 and time.monotonic() < deadline:  # kill it while it holds unacked messages
            in_flight = (await js.consumer_info(stream, durable)).num_ack_pending
            if in_flight == 0:
                await asyncio.sleep(0.005)
        proc.kill()
        in_flight_at_kill.append(in_flight)
        _log(f"{name} SIGKILLed mid-stream ({len(sender.ledger.acknowledged)} acknowledged)")
        await asyncio.sleep(1.0)
        proc.start()
        await asyncio.to_thread(proc.wait_started, (durable,), before)
        _log(f"{name} restarted")

    chaos_done = asyncio.Event()

    async def chaos() -> None:
        for k in range(steps):
            await kill_restart(enrich if k % 2 == 0 else route, "enrich" if k % 2 == 0 else "route")
        chaos_done.set()

    async def send() -> None:
        """n webhooks, then more in small batches until the last kill: a worker killed "mid-stream" must have a
        stream to be in the middle of, however fast the pipeline drains the first n."""
        await sender.send(range(n))
        extra = n
        while not chaos_done.is_set():
            await sender.send(range(extra, extra + 10))
            extra += 10

    await asyncio.gather(send(), chaos())
    _log(f"sending done: {sender.ledger.summary()}")
    counts = await wait_landed(server.url, sender.ledger.acknowledged, timeout=300)
    redelivered = await _redeliveries(js)
    await nc.close()
    for p in (ingest, enrich, route):
        p.stop()
    server.stop()
    again_e, again_r = redelivered[names.ENRICH_CONSUMER], redelivered[names.ROUTE_CONSUMER]
    return judge(f"(b1) enrich x{enrich.kills} + route x{route.kills} kill -9", sender.ledger, counts,
                 time.monotonic() - started,
                 f"separate processes; unacked at each kill: {in_flight_at_kill}; redeliveries after the kills: "
                 f"enrich {again_e}, route {again_r}")


async def up_kill(root: Path, n: int = 4_000, kills: int = 1) -> Result:
    """`switchboard up` (ingest + enrich + route in one process) SIGKILLed and restarted."""
    started = time.monotonic()
    server = _track(EmbeddedNats(root / "nats").start())
    up, url = _up(root, server.url)
    await _start_up(up, url)
    sender = Sender(lambda: url, uuid.uuid4().hex[:8], concurrency=32)

    async def chaos() -> None:
        for k in range(kills):
            await _until(lambda k=k: len(sender.ledger.acknowledged) >= n * (k + 1) // (kills + 1))
            up.kill()
            _log(f"switchboard up SIGKILLed ({len(sender.ledger.acknowledged)} acknowledged)")
            await asyncio.sleep(1.0)
            await _start_up(up, url)
            _log("switchboard up restarted")

    await asyncio.gather(sender.send(range(n)), chaos())
    _log(f"sending done: {sender.ledger.summary()}")
    counts = await wait_landed(server.url, sender.ledger.acknowledged, timeout=300)
    nc = await nats.connect(server.url)
    redelivered = await _redeliveries(nc.jetstream())
    await nc.close()
    up.stop()
    server.stop()
    again = sum(redelivered.values())
    return judge(f"(b2) switchboard up kill -9 x{up.kills}", sender.ledger, counts, time.monotonic() - started,
                 f"{sender.ledger.statuses.get('conn-error', 0)} conn errors while down; {again} redeliveries after the kill")


async def _delivered(js, stream: str, durable: str) -> int:  # type: ignore[no-untyped-def]
    """Deliveries the consumer has made so far (redeliveries included)."""
    try:
        return (await js.consumer_info(stream, durable)).delivered.consumer_seq or 0
    except Exception:  # noqa: BLE001 - not created yet
        return 0


async def _redeliveries(js) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Deliveries beyond one per message, per worker consumer (once drained): the kills' redeliveries."""
    out: dict[str, int] = {}
    for stream, durable in ((names.EVENTS, names.ENRICH_CONSUMER), (names.ENRICHED, names.ROUTE_CONSUMER)):
        info = await js.consumer_info(stream, durable)
        out[durable] = (info.delivered.consumer_seq or 0) - (info.delivered.stream_seq or 0)
    return out


# ---- (c) poison items ---------------------------------------------------------------------------


async def poison(root: Path, n: int = 2_000, poisoned: int = 3, max_deliver: int = 3) -> Result:
    """Items route can never store (their outcome streams were capped at 8 KiB: an operator's mistake) reach
    SB_DLQ after `max_deliver` attempts while the rest flows on."""
    from services.dlq.store import read_entries

    started = time.monotonic()
    server = _track(EmbeddedNats(root / "nats").start())
    up, url = _up(root, server.url, env={"SWITCHBOARD_MAX_DELIVER": str(max_deliver), "SWITCHBOARD_PUBLISH_TIMEOUT_S": "2"})
    await _start_up(up, url)
    nc = await nats.connect(server.url)
    js = nc.jetstream()
    for stream in (names.QUEUES, names.ANSWERS, names.DROPPED, names.RECORDS):
        info = await js.stream_info(stream)
        await js.update_stream(info.config.evolve(max_msg_size=8192))
    bad = {n * (k + 1) // (poisoned + 1) for k in range(poisoned)}

    def body(i: int) -> bytes:
        return body_for(i, "Our exports keep failing, full log follows. " + "log line " * 1500) if i in bad else body_for(i)

    sender = Sender(lambda: url, uuid.uuid4().hex[:8], concurrency=32, body=body)
    await sender.send(range(n))
    _log(f"sending done: {sender.ledger.summary()}")
    counts = await wait_landed(server.url, sender.ledger.acknowledged, timeout=240)
    entries = await read_entries(js)
    await nc.close()
    up.stop()
    server.stop()
    bad_ids = {sender.item_id(i) for i in bad}
    dlq_ok = {e.dead_letter.id for e in entries if e.dead_letter.stage == "route" and e.dead_letter.attempts == max_deliver
              and e.dead_letter.item is not None} == bad_ids and len(entries) == len(bad_ids)
    result = judge(f"(c) {poisoned} poison items", sender.ledger, counts, time.monotonic() - started,
                   f"{len(entries)} in SB_DLQ (stage route, {max_deliver} attempts, original item kept): "
                   f"{'as expected' if dlq_ok else 'UNEXPECTED'}; the other {n - poisoned} routed")
    if not dlq_ok:
        result.lost = max(result.lost, 1)  # fail the scenario
    return result


# ---- (d) 3-node cluster -------------------------------------------------------------------------


async def cluster_kill(root: Path, n: int = 6_000) -> Result:
    from bench.cluster import Cluster

    started = time.monotonic()
    cluster = _track(Cluster.create(root / "cluster").start())
    up, url = _up(root, cluster.url, env={"SWITCHBOARD_REPLICAS": "3"})
    await _start_up(up, url)
    nc = await nats.connect(server_list(cluster.url))
    info = await nc.jetstream().stream_info(names.EVENTS)
    await nc.close()
    leader = info.cluster.leader if info.cluster else None
    victim = next(node for node in cluster.nodes if node.name == leader)
    sender = Sender(lambda: url, uuid.uuid4().hex[:8], concurrency=32)

    async def chaos() -> None:
        await _until(lambda: len(sender.ledger.acknowledged) >= n // 3)
        victim.kill()
        _log(f"cluster node {victim.name} (SB_EVENTS leader) SIGKILLed ({len(sender.ledger.acknowledged)} acknowledged)")
        await _until(lambda: len(sender.ledger.acknowledged) >= 2 * n // 3)
        victim.start()
        _log(f"node {victim.name} restarted on its store")

    await asyncio.gather(sender.send(range(n)), chaos())
    _log(f"sending done: {sender.ledger.summary()}")
    counts = await wait_landed(cluster.url, sender.ledger.acknowledged, timeout=300)
    up.stop()
    cluster.stop()
    return judge("(d) 3-node R3, leader kill -9", sender.ledger, counts, time.monotonic() - started,
                 f"killed {victim.name} (SB_EVENTS leader), restarted later; "
                 f"{sender.ledger.statuses.get(503, 0)} x 503 during the election")


__all__ = ["broker_kill", "worker_kills", "up_kill", "poison", "cluster_kill", "landed"]
