"""Options shared by commands, and turning them into Settings."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, Awaitable, Callable, Optional, TypeVar

import typer

from services.common.broker import NoBrokerFound
from services.common.settings import Settings

T = TypeVar("T")

ConfigOpt = Annotated[
    Optional[Path], typer.Option("--config", help="Config folder (default: $SWITCHBOARD_CONFIG or examples/config).")
]
NatsOpt = Annotated[
    Optional[str],
    typer.Option("--nats", help="NATS URL (default: $NATS_URL, else the embedded server `up` recorded in --data)."),
]
DataOpt = Annotated[
    Optional[Path], typer.Option("--data", help="Data folder: embedded NATS store and its address (default ./.switchboard).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per line, for scripts.")]
LimitOpt = Annotated[int, typer.Option("--limit", help="At most this many items (the newest).", min=1)]


def settings_from(**overrides: Any) -> Settings:
    """Settings from the environment, with the command line's options (those given) on top."""
    values = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**values)


def run_against_instance(coro_factory: Callable[[Settings], Awaitable[T]], settings: Settings) -> T:
    """Run coro_factory(settings) to completion; no broker or an unreachable NATS prints why and exits 2."""
    try:
        return asyncio.run(coro_factory(settings))  # type: ignore[arg-type]
    except NoBrokerFound as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"cannot reach NATS: {exc}", err=True)
        raise typer.Exit(2) from None
