"""`switchboard trace ID`: the path of one item through the streams — received, enriched (account, area, intent,
KB with their top candidates), decided (rule, why, thresholds in force, config version), answered or queued,
the asker's verdict, each delivery — plus dead letters. Every value is escaped: webhook text is hostile, and
rule reasons hold brackets (`intent bug in [bug, churn_risk]`) that Rich would otherwise eat as markup."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from schemas.item import Candidate, DeadLetter, Item
from services.cli.options import DataOpt, JsonOpt, NatsOpt, run_against_instance, settings_from
from services.cli.reading import read_subjects
from services.common import names
from services.common.broker import connect_briefly

console = Console(highlight=False)

TRACE_STREAMS = [
    ("received", names.EVENTS),
    ("enriched", names.ENRICHED),
    ("queued", names.QUEUES),
    ("answered", names.ANSWERS),
    ("dropped", names.DROPPED),
    ("recorded", names.RECORDS),
]


async def read_trace(settings, item_id: str) -> list[tuple[str, str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    nc = await connect_briefly(settings)
    js = nc.jetstream()
    found: list[tuple[str, str, dict[str, Any]]] = []
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


async def _deliveries(js, settings, item_id: str) -> list[tuple[str, str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """The delivery ledger's entries of this item (contract 5): target, status, attempts."""
    from services.common.streams import deliveries_bucket
    from services.deliver.ledger import Ledger

    ledger = Ledger(await deliveries_bucket(js, settings))
    return [("delivery", names.delivery_key(item_id, d.target), d.model_dump(mode="json"))
            for d in await ledger.for_item(item_id)]


def _money(value: float | None) -> str:
    return "" if value is None else f"${value:,.0f}"


def _candidates(candidates: list[Candidate]) -> str:
    return ", ".join(f"{c.id} {c.score:.2f}" for c in candidates)


def _say(line: str) -> None:
    console.print("   " + escape(line), soft_wrap=True)


def _print_step(step: str, subject: str, body: dict[str, Any]) -> None:
    if step == "delivery":
        extra = f", HTTP {body['http_status']}" if body.get("http_status") else ""
        extra += " (found by its marker)" if body.get("checked") else ""
        extra += f": {body['last_error']}" if body.get("last_error") else ""
        console.print("[bold]delivery[/bold]  " + escape(f"{body['target']} ({body['kind']}) {body['status']}, "
                                                         f"{body['attempts']} attempt(s){extra}"), soft_wrap=True)
        return
    console.print(f"[bold]{escape(step)}[/bold]  [dim]{escape(subject)}[/dim]")
    if step == "dead-lettered":
        dl = DeadLetter.model_validate(body)
        _say(f"stage {dl.stage}, attempt {dl.attempts}: {dl.reason}")
        return
    if step == "feedback":
        _say(f"the asker said: {body.get('verdict')} (via {body.get('via')}, at {body.get('at')})")
        return
    item = Item.model_validate(body)
    if step == "received":
        _say(f"{item.source} ({item.kind}) {item.event_type}, delivery {item.delivery_id}, at {item.received_at:%Y-%m-%d %H:%M:%S}")
        _say(f"{(item.title + ': ') if item.title else ''}{(item.text or '')[:200]}")
    elif step == "enriched":
        _print_enrichment(item)
    elif item.decision:
        _print_decision(item)


def _print_enrichment(item: Item) -> None:
    acct = item.account
    _say(f"account: {acct.name or acct.id} ({_money(acct.arr)}, {acct.plan}, owner {acct.owner}; matched by {acct.matched_by})"
         if acct else "account: none matched")
    if item.area:
        _say(f"area: {item.area.id} (confidence {item.area.confidence:.2f}, best guess {item.area.best})")
        if item.area.candidates:
            _say(f"   top areas: {_candidates(item.area.candidates)}")
    if item.intent:
        _say(f"intent: {item.intent} ({(item.intent_confidence or 0):.2f})")
    if item.kb:
        _say(f"best KB article: {item.kb.article} (score {item.kb.score:.2f})")
        if item.kb.candidates:
            _say(f"   top articles: {_candidates(item.kb.candidates)}")
    if item.theme:
        t = item.theme
        _say(f"theme: {t.label} ({t.id}: {t.items} items, {t.accounts} accounts, {_money(t.arr)} ARR)")
    if item.config_version:
        _say(f"judged with config version {item.config_version}")


def _print_decision(item: Item) -> None:
    d = item.decision
    assert d is not None
    where = (" to " + d.team if d.team else "") + (f" [{d.priority}]" if d.priority else "")
    _say(f"rule {d.rule or '(none: built-in)'} → {d.action}{where}" + (" (answer rejected by the asker)" if item.answer_rejected else ""))
    _say(f"why: {d.reason}")
    if d.thresholds:
        _say("thresholds in force: " + ", ".join(f"{k} {v:.2f}" for k, v in d.thresholds.items()))
    if d.config_version:
        _say(f"config version {d.config_version}")
    if item.answer:
        _say(f"answer: {item.answer.title or item.answer.article} {item.answer.url or ''}")


def trace(
    item_id: Annotated[str, typer.Argument(help="An item id, as returned in the 202 reply's `ids`.")],
    as_json: JsonOpt = False,
    nats: NatsOpt = None,
    data: DataOpt = None,
) -> None:
    """The path of one item: received, enriched (with what, and the runner-up candidates), decided (which rule,
    why, with which thresholds and config version), delivered.

    Example: `switchboard trace 8b93f1223fa278a2d4b8aadf` (ids: `switchboard demo`, `inbox`, `answers --json`);
    `--json` prints one JSON object per step.
    """
    if not names.TOKEN_RE.match(item_id):
        typer.echo("not an item id", err=True)
        raise typer.Exit(2)
    steps = run_against_instance(lambda s: read_trace(s, item_id), settings_from(nats_url=nats, data=data))
    if not steps:
        typer.echo(f"no item {item_id} in any stream", err=True)
        raise typer.Exit(1)
    for step, subject, body in steps:
        if as_json:
            typer.echo(json.dumps({"step": step, "subject": subject, "delivery" if step == "delivery" else "item": body}))
        else:
            _print_step(step, subject, body)
