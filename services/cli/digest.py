"""`switchboard digest [--team T] [--since 7d] [--format md|html|json]`: the period's themes by ARR affected and
by count, new and growing themes, top accounts, churn-risk items, the answer rate and the articles that helped,
read from a running instance's streams (contract 7; docs/digests.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Optional

import typer

from schemas.digest import Digest
from services.cli.options import ConfigOpt, DataOpt, NatsOpt, run_against_instance, settings_from
from services.common.broker import connect_briefly
from services.common.settings import Settings
from services.config.errors import ConfigError
from services.config.loader import load_config
from services.config.teams import duration_seconds
from services.digest.build import build_digest
from services.digest.reader import read_period


class Format(str, Enum):
    md = "md"
    html = "html"
    json = "json"


TeamOpt = Annotated[Optional[str], typer.Option("--team", help="One team's digest (default: every team).")]
SinceOpt = Annotated[str, typer.Option("--since", help="The period: 24h, 7d, 4w... (its trend compares the one before).")]
FormatOpt = Annotated[Format, typer.Option("--format", help="md (terminal, Slack), html (with the SVG chart), json.")]


def area_teams(settings: Settings) -> dict[str, str]:
    """Area -> owning team (answered items count for the team that owns their area); empty without a config."""
    try:
        config = load_config(settings.config)
    except ConfigError:
        return {}
    return {a.id: a.team for a in config.areas.areas}


async def read_digest(settings: Settings, team: str | None, since: str, now: datetime) -> Digest:
    nc = await connect_briefly(settings)
    try:
        items, feedback = await read_period(nc.jetstream(), since, now)
    finally:
        await nc.close()
    return build_digest(items, feedback, since, team, now, area_teams(settings))


def digest(team: TeamOpt = None, since: SinceOpt = "7d", fmt: FormatOpt = Format.md, config: ConfigOpt = None,
           nats: NatsOpt = None, data: DataOpt = None) -> None:
    """A digest of what customers said, by revenue: top themes by ARR affected (each account once) and by count,
    new and growing themes, top accounts, churn risk, answer rate, articles that helped.

    Example: `switchboard digest --team insights --since 7d --format html > digest.html`.
    """
    try:
        duration_seconds(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    settings = settings_from(config=config, nats_url=nats, data=data)
    d = run_against_instance(lambda s: read_digest(s, team, since, datetime.now(UTC)), settings)
    from services.digest import render

    if fmt is Format.json:
        typer.echo(d.model_dump_json(indent=2))
    elif fmt is Format.html:
        typer.echo(render.html_document(d))
    else:
        typer.echo(render.markdown(d), nl=False)


def register(app: typer.Typer) -> None:
    app.command("digest", rich_help_panel="Voice of the customer")(digest)
