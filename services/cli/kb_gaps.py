"""`switchboard kb gaps [--since 30d] [--json] [--write DIR]`: the questions the knowledge base did not settle
(no confident answer, or the answer was rejected), grouped like themes, with a suggested article title; `--write`
drafts `DIR/kb/<slug>.md` for a writer (contract 7; docs/digests.md)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from services.cli.options import DataOpt, JsonOpt, NatsOpt, run_against_instance, settings_from
from services.common.broker import connect_briefly
from services.common.settings import Settings
from services.config.teams import duration_seconds
from services.digest.gaps import Gap, find_gaps, write_drafts
from services.digest.reader import read_period

SinceOpt = Annotated[str, typer.Option("--since", help="The period: 7d, 30d, 12w...")]
WriteOpt = Annotated[Optional[Path], typer.Option("--write", help="Draft DIR/kb/<slug>.md per gap (existing files are kept).")]


async def read_gaps(settings: Settings, since: str, now: datetime) -> list[Gap]:
    nc = await connect_briefly(settings)
    try:
        items, _ = await read_period(nc.jetstream(), since, now)
    finally:
        await nc.close()
    return find_gaps(items, now - timedelta(seconds=duration_seconds(since)), now)


def gaps(since: SinceOpt = "30d", as_json: JsonOpt = False, write: WriteOpt = None, nats: NatsOpt = None,
         data: DataOpt = None) -> None:
    """Questions that got no confident answer, or whose answer did not help: per group the count, accounts, ARR,
    example questions and a suggested title. Write an article for the top ones, then `kb calibrate`."""
    try:
        duration_seconds(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    found = run_against_instance(lambda s: read_gaps(s, since, datetime.now(UTC)), settings_from(nats_url=nats, data=data))
    written = write_drafts(found, write) if write is not None else []
    if as_json:
        for gap in found:
            typer.echo(json.dumps(asdict(gap)))
        for path, new in written:
            typer.echo(json.dumps({"draft": str(path), "written": new}), err=True)
        return
    console = Console()
    table = Table(title=f"KB gaps, last {since} ({sum(g.questions for g in found)} questions)", expand=True)
    for col in ("suggested title", "area", "questions", "rejected", "accounts", "ARR", "example"):
        table.add_column(col, overflow="fold")
    for g in found:
        table.add_row(g.title, g.area or "", str(g.questions), str(g.rejected), str(g.accounts), f"{g.arr:,.0f}",
                      g.examples[0] if g.examples else "")
    console.print(table)
    for path, new in written:
        console.print(f"{'wrote' if new else 'kept existing'} {path}")


def register(app: typer.Typer) -> None:
    from services.cli.judgement import kb_app  # `kb` is the judgement module's group: gaps joins ask and calibrate

    kb_app.command("gaps")(gaps)
