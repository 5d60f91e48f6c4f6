"""Worker processes of `switchboard up`: enrich runs in its own processes, so the encoder gets the cores ingest
and route do not use, and a saturated receiver can no longer starve it (docs/performance.md).

Each child is `switchboard enrich` (python -m services.cli.main enrich) on the same NATS URL, config and data
folder, so all of them share enrich's durable consumer: JetStream hands each batch to one of them. Their logs
go to the parent's stdout/stderr (they inherit them), one JSON line per event as usual.

Lifecycle:
- `up` stops (SIGTERM/SIGINT): each child gets SIGTERM, has `STOP_GRACE_S` to drain, then SIGKILL.
- A child dies: it is started again after a back-off (1 s doubling to 30 s; reset once it ran a minute).
- `up` dies without cleaning up (kill -9): each child watches its parent pid (SWITCHBOARD_PARENT_PID) from a
  thread started before anything else, and stops itself within a second when it has been re-parented (SIGTERM
  to itself; exit if still there 15 s later), even while its start-up is stuck on an unreachable broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from services.common.logging import get_logger
from services.common.settings import Settings

log = get_logger("switchboard")

PARENT_ENV = "SWITCHBOARD_PARENT_PID"
STOP_GRACE_S = 10.0
FIRST_RESTART_DELAY_S = 1.0
MAX_RESTART_DELAY_S = 30.0
HEALTHY_AFTER_S = 60.0  # a child that ran this long resets the back-off


def default_count(cpus: int | None = None) -> int:
    """One enrich process per spare core: the parent (ingest, route, deliver, web) keeps one."""
    return max(1, (cpus if cpus is not None else (os.cpu_count() or 1)) - 1)


def enrich_command(config: Path, nats_url: str, data: Path) -> list[str]:
    return [sys.executable, "-m", "services.cli.main", "enrich", "--config", str(config), "--nats", nats_url,
            "--data", str(data)]


class WorkerPool:
    """Keeps `count` copies of `command` running until `stop` is set, then stops them."""

    def __init__(self, name: str, command: Sequence[str], count: int, env: Mapping[str, str], stop: asyncio.Event,
                 first_delay: float = FIRST_RESTART_DELAY_S, grace: float = STOP_GRACE_S) -> None:
        self.name = name
        self.command = list(command)
        self.count = count
        self.env = {**env, PARENT_ENV: str(os.getpid())}
        self.stop = stop
        self.first_delay = first_delay
        self.grace = grace
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        self.starts = 0

    async def run(self) -> None:
        await asyncio.gather(*(self._keep(slot) for slot in range(self.count)))

    async def _keep(self, slot: int) -> None:
        delay = self.first_delay
        while not self.stop.is_set():
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(*self.command, env=self.env, stdin=asyncio.subprocess.DEVNULL)
            self.processes[slot] = proc
            self.starts += 1
            log.info("worker.started", worker=self.name, slot=slot, pid=proc.pid)
            exited = asyncio.ensure_future(proc.wait())
            stopping = asyncio.ensure_future(self.stop.wait())
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not exited.done():  # `up` is stopping: so does this worker
                await self._terminate(proc, exited)
                return
            stopping.cancel()
            if self.stop.is_set():
                return
            if time.monotonic() - started >= HEALTHY_AFTER_S:
                delay = self.first_delay
            log.error("worker.exited", worker=self.name, slot=slot, pid=proc.pid, code=proc.returncode, restart_in_s=delay)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stop.wait(), delay)
            delay = min(delay * 2, MAX_RESTART_DELAY_S)

    async def _terminate(self, proc: asyncio.subprocess.Process, exited: asyncio.Future[int]) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(exited), self.grace)
        except asyncio.TimeoutError:
            log.warning("worker.killed", worker=self.name, pid=proc.pid, after_s=self.grace)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await exited
        log.info("worker.stopped", worker=self.name, pid=proc.pid, code=proc.returncode)


def _terminate_self() -> None:
    """SIGTERM to this process: a clean stop once `run` has installed its handlers, the default (exit) before."""
    os.kill(os.getpid(), signal.SIGTERM)


def watch_parent(parent_pid: int, on_gone: Callable[[], None] = _terminate_self, interval: float = 0.5,
                 grace: float = STOP_GRACE_S + 5) -> threading.Thread:
    """In a child: a daemon thread that calls `on_gone` (SIGTERM to itself) once the parent is gone (this process
    was re-parented, e.g. after kill -9 of `up`), and exits the process if it is still there `grace` seconds
    later. A thread, not a task: it must work while start-up is stuck, e.g. connecting to a broker that is down."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        log.warning("worker.parent_gone", parent_pid=parent_pid)
        on_gone()
        time.sleep(grace)
        if on_gone is _terminate_self:  # the clean stop did not finish: leave anyway
            os._exit(1)

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def parent_pid() -> int | None:
    """The pid of the `up` that started this process, when it is one of its workers."""
    value = os.environ.get(PARENT_ENV, "")
    return int(value) if value.isdigit() else None


def enrich_processes(settings: Settings, nats_url: str, stop: asyncio.Event) -> WorkerPool:
    """`up`'s enrich workers: settings.enrich_workers of them (None: one per spare core)."""
    count = settings.enrich_workers if settings.enrich_workers is not None else default_count()
    log.info("enrich.processes", count=count)
    return WorkerPool("enrich", enrich_command(settings.config, nats_url, settings.data), count, os.environ, stop)
