"""`switchboard themes [--team T] [--since 7d] [--json]` (contract 7), `themes rename ID LABEL` and
`themes merge ID INTO_ID`: read and curate the themes of a running instance."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from schemas.item import Item
from schemas.theme import ThemeReport
from services.cli.options import ConfigOpt, DataOpt, JsonOpt, NatsOpt, run_against_instance, settings_from
from services.cli.reading import read_subjects
from services.common import names
from services.common.broker import connect_briefly
from services.common.settings import Settings
from services.common.streams import themes_bucket
from services.config.teams import duration_seconds
from services.themes.catalog import load_themes
from services.themes.report import Directory, theme_reports
from services.themes.entries import UnknownTheme, merge, rename

themes_app = typer.Typer(help="Themes: similar feedback across sources and accounts (contract 7).",
                         invoke_without_command=True, no_args_is_help=False)
console = Console()

TeamOpt = Annotated[Optional[str], typer.Option("--team", help="Only the themes of this team (where their items went).")]
SinceOpt = Annotated[str, typer.Option("--since", help="The period: 24h, 7d, 30d; `previous` is the period before it.")]


def area_teams(config: Path | None) -> dict[str, str]:
    """Area -> owning team from the config folder (used for themes whose items are in no team queue)."""
    from services.cli.check import default_config_dir
    from services.config.loader import load_config

    try:
        return {a.id: a.team for a in load_config(config or default_config_dir()).areas.areas}
    except Exception:  # noqa: BLE001 - the report works without it (teams then come from the queues only)
        return {}


async def gather(settings: Settings, since: datetime, window: timedelta, teams: dict[str, str]) -> tuple[list[Item], list[Item], Directory]:
    """The enriched items of the period and of the one before, and what resolves their themes."""
    nc = await connect_briefly(settings)
    try:
        js = nc.jetstream()
        start = since - window
        rows = await read_subjects(js, names.ENRICHED, [names.all_stream_filter(names.ENRICHED)], since=start)
        queued = await read_subjects(js, names.QUEUES, [names.all_stream_filter(names.QUEUES)], since=start)
        themes = await load_themes(await themes_bucket(js, settings))
    finally:
        await nc.close()
    items = [i for i in (Item.model_validate_json(d) for _, d in rows) if i.theme is not None]
    item_teams = {}
    for subject, _ in queued:
        parts = subject.split(".")  # sb.queue.<team>.<item id>
        if len(parts) >= 4:
            item_teams[parts[3]] = parts[2]
    period = [i for i in items if i.received_at >= since]
    previous = [i for i in items if i.received_at < since]
    return period, previous, Directory(themes=themes, area_teams=teams, item_teams=item_teams)


def _trend(row: ThemeReport) -> str:
    if row.previous == 0:
        return "new"
    change = (row.items - row.previous) / row.previous
    return f"{change:+.0%}"


def print_table(rows: list[ThemeReport], since: str) -> None:
    table = Table(title=f"{len(rows)} themes, last {since} (by ARR affected, then items)", expand=True)
    for col, kw in (("theme", {"overflow": "fold"}), ("area / team", {}), ("items", {"justify": "right"}),
                    ("accounts", {"justify": "right"}), ("ARR", {"justify": "right"}), ("trend", {"justify": "right"}),
                    ("example", {"overflow": "fold"})):
        table.add_column(col, **kw)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(f"[bold]{r.label}[/bold]\n[dim]{r.id}[/dim]", f"{r.area or '-'}\n{r.team or '-'}", str(r.items),
                      str(r.accounts), f"${r.arr:,.0f}", f"{_trend(r)}\n[dim]prev {r.previous}[/dim]",
                      (r.examples[0][:120] if r.examples else ""))
    console.print(table)


@themes_app.callback()
def themes(
    ctx: typer.Context,
    team: TeamOpt = None,
    since: SinceOpt = "7d",
    as_json: JsonOpt = False,
    nats: NatsOpt = None,
    data: DataOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Themes of the period: items, distinct accounts, ARR affected (each account once), the previous period's
    count, examples and item ids. `--json`: one theme per line, sorted by ARR then items."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        window = timedelta(seconds=duration_seconds(since))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    start = datetime.now(UTC) - window
    teams = area_teams(config)
    period, previous, directory = run_against_instance(lambda s: gather(s, start, window, teams),
                                                       settings_from(nats_url=nats, data=data))
    rows = theme_reports(period, previous, directory, team)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row.model_dump(mode="json")))
    elif rows:
        print_table(rows, since)
    else:
        typer.echo(f"no themes in the last {since}" + (f" for team {team}" if team else ""), err=True)


async def _change(settings: Settings, what: str, theme_id: str, other: str) -> dict:  # type: ignore[type-arg]
    nc = await connect_briefly(settings)
    try:
        kv = await themes_bucket(nc.jetstream(), settings)
        now = datetime.now(UTC)
        theme = await (rename(kv, theme_id, other, now) if what == "rename" else merge(kv, theme_id, other, now))
        return {"id": theme.id, "label": theme.label, "area": theme.area, "items": theme.items,
                "accounts": len(theme.accounts), "arr": theme.arr}
    finally:
        await nc.close()


def _apply(what: str, theme_id: str, other: str, nats: str | None, data: Path | None) -> None:
    try:
        result = run_against_instance(lambda s: _change(s, what, theme_id, other), settings_from(nats_url=nats, data=data))
    except UnknownTheme as exc:
        typer.echo(f"no theme {exc.args[0]}", err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result))


@themes_app.command("rename")
def rename_cmd(
    theme_id: Annotated[str, typer.Argument(metavar="ID", help="The theme (a merged id renames its survivor).")],
    label: Annotated[str, typer.Argument(metavar="LABEL", help="The new label; it is no longer recomputed.")],
    nats: NatsOpt = None,
    data: DataOpt = None,
) -> None:
    """Give a theme a label of your own."""
    if not label.strip():
        raise typer.BadParameter("the label is empty", param_hint="LABEL")
    _apply("rename", theme_id, label.strip(), nats, data)


@themes_app.command("merge")
def merge_cmd(
    theme_id: Annotated[str, typer.Argument(metavar="ID", help="The theme that goes away.")],
    into_id: Annotated[str, typer.Argument(metavar="INTO_ID", help="The theme that survives and takes it in.")],
    nats: NatsOpt = None,
    data: DataOpt = None,
) -> None:
    """Merge theme ID into INTO_ID: its items keep their id; reports count them under INTO_ID."""
    _apply("merge", theme_id, into_id, nats, data)


def register(app: typer.Typer) -> None:
    app.add_typer(themes_app, name="themes", rich_help_panel="Read")
