"""`switchboard inbox TEAM`, `answers` and `trace ID` (trace.py): read a running instance's streams without
consuming them. Webhook text is hostile: every value printed goes through `rich.markup.escape`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from schemas.item import Item
from services.cli.options import ConfigOpt, DataOpt, JsonOpt, LimitOpt, NatsOpt, run_against_instance, settings_from
from services.cli.reading import read_subjects
from services.common import names
from services.common.broker import connect_briefly
from services.cli.trace import trace

console = Console()


async def _read_items(settings, stream: str, filters: list[str], limit: int | None) -> list[Item]:  # type: ignore[no-untyped-def]
    nc = await connect_briefly(settings)
    try:
        rows = await read_subjects(nc.jetstream(), stream, filters, limit)
    finally:
        await nc.close()
    return [Item.model_validate_json(data) for _, data in rows]


def _run(coro_factory, nats, data):  # type: ignore[no-untyped-def]
    return run_against_instance(coro_factory, settings_from(nats_url=nats, data=data))


def _money(value: float | None) -> str:
    return "" if value is None else f"${value:,.0f}"


def _items_table(items: list[Item], title: str, states: list[dict] | None = None) -> Table:  # type: ignore[type-arg]
    table = Table(title=title, show_lines=False, expand=True)
    table.add_column("received", overflow="fold")
    if states:
        table.add_column("state", no_wrap=True)
    for col in ("account", "ARR", "area", "intent", "text", "decision"):
        table.add_column(col, overflow="fold")
    for n, item in enumerate(items):
        text = (item.title + ": " if item.title else "") + (item.text or "")
        d = item.decision
        table.add_row(*map(escape, (
            item.received_at.strftime("%Y-%m-%d %H:%M"),
            *((_state_cell(states[n]),) if states else ()),
            (item.account.name or item.account.id) if item.account else "-",
            _money(item.account.arr) if item.account else "",
            f"{item.area.id} {item.area.confidence:.2f}" if item.area else "-",
            item.intent or "-",
            text[:140],
            f"{d.rule or 'built-in'}: {d.reason}" if d else "",
        )))
    return table


def _state_cell(state: dict) -> str:  # type: ignore[type-arg]
    cell = state["status"] + (f" by {state['assignee']}" if state["status"] == "claimed" and state["assignee"] else "")
    return cell + (" OVERDUE" if state["overdue"] else "")


def _print_items(items: list[Item], as_json: bool, title: str) -> None:
    if as_json:
        for item in items:
            typer.echo(item.model_dump_json())
    elif items:
        console.print(_items_table(items, title))


StateOpt = Annotated[str, typer.Option("--state", help="open (open and claimed, the default), claimed, snoozed, "
                                                       "resolved or all: the web inbox's states.")]


def inbox(
    team: Annotated[str, typer.Argument(help="The team whose queue to show, e.g. `platform` or `unrouted`.")],
    as_json: JsonOpt = False,
    limit: LimitOpt = 50,
    state: StateOpt = "open",
    nats: NatsOpt = None,
    data: DataOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The items in a team's queue, newest last, without consuming them, with the web inbox's state.

    `switchboard inbox platform --json | jq .state` — any NATS client can read the same queue
    from stream SB_QUEUES, subject `sb.queue.<team>.>` (state: KV bucket sb_item_state).
    """
    from services.cli.inbox_state import read_team
    from services.inbox.state import STATE_FILTERS

    if not names.TOKEN_RE.match(team):
        typer.echo(f"{team!r} is not a team name (letters, digits, '-' and '_')", err=True)
        raise typer.Exit(2)
    if state not in STATE_FILTERS:
        typer.echo(f"--state must be one of {', '.join(STATE_FILTERS)}", err=True)
        raise typer.Exit(2)
    rows = run_against_instance(lambda s: read_team(s, team, state, limit),
                                settings_from(nats_url=nats, data=data, config=config))
    if as_json:
        for item, st in rows:
            typer.echo(json.dumps({**item.model_dump(mode="json"), "state": st}))
    elif rows:
        console.print(_items_table([i for i, _ in rows], f"{team}: {len(rows)} {state}", [st for _, st in rows]))


def answers(
    as_json: JsonOpt = False,
    limit: LimitOpt = 50,
    nats: NatsOpt = None,
    data: DataOpt = None,
    stats: Annotated[bool, typer.Option("--stats", help="Per article: answers given, helpful, not helpful.")] = False,
) -> None:
    """KB answers given (stream SB_ANSWERS), newest last; `--stats`: counts per article with "did this help?".

    Example: `switchboard answers --limit 10`, `switchboard answers --stats --json`.
    """
    if stats:
        from services.cli.answer_stats import print_stats, read_stats

        print_stats(_run(read_stats, nats, data), as_json, console)
        return
    items = _run(lambda s: _read_items(s, names.ANSWERS, [names.all_stream_filter(names.ANSWERS)], limit), nats, data)
    if as_json:
        _print_items(items, True, "")
        return
    table = Table(title=f"{len(items)} answers", expand=True)
    for col in ("received", "source", "question", "article", "score"):
        table.add_column(col, overflow="fold")
    for item in items:
        a = item.answer
        table.add_row(*map(escape, (item.received_at.strftime("%Y-%m-%d %H:%M"), item.source, (item.text or "")[:120],
                                    a.article if a else "-", f"{a.score:.2f}" if a else "")))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Read")(inbox)
    app.command(rich_help_panel="Read")(answers)
    app.command(rich_help_panel="Read")(trace)  # services/cli/trace.py
