"""`make bench`, pipeline phases: capacity with 1 and 2 enrich worker processes, end-to-end latency at stated
loads (a fixed 50 items/s and 50 % of the measured capacity), and the judge's items per CPU-second.

Capacity: a fresh nats-server + `switchboard up --enrich-workers N` (not pinned: the workers are there to use the
other core), a burst of `probe_items` webhooks, time until all landed in a queue (bench/loadgen.py `probe_only`).
Items per CPU-second: landed items / CPU seconds of `up` and its worker processes during the probe (utime +
stime from /proc), which does not depend on what else the shared machine runs. nats-server is not counted.
Latency: a fresh nats-server + `switchboard up` (default workers), open loop, latency from each request's
scheduled send time to its item id first seen on an output subject, with the ledger of bench/loadgen.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.loadgen import latency_summary, ledger

LATENCY_FIXED_RATE = 50.0
LATENCY_FRACTION = 0.5


def descendants(pid: int) -> list[int]:
    """pid and every process below it (Linux /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def tree_cpu(pid: int) -> dict[int, float]:
    from bench.run import cpu_seconds

    return {p: c for p in descendants(pid) if (c := cpu_seconds(p)) is not None}


def capacity(workers: int, nats_url: str, workdir: Path, env: dict[str, str], probe_items: int) -> dict[str, Any]:
    from bench.run import CLIENT_CPUS, can_pin, run_loadgen, start_server

    server = start_server("up", nats_url, workdir, env, pin=False, extra=["--enrich-workers", str(workers)],
                          enrich_ready=max(workers, 1))
    try:
        before = tree_cpu(server.process.pid)
        job = {"mode": "open", "probe_only": True, "host": "127.0.0.1", "port": server.port, "conns": 10,
               "probe_items": probe_items, "duration_s": 0, "prefix": f"cap{workers}-{int(time.time())}",
               "cpus": sorted(CLIENT_CPUS) if can_pin() else None, "nats_url": nats_url}
        probe = run_loadgen(job, env, timeout=180)["probe"]
        after = tree_cpu(server.process.pid)
    finally:
        server.stop()
    cpu = sum(c - before.get(p, 0.0) for p, c in after.items())
    probe.update(workers=workers, cpu_s=cpu, items_per_cpu_s=probe["landed"] / cpu if cpu > 0 else None,
                 processes=len(after))
    return probe


def latency(rates: list[float], nats_url: str, workdir: Path, env: dict[str, str], seconds: float, conns: int) -> list[dict[str, Any]]:
    """One `up`, one open-loop run per rate (each with its own ids), each with its ledger and percentiles."""
    from bench.run import CLIENT_CPUS, can_pin, run_loadgen, start_server

    server = start_server("up", nats_url, workdir, env, pin=False, enrich_ready=1)
    out = []
    try:
        for n, rate in enumerate(rates):
            job = {"mode": "open", "host": "127.0.0.1", "port": server.port, "conns": conns, "rate": rate,
                   "duration_s": seconds, "prefix": f"lat{n}-{int(time.time())}", "nats_url": nats_url,
                   "cpus": sorted(CLIENT_CPUS) if can_pin() else None, "drain_timeout_s": 30.0}
            run = run_loadgen(job, env, timeout=seconds + 120)
            records = run.pop("records")
            books = ledger(records, scheduled=run["scheduled"], strays=run["strays"])
            out.append({"rate": rate, **latency_summary(records), "ledger": books, "void": books["void"],
                        "max_send_lag_ms": run["max_send_lag_ms"]})
    finally:
        server.stop()
    return out


def judge_items_per_cpu_s(batches: int = 16, batch: int = 64) -> dict[str, Any]:
    """The judge of the example config over BANKING77's test questions (or the example texts when the data set
    is absent), in batches of 64 as the worker sends them: items per CPU-second of this process."""
    from bench.eval_banking77 import DEFAULT_DATA, load
    from bench.run import EXAMPLE_CONFIG
    from services.config.loader import load_config
    from services.enrich.judge import Judge

    judge = Judge.from_config(load_config(EXAMPLE_CONFIG))
    if (DEFAULT_DATA / "test.csv").is_file():
        texts, corpus = [t for t, _ in load(DEFAULT_DATA)[1]], "banking77 test"
    else:
        texts, corpus = [e for a in judge.areas for e in a.examples] or ["The export crashes"], "example config"
    texts = (texts * (1 + batches * batch // len(texts)))[: batches * batch]
    judge.judge(texts[:batch])  # warm-up
    c0, w0 = time.process_time(), time.perf_counter()
    for i in range(0, len(texts), batch):
        judge.judge(texts[i : i + batch])
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return {"items": len(texts), "texts": corpus, "encoder": judge.encoder.name, "items_per_cpu_s": len(texts) / cpu,
            "items_per_s": len(texts) / wall}
