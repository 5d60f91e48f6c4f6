"""`switchboard up` (everything in one process) and `switchboard ingest|enrich|route` (one service each)."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from services.cli.options import ConfigOpt, DataOpt, NatsOpt, settings_from
from services.config.errors import ConfigError

HostOpt = Annotated[Optional[str], typer.Option("--host", help="HTTP bind address (default 127.0.0.1).")]
PortOpt = Annotated[Optional[int], typer.Option("--port", help="HTTP port (default 8000).")]


WebPortOpt = Annotated[Optional[int], typer.Option("--web-port", help="PM inbox port (default 8080, on 127.0.0.1).")]
EnrichWorkersOpt = Annotated[Optional[int], typer.Option(
    "--enrich-workers", min=0, help="Enrich worker processes (default: one per spare core; 0 = inside this process).")]


def _run(services: tuple[str, ...], config, nats, data, host=None, port=None, embedded: bool = True, web_port=None,  # type: ignore[no-untyped-def]
         publish: bool = False, enrich_workers=None) -> None:
    from services.runner import run_blocking

    settings = settings_from(config=config, nats_url=nats, data=data, host=host, port=port, web_port=web_port,
                             enrich_workers=enrich_workers)
    settings = with_local_public_url(settings, port, os.environ)
    if "web" in services:
        from services.cli.web import announce

        announce(settings)
    try:
        run_blocking(settings, services, embedded=embedded, publish=publish)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass


def with_local_public_url(settings, port, env):  # type: ignore[no-untyped-def]
    """`--port P` without SWITCHBOARD_PUBLIC_URL: the "did this help?" links point at this receiver, not at :8000."""
    if port is None or "SWITCHBOARD_PUBLIC_URL" in env:
        return settings
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return settings.model_copy(update={"public_url": f"http://{host}:{port}"})


def up(config: ConfigOpt = None, host: HostOpt = None, port: PortOpt = None, nats: NatsOpt = None, data: DataOpt = None,
       web_port: WebPortOpt = None, enrich_workers: EnrichWorkersOpt = None) -> None:
    """Start everything: embedded NATS (unless --nats/NATS_URL), the webhook receiver, enrich, route, deliver and
    the PM inbox (http://127.0.0.1:8080).

    The --config folder becomes the current published config version when it differs from it
    (`switchboard config versions`); single services (`switchboard route`, ...) run the published version.

    Example: `switchboard up --config examples/config` then, in another terminal, `switchboard demo`.
    """
    _run(("ingest", "enrich", "route", "deliver", "web"), config, nats, data, host, port, web_port=web_port, publish=True,
         enrich_workers=enrich_workers)


def ingest(config: ConfigOpt = None, host: HostOpt = None, port: PortOpt = None, nats: NatsOpt = None, data: DataOpt = None) -> None:
    """Run only the webhook receiver (POST /webhooks/<source>) against --nats/NATS_URL.

    Example: `switchboard ingest --host 0.0.0.0 --port 8000 --nats nats://nats:4222` (deploy/README.md: its NATS user).
    """
    _run(("ingest",), config, nats, data, host, port, embedded=False)


def enrich(config: ConfigOpt = None, nats: NatsOpt = None, data: DataOpt = None) -> None:
    """Run only the enrich worker (accounts, area, intent, KB match). Run several for more throughput.

    Example: `switchboard enrich --nats nats://nats:4222`.
    """
    _run(("enrich",), config, nats, data, embedded=False)


def route(config: ConfigOpt = None, nats: NatsOpt = None, data: DataOpt = None) -> None:
    """Run only the route worker (rules.yaml → team queues, answers, drops).

    Example: `switchboard route --nats nats://nats:4222`.
    """
    _run(("route",), config, nats, data, embedded=False)


def deliver(config: ConfigOpt = None, nats: NatsOpt = None, data: DataOpt = None) -> None:
    """Run only the deliver worker (answers, team notifications and PM replies back to the tools).

    Example: `SWITCHBOARD_DELIVER_METRICS_PORT=9102 switchboard deliver --nats nats://nats:4222`.
    """
    _run(("deliver",), config, nats, data, embedded=False)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Run")(up)
    app.command(rich_help_panel="Run")(ingest)
    app.command(rich_help_panel="Run")(enrich)
    app.command(rich_help_panel="Run")(route)
    app.command(rich_help_panel="Run")(deliver)
