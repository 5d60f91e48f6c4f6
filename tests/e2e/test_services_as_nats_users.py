"""The deployment shape of deploy/compose.yaml on a real nats-server with deploy/nats/auth.conf: `switchboard
ingest`, `enrich`, `route`, `deliver` and `web` as separate processes, each as its own NATS user. The demo goes
through them end to end, a PM claims an item in the inbox, `inbox` and `answers --stats` read as pm-reader, and
the server logged not one permissions violation: every user has what its service does, at start-up and at work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from bench.readiness import all_after, started_in
from services.common import names
from services.common.embedded import free_port
from tests.conftest import EXAMPLE_CONFIG, ROOT, demo_env
from tests.integration.test_nats_auth import secured  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e

SB = str(Path(sys.executable).parent / "switchboard")


def user_env(user: str, passwords: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **demo_env(), "SWITCHBOARD_LOG_JSON": "true", "SWITCHBOARD_NATS_USER": user,
            "SWITCHBOARD_NATS_PASSWORD": passwords[user], "SWITCHBOARD_NATS_INBOX_PREFIX": f"_INBOX_{user}"}


def wait_until(check: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds}s: {what}")


@pytest.fixture
def services(secured, tmp_path: Path) -> Iterator[tuple[str, dict[str, str], dict[str, int], dict[str, Path], list]]:  # noqa: F811
    url, passwords = secured
    ports = {"ingest": free_port(), "web": free_port()}
    args = {"ingest": ["--port", str(ports["ingest"])], "enrich": [], "route": [], "deliver": [],
            "web": ["--port", str(ports["web"])]}
    logs: dict[str, Path] = {}
    procs = []
    for name, extra in args.items():
        logs[name] = tmp_path / f"{name}.log"
        procs.append(subprocess.Popen(
            [SB, name, *extra, "--nats", url, "--config", str(EXAMPLE_CONFIG), "--data", str(tmp_path / f"data-{name}")],
            stdout=open(logs[name], "wb"), stderr=subprocess.STDOUT, env=user_env(name, passwords), cwd=ROOT,
        ))
    try:
        yield url, passwords, ports, logs, procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_every_service_works_as_its_own_nats_user(services, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, passwords, ports, logs, procs = services
    ingest, web = f"http://127.0.0.1:{ports['ingest']}", f"http://127.0.0.1:{ports['web']}"

    def started() -> bool:
        text = {n: p.read_text() for n, p in logs.items()}
        assert all(p.poll() is None for p in procs), {n: t[-2000:] for n, t in text.items()}
        return (httpx.get(ingest + "/readyz", timeout=1).status_code == 200
                and httpx.get(web + "/healthz", timeout=1).status_code == 200
                and all_after(started_in(logs["enrich"]), (names.ENRICH_CONSUMER,))
                and all_after(started_in(logs["route"]), (names.ROUTE_CONSUMER, names.ROUTE_FEEDBACK_CONSUMER))
                and all_after(started_in(logs["deliver"]),
                              (names.DELIVER_ANSWERS_CONSUMER, names.DELIVER_QUEUES_CONSUMER, names.DELIVER_OUTBOX_CONSUMER)))
    wait_until(started, 90, "every service started under its user")

    admin = {**user_env("admin", passwords), "SWITCHBOARD_LOG_JSON": "false"}
    demo = subprocess.run([SB, "demo", "--url", ingest, "--nats", url, "--no-fakes", "--wait", "40",
                           "--data", str(tmp_path / "data-demo")], capture_output=True, text=True, env=admin,
                          cwd=ROOT, timeout=120)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]

    ops = {"Authorization": f"Bearer {demo_env()['DEMO_OPS_TOKEN']}"}
    queue: list = []

    def listed() -> bool:  # the web user's feed sees what route queued
        queue[:] = httpx.get(web + "/api/items", params={"team": "customer-success"}, headers=ops, timeout=5).json()["items"]
        return bool(queue)
    wait_until(listed, 30, "the inbox lists the customer-success queue")
    claimed = httpx.post(f"{web}/api/items/{queue[0]['id']}/claim", headers=ops, timeout=5)
    assert claimed.status_code == 200, claimed.text

    reader = user_env("pm-reader", passwords)
    inbox = subprocess.run([SB, "inbox", "customer-success", "--json", "--state", "claimed", "--nats", url],
                           capture_output=True, text=True, env=reader, cwd=ROOT, timeout=60)
    assert inbox.returncode == 0, inbox.stderr
    assert [json.loads(line)["id"] for line in inbox.stdout.splitlines()] == [queue[0]["id"]]
    stats = subprocess.run([SB, "answers", "--stats", "--json", "--nats", url], capture_output=True, text=True,
                           env=reader, cwd=ROOT, timeout=60)
    assert stats.returncode == 0, stats.stderr
    assert sum(json.loads(line)["answers"] for line in stats.stdout.splitlines()) >= 1, stats.stdout

    def delivered() -> bool:  # deliver pulled the answers and wrote its ledger (the fake tools are not running)
        return "delivery." in logs["deliver"].read_text()
    wait_until(delivered, 30, "deliver worked on the answers")
    assert all(p.poll() is None for p in procs)
    violations = [line for line in (tmp_path / "nats.log").read_text().splitlines() if "Violation" in line]
    assert violations == []
