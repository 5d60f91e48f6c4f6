"""`switchboard rules backtest --config NEW_DIR [--since 7d] [--json]`: re-decide a running instance's recent
items with a changed config and show what would move where (contract 8).

Every enriched item of the period is read back from SB_ENRICHED (kept `retention_days`), its actual outcome
from route's pinned decisions (KV sb_decisions), and its outcome under NEW_DIR: rules only when the judge's
inputs are unchanged, otherwise area, intent and KB match are judged again from the text first (batched).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer
from nats.js.errors import KeyNotFoundError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from schemas.item import Decision, Item
from services.cli.check import default_config_dir
from services.cli.options import DataOpt, NatsOpt, run_against_instance, settings_from
from services.cli.reading import read_subjects
from services.common import names
from services.common.broker import connect_briefly
from services.config.errors import ConfigError
from services.config.loader import load_config
from services.config.models import Config
from services.config.teams import duration_seconds
from services.route.backtest import Move, destination, judgement_inputs, tally
from services.route.rules import compile_rules, decide

BATCH = 64
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def _config(directory: Path, what: str) -> Config:
    try:
        return load_config(directory)
    except ConfigError as exc:
        err.print(f"{what} config {directory} has errors (run `switchboard check --config {directory}`):", markup=False)
        for problem in exc.problems:
            err.print(f"  {problem}", style="red", markup=False)
        raise typer.Exit(1) from None


async def _recorded(settings, since: datetime, progress: Progress) -> tuple[list[Item], dict[str, Decision]]:  # type: ignore[no-untyped-def]
    nc = await connect_briefly(settings)
    try:
        js = nc.jetstream()
        task = progress.add_task("reading enriched items", total=None)
        rows = await read_subjects(
            js, names.ENRICHED, [names.all_stream_filter(names.ENRICHED)], since=since,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
        by_id: dict[str, Item] = {}
        for _, data in rows:  # a replayed item appears twice: its latest copy counts
            item = Item.model_validate_json(data)
            by_id[item.id] = item
        items = list(by_id.values())
        kv = await js.key_value(names.DECISIONS_BUCKET)
        task = progress.add_task("reading actual decisions", total=len(items))
        decisions: dict[str, Decision] = {}

        async def one(item_id: str) -> None:
            try:
                entry = await kv.get(item_id)
            except KeyNotFoundError:
                return  # not decided yet (still in flight): compared with the running rules instead
            if entry.value:
                decisions[item_id] = Decision.model_validate_json(entry.value)

        for start in range(0, len(items), 256):
            await asyncio.gather(*(one(i.id) for i in items[start : start + 256]))
            progress.update(task, advance=len(items[start : start + 256]))
        return items, decisions
    finally:
        await nc.close()


def _rejudge(items: list[Item], new: Config, progress: Progress) -> list[Item]:
    from services.enrich.enrichment import enrich_item, needs_judgement, text_of
    from services.enrich.judge import Judge

    judge = Judge.from_config(new)
    todo = [i for i, item in enumerate(items) if needs_judgement(item)]
    task = progress.add_task("re-judging texts (areas, KB, intents or thresholds changed)", total=len(todo))
    result = list(items)
    for start in range(0, len(todo), BATCH):
        chunk = todo[start : start + BATCH]
        for index, judgement in zip(chunk, judge.judge([text_of(items[i]) for i in chunk]), strict=True):
            item = items[index]
            result[index] = enrich_item(item, item.account, judgement, item.enriched_at or item.received_at)
        progress.update(task, advance=len(chunk))
    return result


def backtest(
    config: Annotated[Path, typer.Option("--config", help="The changed config folder to try.", exists=True, file_okay=False)],
    since: Annotated[str, typer.Option("--since", help="How far back: 30m, 24h, 7d (SB_ENRICHED keeps retention_days).")] = "7d",
    current: Annotated[
        Optional[Path], typer.Option("--current", help="The running config (default $SWITCHBOARD_CONFIG or examples/config): "
                                      "decides whether texts must be judged again, and decides items not yet routed.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help='{"items": N, "moves": [{"from", "to", "count", "ids"}]}')] = False,
    samples: Annotated[int, typer.Option("--samples", min=0, help="Item ids shown per move in the table.")] = 3,
    nats: NatsOpt = None,
    data: DataOpt = None,
) -> None:
    """What a changed config would do to recent traffic, before you publish it.

    Example: `switchboard rules backtest --config ./config-next --since 7d` → a from→to table such as
    `queue:insights → answer  41  (ids ...)`. Nothing is published or changed.
    """
    try:
        window = duration_seconds(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    new = _config(config, "new")
    running = _config(current or default_config_dir(), "running")
    start = datetime.now(UTC) - timedelta(seconds=window)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=as_json) as progress:
        items, actual = run_against_instance(lambda s: _recorded(s, start, progress), settings_from(nats_url=nats, data=data))
        rejudged = judgement_inputs(new) != judgement_inputs(running)
        candidates = _rejudge(items, new, progress) if rejudged and items else items
        old_rules, new_rules = compile_rules(running.rules), compile_rules(new.rules)
        outcomes = []
        for before, after in zip(items, candidates, strict=True):
            was = actual.get(before.id) or decide(before, old_rules, running.areas, running.thresholds.kb)
            will = decide(after, new_rules, new.areas, new.thresholds.kb)
            outcomes.append((before.id, destination(was), destination(will)))
    moves = tally(outcomes)
    if as_json:
        typer.echo(json.dumps({"items": len(items), "since": start.isoformat(), "rejudged": rejudged,
                               "moves": [m.as_json() for m in moves]}))
        return
    _print(moves, len(items), since, rejudged, samples)


def _print(moves: list[Move], total: int, since: str, rejudged: bool, samples: int) -> None:
    how = "texts judged again with the new areas/KB/intents/thresholds" if rejudged else "rules only (judgement unchanged)"
    if not moves:
        out.print(f"{total} items of the last {since}: nothing would move ({how}).")
        return
    table = Table(title=f"{total} items of the last {since}: {sum(m.count for m in moves)} would move ({how})", expand=True)
    for col in ("from", "to", "items", "for example"):
        table.add_column(col, overflow="fold")
    for m in moves:
        table.add_row(escape(m.from_), escape(m.to), str(m.count), escape(", ".join(m.ids[:samples])))
    out.print(table)
    out.print("See one with `switchboard trace ID`; try one with `switchboard rules test`.", style="dim")
