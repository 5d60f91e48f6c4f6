"""The process supervision of `up`'s workers (services/worker_processes.py) with stand-in commands: a worker
that dies is started again, stopping sends SIGTERM and waits, a worker that ignores SIGTERM is killed after the
grace period, and a child notices when its parent is gone. (The real enrich workers: tests/e2e/test_enrich_processes.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from services.worker_processes import PARENT_ENV, WorkerPool, default_count, enrich_command, watch_parent

pytestmark = pytest.mark.integration


async def until(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


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


async def test_watch_parent_stops_when_reparented() -> None:
    stop = asyncio.Event()
    await asyncio.wait_for(watch_parent(os.getppid() + 10_000_000, stop, interval=0.05), 5)  # not our parent
    assert stop.is_set()
    still = asyncio.Event()
    watcher = asyncio.create_task(watch_parent(os.getppid(), still, interval=0.05))
    await asyncio.sleep(0.2)
    assert not still.is_set()  # our real parent is alive
    still.set()
    await asyncio.wait_for(watcher, 5)
