"""Worker processes of `switchboard up`: enrich runs in its own processes, so the encoder gets the cores ingest
and route do not use, and a saturated receiver can no longer starve it (docs/performance.md).

Each child is `switchboard enrich` (python -m services.cli.main enrich) on the same NATS URL, config and data
folder, so all of them share enrich's durable consumer: JetStream hands each batch to one of them. Their logs
go to the parent's stdout/stderr (they inherit them), one JSON line per event as usual.

Lifecycle:
- `up` stops (SIGTERM/SIGINT): each child gets SIGTERM, has `STOP_GRACE_S` to drain, then SIGKILL.
- A child dies: it is started again after a back-off (1 s doubling to 30 s; reset once it ran a minute).
- `up` dies without cleaning up (kill -9): each child watches its parent pid (SWITCHBOARD_PARENT_PID) and
  stops itself within a second when it has been re-parented.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
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


async def watch_parent(parent_pid: int, stop: asyncio.Event, interval: float = 0.5) -> None:
    """In a child: set `stop` once the parent is gone (this process was re-parented), e.g. after kill -9."""
    while not stop.is_set():
        if os.getppid() != parent_pid:
            log.warning("worker.parent_gone", parent_pid=parent_pid)
            stop.set()
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def parent_pid() -> int | None:
    """The pid of the `up` that started this process, when it is one of its workers."""
    value = os.environ.get(PARENT_ENV, "")
    return int(value) if value.isdigit() else None


def enrich_processes(settings: Settings, nats_url: str, stop: asyncio.Event) -> WorkerPool:
    """`up`'s enrich workers: settings.enrich_workers of them (None: one per spare core)."""
    count = settings.enrich_workers if settings.enrich_workers is not None else default_count()
    log.info("enrich.processes", count=count)
    return WorkerPool("enrich", enrich_command(settings.config, nats_url, settings.data), count, os.environ, stop)
