"""The process supervision of `up`'s workers (services/worker_processes.py) with stand-in commands: a worker
that dies is started again, stopping sends SIGTERM and waits, a worker that ignores SIGTERM is killed after the
grace period, and a child notices when its parent is gone. (The real enrich workers: tests/e2e/test_enrich_processes.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from services.worker_processes import PARENT_ENV, WorkerPool, default_count, enrich_command, watch_parent
from tests.conftest import ROOT
from tests.waiting import eventually as until

pytestmark = pytest.mark.integration


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_default_is_one_worker_per_spare_core() -> None:
    assert [default_count(n) for n in (1, 2, 8)] == [1, 1, 7]
    assert enrich_command("cfg", "nats://x:1", "data")[1:] == [  # type: ignore[arg-type]
        "-m", "services.cli.main", "enrich", "--config", "cfg", "--nats", "nats://x:1", "--data", "data"]


async def test_a_worker_that_dies_is_started_again_until_stopped() -> None:
    stop = asyncio.Event()
    pool = WorkerPool("t", python("import sys; sys.exit(3)"), 1, os.environ, stop, first_delay=0.05)
    task = asyncio.create_task(pool.run())
    await until(lambda: pool.starts >= 3)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert pool.processes[0].returncode in (3, -signal.SIGTERM)  # the last one exited, or was running at the stop


async def test_stop_sends_sigterm_and_the_parent_pid_is_passed_down() -> None:
    stop = asyncio.Event()
    code = "import os, sys, time; print(os.environ['%s'], flush=True); time.sleep(60)" % PARENT_ENV
    pool = WorkerPool("t", python(code), 2, os.environ, stop)
    task = asyncio.create_task(pool.run())
    await until(lambda: len(pool.processes) == 2 and all(p.pid for p in pool.processes.values()))
    stop.set()
    await asyncio.wait_for(task, 10)
    assert [p.returncode for p in pool.processes.values()] == [-signal.SIGTERM, -signal.SIGTERM]
    assert pool.starts == 2 and pool.env[PARENT_ENV] == str(os.getpid())


async def test_a_worker_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    ready = tmp_path / "ready"
    code = f"import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); open({str(ready)!r}, 'w'); time.sleep(60)"
    pool = WorkerPool("t", python(code), 1, os.environ, stop, grace=0.5)
    pool_task = asyncio.create_task(pool.run())
    await until(ready.exists)  # the child ignores SIGTERM from here on
    stop.set()
    await asyncio.wait_for(pool_task, 10)
    assert pool.processes[0].returncode == -signal.SIGKILL


def test_watch_parent_acts_when_reparented_and_not_before() -> None:
    gone = threading.Event()
    watch_parent(os.getppid() + 10_000_000, gone.set, interval=0.01, grace=0)  # "parent" is not ours: gone
    assert gone.wait(5)
    alive = threading.Event()
    watcher = watch_parent(os.getppid(), alive.set, interval=0.01, grace=0)  # our real parent is alive
    assert not alive.wait(0.3) and watcher.is_alive()


def test_a_worker_stuck_in_start_up_exits_when_its_parent_is_killed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The orphan this guards against: a worker of `up` whose broker is down never reaches its event loop."""
    pidfile = tmp_path / "worker.pid"
    worker = (f"import os, time; from services.worker_processes import watch_parent; "
              f"open({str(pidfile)!r}, 'w').write(str(os.getpid())); watch_parent(os.getppid(), interval=0.05); "
              f"time.sleep(120)")  # stands for a start-up stuck on connecting
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys, time; "
                               f"subprocess.Popen([sys.executable, '-c', {worker!r}]); time.sleep(120)"], cwd=ROOT)
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text()):
        assert time.monotonic() < deadline and parent.poll() is None, "worker did not start"
        time.sleep(0.05)
    child = int(pidfile.read_text())
    parent.kill()  # kill -9: the worker is re-parented
    parent.wait()
    while Path(f"/proc/{child}").exists() and "Z" not in Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1][:3]:
        assert time.monotonic() < deadline + 30, "orphaned worker still running"
        time.sleep(0.05)
