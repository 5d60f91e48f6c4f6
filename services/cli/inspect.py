"""`switchboard inbox TEAM`, `answers` and `trace ID`: read a running instance's streams without consuming them."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from schemas.item import DeadLetter, Item
from services.cli.options import ConfigOpt, DataOpt, JsonOpt, LimitOpt, NatsOpt, run_against_instance, settings_from
from services.cli.reading import read_subjects
from services.common import names
from services.common.broker import connect_briefly

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
        table.add_row(
            item.received_at.strftime("%Y-%m-%d %H:%M"),
            *((_state_cell(states[n]),) if states else ()),
            (item.account.name or item.account.id) if item.account else "-",
            _money(item.account.arr) if item.account else "",
            f"{item.area.id} {item.area.confidence:.2f}" if item.area else "-",
            item.intent or "-",
            text[:140],
            f"{d.rule or 'built-in'}: {d.reason}" if d else "",
        )
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
    """KB answers given (stream SB_ANSWERS), newest last; `--stats`: counts per article with "did this help?"."""
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
        table.add_row(item.received_at.strftime("%Y-%m-%d %H:%M"), item.source, (item.text or "")[:120],
                      a.article if a else "-", f"{a.score:.2f}" if a else "")
    console.print(table)


TRACE_STREAMS = [
    ("received", names.EVENTS),
    ("enriched", names.ENRICHED),
    ("queued", names.QUEUES),
    ("answered", names.ANSWERS),
    ("dropped", names.DROPPED),
    ("recorded", names.RECORDS),
]


async def _trace(settings, item_id: str) -> list[tuple[str, str, dict]]:  # type: ignore[no-untyped-def,type-arg]
    nc = await connect_briefly(settings)
    js = nc.jetstream()
    found: list[tuple[str, str, dict]] = []  # type: ignore[type-arg]
    try:
        for step, stream in [*TRACE_STREAMS, ("dead-lettered", names.DLQ)]:
            prefix = names.STREAM_PREFIXES[stream]
            rows = await read_subjects(js, stream, [f"{prefix}.*.{item_id}", f"{prefix}.*.{item_id}.>"])
            found.extend((step, subject, json.loads(data)) for subject, data in rows)
        rows = await read_subjects(js, names.FEEDBACK, [names.feedback_subject(item_id)])
        found.extend(("feedback", subject, json.loads(data)) for subject, data in rows)  # "did this help?"
        found.extend(await _deliveries(js, settings, item_id))
    finally:
        await nc.close()
    return found


async def _deliveries(js, settings, item_id: str) -> list[tuple[str, str, dict]]:  # type: ignore[no-untyped-def,type-arg]
    """The delivery ledger's entries of this item (contract 5): target, status, attempts."""
    from services.common.streams import deliveries_bucket
    from services.deliver.ledger import Ledger

    ledger = Ledger(await deliveries_bucket(js, settings))
    return [("delivery", names.delivery_key(item_id, d.target), d.model_dump(mode="json"))
            for d in await ledger.for_item(item_id)]


def trace(
    item_id: Annotated[str, typer.Argument(help="An item id, as returned in the 202 reply's `ids`.")],
    as_json: JsonOpt = False,
    nats: NatsOpt = None,
    data: DataOpt = None,
) -> None:
    """The path of one item: received, enriched (with what), decided (which rule, why)."""
    if not names.TOKEN_RE.match(item_id):
        typer.echo("not an item id", err=True)
        raise typer.Exit(2)
    steps = _run(lambda s: _trace(s, item_id), nats, data)
    if not steps:
        typer.echo(f"no item {item_id} in any stream", err=True)
        raise typer.Exit(1)
    for step, subject, body in steps:
        if as_json:
            typer.echo(json.dumps({"step": step, "subject": subject, "delivery" if step == "delivery" else "item": body}))
            continue
        if step == "delivery":
            extra = f", HTTP {body['http_status']}" if body.get("http_status") else ""
            extra += " (found by its marker)" if body.get("checked") else ""
            extra += f": {body['last_error']}" if body.get("last_error") else ""
            console.print(f"[bold]delivery[/bold]  {body['target']} ({body['kind']}) {body['status']}, "
                          f"{body['attempts']} attempt(s){extra}")
            continue
        console.print(f"[bold]{step}[/bold]  [dim]{subject}[/dim]")
        if step == "dead-lettered":
            dl = DeadLetter.model_validate(body)
            console.print(f"   stage {dl.stage}, attempt {dl.attempts}: {dl.reason}")
            continue
        if step == "feedback":
            console.print(f"   the asker said: {body.get('verdict')} (via {body.get('via')}, at {body.get('at')})")
            continue
        item = Item.model_validate(body)
        if step == "received":
            console.print(f"   {item.source} ({item.kind}) {item.event_type}, delivery {item.delivery_id}, at {item.received_at:%Y-%m-%d %H:%M:%S}")
            console.print(f"   {(item.title + ': ') if item.title else ''}{(item.text or '')[:200]}")
        elif step == "enriched":
            acct = item.account
            console.print(f"   account: {acct.name or acct.id} ({_money(acct.arr)}, {acct.plan}, owner {acct.owner}; matched by {acct.matched_by})" if acct else "   account: none matched")
            if item.area:
                console.print(f"   area: {item.area.id} (confidence {item.area.confidence:.2f}, best guess {item.area.best})")
            if item.intent:
                console.print(f"   intent: {item.intent} ({(item.intent_confidence or 0):.2f})")
            if item.kb:
                console.print(f"   best KB article: {item.kb.article} (score {item.kb.score:.2f})")
            if item.theme:
                t = item.theme
                console.print(f"   theme: {t.label} ({t.id}: {t.items} items, {t.accounts} accounts, ${t.arr:,.0f} ARR)", markup=False)
        elif item.decision:
            d = item.decision
            console.print(f"   rule {d.rule or '(none)'} → {d.action}{' to ' + d.team if d.team else ''}{' [' + d.priority + ']' if d.priority else ''}")
            console.print(f"   why: {d.reason}")
            if item.answer:
                console.print(f"   answer: {item.answer.title or item.answer.article} {item.answer.url or ''}")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Read")(inbox)
    app.command(rich_help_panel="Read")(answers)
    app.command(rich_help_panel="Read")(trace)
