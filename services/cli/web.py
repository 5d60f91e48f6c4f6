"""`switchboard web`: the PM inbox (pages and JSON API, contract 6) against a running instance's NATS."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from services.cli.options import ConfigOpt, DataOpt, NatsOpt, settings_from
from services.common.settings import Settings
from services.config.errors import ConfigError

WebHostOpt = Annotated[Optional[str], typer.Option("--host", help="Bind address (default 127.0.0.1).")]
WebPortOpt = Annotated[Optional[int], typer.Option("--port", help="Port (default 8080).")]


def announce(settings: Settings) -> None:
    """Say where the inbox is and how to log in (the variable NAME holding a token, never the token)."""
    host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::") else settings.web_host
    line = f"PM inbox: http://{host}:{settings.web_port}/"
    try:
        from services.config.loader import load_config

        users = load_config(settings.config).users
    except ConfigError:
        users = []
    if users:
        first = users[0]
        line += f"  (log in as {first.email} with the token in ${first.token}"
        line += "; demo tokens: examples/demo.env)" if "DEMO" in first.token else ")"
    typer.echo(line, err=True)


def web(
    config: ConfigOpt = None,
    host: WebHostOpt = None,
    port: WebPortOpt = None,
    nats: NatsOpt = None,
    data: DataOpt = None,
) -> None:
    """Serve the PM inbox: log in, work a team's queue (claim, snooze, reassign, resolve), JSON API under /api.

    Example: `switchboard web --port 8080` next to a running `switchboard up` (which serves it too).
    """
    from services.runner import run_blocking

    settings = settings_from(config=config, nats_url=nats, data=data, web_host=host, web_port=port)
    announce(settings)
    try:
        run_blocking(settings, ("web",), embedded=False)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Run")(web)
