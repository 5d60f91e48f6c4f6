"""The ingest hot path in-process, for profiling: CPU µs per webhook of the receiver's ASGI callable.

    .venv/bin/python -m bench.ingest_profile            # CPU µs per request
    .venv/bin/python -m bench.ingest_profile --profile  # plus cProfile, top 40 by cumulative time

Drives `services.ingest.receiver.Receiver` with the bench's own signed native requests (bench/loadgen.py
`prepare`), JetStream replaced by an immediate ack, info logging, the start-up heap frozen as `up` does. No
sockets, no uvicorn, no NATS: what is left is exactly our code per webhook (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import time
from typing import Any

from bench.loadgen import prepare
from bench.run import EXAMPLE_CONFIG, demo_env


class _Ack:
    duplicate = False
    seq = 1


class _ImmediateJetStream:
    async def publish(self, subject: str, payload: bytes, timeout: float | None = None, stream: str | None = None,
                      headers: dict[str, str] | None = None) -> _Ack:
        return _Ack()


def _split(raw: bytes) -> tuple[str, list[tuple[bytes, bytes]], bytes]:
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    headers = [tuple(line.split(b": ", 1)) for line in lines[1:]]
    return lines[0].split(b" ")[1].decode(), [(k.lower(), v) for k, v in headers], body  # type: ignore[misc]


async def measure(n: int, profile: bool) -> float:
    from services.common.logging import configure
    from services.common.settings import Settings
    from services.config.loader import load_config
    from services.ingest.metrics import IngestMetrics
    from services.ingest.receiver import Receiver
    from services.ingest.runtime import source_runtimes

    configure("info", True)
    os.environ.update(demo_env())
    receiver = Receiver(source_runtimes(load_config(EXAMPLE_CONFIG), os.environ), _ImmediateJetStream(),  # type: ignore[arg-type]
                        Settings(), IngestMetrics())
    requests = [_split(r) for r in prepare(n, "127.0.0.1", 8000, f"profile-{time.time_ns()}").raw]
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def one(path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        await receiver({"type": "http", "method": "POST", "path": path, "headers": headers, "query_string": b""},
                       receive, send)

    warm = min(200, n // 10)
    for request in requests[:warm]:
        await one(*request)
    gc.collect()
    gc.freeze()
    profiler = cProfile.Profile() if profile else None
    c0 = time.process_time()
    if profiler:
        profiler.enable()
    for request in requests[warm:]:
        await one(*request)
    if profiler:
        profiler.disable()
    cpu = time.process_time() - c0
    assert set(statuses) == {202}, set(statuses)
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    return 1e6 * cpu / (n - warm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(f"{asyncio.run(measure(args.n, args.profile)):.1f} us of CPU per webhook (in-process, no I/O)")


if __name__ == "__main__":
    main()
