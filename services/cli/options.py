"""Options shared by commands, and turning them into Settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from services.common.settings import Settings

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
