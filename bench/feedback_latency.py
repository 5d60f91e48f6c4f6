""""Did this help?" latency through a real `switchboard up` (embedded nats-server, loopback HTTP): N questions
answered, then per item a GET of the feedback link, a first POST and a repeat POST, and how long until every
rejected answer is in its team queue. `python -m bench.feedback_latency [N]`. Figures in docs/feedback.md."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

import httpx

from services.common.embedded import EmbeddedNats
from services.common.feedback_tokens import feedback_url
from tests.e2e.conftest import start_switchboard
from tests.e2e.test_feedback import QUESTION
from tests.e2e.test_webhook_to_inbox import native, wait_for_json_lines


def _timed(call: Callable[[], httpx.Response]) -> tuple[float, int]:
    started = time.perf_counter()
    status = call().status_code
    return (time.perf_counter() - started) * 1000, status


def main(n: int = 30) -> None:
    tmp = Path(tempfile.mkdtemp())
    server = EmbeddedNats(tmp / "nats").start()
    sb = start_switchboard(server.url, tmp)
    try:
        ids = [sb.post("native", native(f"{QUESTION} ({i})", email="it@hooli.dev"), f"msg_{uuid.uuid4().hex}").json()["ids"][0]
               for i in range(n)]
        wait_for_json_lines(sb, ["answers", "--limit", "100000"], lambda rs: set(ids) <= {r["id"] for r in rs}, timeout=300)
        client = httpx.Client(timeout=10)
        runs = {
            "GET confirm page": [_timed(lambda i=i: client.get(feedback_url(sb.url, i, "not_helpful", sb.env))) for i in ids],
            "POST first verdict": [_timed(lambda i=i: client.post(feedback_url(sb.url, i, "not_helpful", sb.env))) for i in ids],
            "POST repeat": [_timed(lambda i=i: client.post(feedback_url(sb.url, i, "helpful", sb.env))) for i in ids],
        }
        for name, rows in runs.items():
            ms = sorted(t for t, _ in rows)
            print(f"{name:20s} n={len(ms)} statuses={sorted({s for _, s in rows})} p50={statistics.median(ms):.1f} ms "
                  f"p95={ms[max(0, int(len(ms) * 0.95) - 1)]:.1f} ms max={ms[-1]:.1f} ms")
        started = time.monotonic()
        wait_for_json_lines(sb, ["inbox", "platform", "--limit", "100000"],
                            lambda rs: set(ids) <= {r["id"] for r in rs if r.get("answer_rejected")}, timeout=300)
        print(f"all {n} rejected answers in the platform queue {time.monotonic() - started:.1f} s after the last POST "
              "(measured by polling `switchboard inbox`, so an upper bound)")
    finally:
        sb.process.terminate()
        sb.process.wait(timeout=15)
        server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
