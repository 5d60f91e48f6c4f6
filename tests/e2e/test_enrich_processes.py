"""`switchboard up` runs enrich in its own worker processes (services/worker_processes.py): items flow through
them, a worker that dies is started again, SIGTERM of `up` stops them, and kill -9 of `up` does not leave
them running (they watch their parent)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Callable, TypeVar

import httpx
import pytest

from bench.readiness import started_in
from services.common import names
from services.common.embedded import EmbeddedNats, free_port
from services.config.loader import load_config
from tests.conftest import EXAMPLE_CONFIG, ROOT, demo_env
from tests.e2e.conftest import SB, Running
from tests.e2e.test_webhook_to_inbox import native, wait_for_json_lines

pytestmark = pytest.mark.e2e
T = TypeVar("T")


def wait_until(probe: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def enrich_children(parent: int) -> list[int]:
    """Live (not zombie) processes whose parent is `parent` and whose command line is `... enrich ...`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if int(ppid) == parent and state != "Z" and b"services.cli.main" in cmd and b"enrich" in cmd:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_up(nats_url: str, tmp: Path, workers: int) -> Running:
    port, web_port = free_port(), free_port()
    env = {**os.environ, **demo_env(), "SWITCHBOARD_LOG_JSON": "true"}
    log = tmp / "switchboard.log"
    process = subprocess.Popen(
        [SB, "up", "--config", str(EXAMPLE_CONFIG), "--nats", nats_url, "--port", str(port), "--data", str(tmp / "data"),
         "--web-port", str(web_port), "--enrich-workers", str(workers)],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, cwd=ROOT,
    )
    running = Running(f"http://127.0.0.1:{port}", nats_url, load_config(EXAMPLE_CONFIG), demo_env(), process, log)

    def ready() -> bool:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            return httpx.get(running.url + "/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, "readyz")
    return running


def enrich_started(running: Running) -> int:
    return started_in(running.log)[names.ENRICH_CONSUMER]


def lands(running: Running) -> None:
    body = native("The Salesforce integration stopped syncing this morning and none of our opportunities update. "
                  "It is broken.", email="revops@starkmfg.com")  # lands in strategic-pm (test_webhook_to_inbox)
    resp = running.post("native", body, f"msg_{uuid.uuid4().hex}")
    assert resp.status_code == 202, resp.text
    item_id = resp.json()["ids"][0]
    wait_for_json_lines(running, ["inbox", "strategic-pm"], lambda rows: any(r["id"] == item_id for r in rows), timeout=60)


@pytest.fixture
def up_one_worker(nats_server: EmbeddedNats, tmp_path: Path):  # type: ignore[no-untyped-def]
    running = start_up(nats_server.url, tmp_path, workers=1)
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()
    for pid in enrich_children(running.process.pid):
        os.kill(pid, signal.SIGKILL)


def test_enrich_runs_in_a_worker_process_that_is_restarted_and_stopped_with_up(up_one_worker: Running) -> None:
    up = up_one_worker
    [child] = wait_until(lambda: enrich_children(up.process.pid), "an enrich worker process")
    assert child != up.process.pid
    wait_until(lambda: enrich_started(up) >= 1, "the worker's enrich stage.started line in up's log")
    lands(up)

    os.kill(child, signal.SIGKILL)  # a worker dies: up starts another one
    [second] = wait_until(lambda: [p for p in enrich_children(up.process.pid) if p != child], "a restarted worker")
    assert b"worker.exited" in up.log.read_bytes()
    lands(up)

    up.process.send_signal(signal.SIGTERM)  # up stops: so do its workers
    assert up.process.wait(timeout=30) == 0
    wait_until(lambda: not alive(second), "the worker to stop with up", timeout=15)


def test_workers_exit_when_up_is_killed(up_one_worker: Running) -> None:
    up = up_one_worker
    [child] = wait_until(lambda: enrich_children(up.process.pid), "an enrich worker process")
    up.process.kill()  # kill -9: no chance to stop its children
    up.process.wait()
    wait_until(lambda: not alive(child), "the orphaned worker to notice and exit", timeout=30)
