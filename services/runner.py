"""Running Switchboard: all services in one process (`switchboard up`) or one service each.

Owns the process lifecycle: the embedded nats-server when no URL is given, the NATS connection,
stream declaration, the HTTP server and the worker loops, and a clean stop on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterable, Iterator

import uvicorn
from tenacity import RetryCallState

from services.common.broker import connect, resolve_url
from services.common.embedded import EmbeddedNats, stop_recorded
from services.common.errors import describe
from services.common.heap import freeze_startup_heap
from services.common.logging import configure, get_logger
from services.common.settings import Settings
from services.common.streams import config_bucket, declare
from services.config.loader import load_config
from services.config.models import Config
from services.config.versions import startup_config
from services.worker_processes import enrich_processes, parent_pid, watch_parent

log = get_logger("switchboard")

SERVICES = ("ingest", "enrich", "route", "deliver")


def _waiting(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("nats.jetstream_waiting", attempt=state.attempt_number, waited_s=round(state.seconds_since_start or 0, 1),
                error=describe(error) if error else None)


async def run(settings: Settings, services: Iterable[str] = SERVICES, embedded: bool = True, publish: bool = False) -> None:
    """Run the given services until SIGINT/SIGTERM. With no NATS URL and `embedded`, start our own nats-server.
    `publish`: make the --config folder the current published config version (what `up` does)."""
    services = tuple(services)
    if parent_pid() is not None:  # a worker process of `up`: stop when it is gone, even while starting
        watch_parent(parent_pid())  # type: ignore[arg-type]
    config: Config = load_config(settings.config)
    server: EmbeddedNats | None = None
    if not settings.nats_url and embedded:
        if stop_recorded(settings.data):
            log.warning("nats.stale_stopped", data=str(settings.data))
        server = EmbeddedNats(settings.data / "nats", sync_always=settings.nats_sync_always).start()
        server.record(settings.data)
        log.info("nats.embedded", url=server.url, store=str(server.store_dir), sync_always=server.sync_always)
    url = server.url if server else resolve_url(settings)
    nc = await connect(settings, url)
    js = nc.jetstream()
    if parent_pid() is None:  # a worker process of `up` finds them declared (and must not undo an operator's limits)
        await declare(js, settings, _waiting)
    config = await startup_config(await config_bucket(js, settings), config, settings.data / "configs", publish, by="switchboard up")
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    http: uvicorn.Server | None = None
    web: uvicorn.Server | None = None
    try:
        if "enrich" in services and len(services) > 1 and settings.enrich_workers != 0:  # `up`: own processes
            tasks.append(asyncio.create_task(enrich_processes(settings, url, stop).run(), name="enrich-workers"))
        elif "enrich" in services:
            from services.enrich.worker import run_enrich

            tasks.append(asyncio.create_task(run_enrich(js, config, settings, stop), name="enrich"))
        if "route" in services:
            from services.route.worker import run_route

            tasks.append(asyncio.create_task(run_route(js, config, settings, stop), name="route"))
        if "deliver" in services:
            from services.deliver.worker import run_deliver

            tasks.append(asyncio.create_task(run_deliver(js, config, settings, stop), name="deliver"))
        if "web" in services:  # the PM inbox (contract 6) on its own port
            from services.web.app import create_app as create_web_app

            web = _Server(uvicorn.Config(create_web_app(config, settings, nc), host=settings.web_host,
                                         port=settings.web_port, log_level="warning", access_log=False,
                                         lifespan="on", timeout_graceful_shutdown=5))
            tasks.append(asyncio.create_task(_serve_web(web, stop), name="web"))
            log.info("web.up", url=f"http://{settings.web_host}:{settings.web_port}/")
        log.info("switchboard.up", services=list(services), config=str(settings.config), version=config.version)
        if "ingest" in services:
            from services.ingest.app import create_app

            app = create_app(config, settings, nc)
            http = _Server(
                uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", access_log=False,
                               lifespan="on", timeout_graceful_shutdown=5)
            )
            freeze_startup_heap()
            serve = asyncio.create_task(http.serve(), name="http")
            _install_signals(stop)
            await _until_stopped([serve, *tasks], stop, http)
            await asyncio.wait([serve], timeout=10)
        else:
            _install_signals(stop)
            await _until_stopped(tasks, stop, None)
    finally:
        stop.set()
        if web is not None:
            web.should_exit = True
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        await nc.drain() if nc.is_connected else await nc.close()
        if server:
            server.stop()
        log.info("switchboard.stopped")


async def _serve_web(server: uvicorn.Server, stop: asyncio.Event) -> None:
    """The inbox failing to start (its port taken) is logged; the pipeline keeps running without it."""
    try:
        await server.serve()
    except (SystemExit, OSError) as exc:
        log.error("web.failed", error=repr(exc), hint="port in use? pass --web-port (up) or --port (web); or see the error above")
    if not stop.is_set():
        log.error("web.stopped", hint="the pipeline keeps running; see the error above")
        await stop.wait()


class _Server(uvicorn.Server):
    """uvicorn without its own signal capture: it re-raises SIGTERM after shutdown, which would kill the
    process before the workers drain and the embedded broker stops. `run` owns the signals instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _install_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def _until_stopped(tasks: list[asyncio.Task[None]], stop: asyncio.Event, http: uvicorn.Server | None) -> None:
    """Return when a signal sets `stop`, the HTTP server exits, or a worker crashes."""
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    stop.set()
    if http is not None:
        http.should_exit = True
    for task in done:
        if task is not waiter and not task.cancelled() and task.exception():
            raise task.exception()  # type: ignore[misc]


def run_blocking(settings: Settings, services: Iterable[str] = SERVICES, embedded: bool = True, publish: bool = False) -> None:
    configure(settings.log_level, settings.log_json)
    try:
        import uvloop

        uvloop.run(run(settings, services, embedded, publish))
    except ImportError:
        asyncio.run(run(settings, services, embedded, publish))
