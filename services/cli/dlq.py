"""`switchboard dlq list|show|replay`: the dead-letter stream SB_DLQ, and replaying dead letters after a fix.

A dead letter is named by its sequence in SB_DLQ (`dlq list` shows it) or by item id (every dead letter of
that item). Replays are de-duplicated: see services.dlq.plan.
"""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from services.cli.options import ConfigOpt, DataOpt, JsonOpt, LimitOpt, NatsOpt, run_against_instance, settings_from
from services.common.broker import connect_briefly
from services.dlq.plan import Entry
from services.dlq.store import find_entries, read_entries

console = Console()
dlq_app = typer.Typer(
    help="Dead letters (stream SB_DLQ): what a stage could not process, with the reason; replay them after a fix.",
    no_args_is_help=True,
)

STAGES = ("ingest", "enrich", "route", "deliver")
StageOpt = Annotated[Optional[str], typer.Option("--stage", help="Only this stage: ingest, enrich, route or deliver.")]


def _check_stage(stage: str | None) -> None:
    if stage is not None and stage not in STAGES:
        typer.echo(f"--stage must be one of {', '.join(STAGES)}", err=True)
        raise typer.Exit(2)


def _run(coro_factory, settings):  # type: ignore[no-untyped-def]
    """coro_factory(jetstream) against the instance, connected for the call only."""

    async def main(settings):  # type: ignore[no-untyped-def]
        nc = await connect_briefly(settings)
        try:
            return await coro_factory(nc.jetstream())
        finally:
            await nc.close()

    return run_against_instance(main, settings)


def _replayed(entry: Entry) -> str:
    return f"yes {entry.replayed.replayed_at:%m-%d %H:%M}" if entry.replayed else "no"


@dlq_app.command("list")
def list_(
    stage: StageOpt = None, as_json: JsonOpt = False, limit: LimitOpt = 50, nats: NatsOpt = None, data: DataOpt = None
) -> None:
    """Dead letters, oldest first (the newest --limit), with the reason and whether they were replayed.

    Example: `switchboard dlq list --stage deliver`, then `switchboard dlq show ID`.
    """
    _check_stage(stage)
    settings = settings_from(nats_url=nats, data=data)
    entries: list[Entry] = _run(lambda js: read_entries(js, stage, limit), settings)
    if as_json:
        for e in entries:
            typer.echo(json.dumps(e.to_json()))
        return
    if not entries:
        return
    table = Table(title=f"{len(entries)} dead letters", expand=True)
    for col in ("seq", "stage", "id", "source", "failed", "tries", "reason", "replayed"):
        table.add_column(col, overflow="fold")
    for e in entries:
        dl = e.dead_letter
        table.add_row(str(e.seq), dl.stage, dl.id, dl.source or "-", f"{dl.failed_at:%Y-%m-%d %H:%M:%S}",
                      str(dl.attempts), dl.reason[:160], _replayed(e))
    console.print(table)


@dlq_app.command("show")
def show(
    ident: Annotated[str, typer.Argument(metavar="ID", help="A dead letter's sequence (from `dlq list`) or an item id.")],
    as_json: JsonOpt = False,
    nats: NatsOpt = None,
    data: DataOpt = None,
) -> None:
    """One dead letter in full: the reason, the original item or request body, and its replay.

    Example: `switchboard dlq show 8b93f1223fa278a2d4b8aadf --json` (the id `dlq list` shows).
    """
    settings = settings_from(nats_url=nats, data=data)
    entries: list[Entry] = _run(lambda js: find_entries(js, ident), settings)
    if not entries:
        typer.echo(f"no dead letter {ident}", err=True)
        raise typer.Exit(1)
    for e in entries:
        if as_json:
            typer.echo(json.dumps(e.to_json()))
            continue
        dl = e.dead_letter
        console.print(f"[bold]dead letter {e.seq}[/bold]  [dim]{e.subject}[/dim]")
        console.print(f"   stage {dl.stage}, source {dl.source or '-'}, item {dl.id}")
        console.print(f"   failed at {dl.failed_at:%Y-%m-%d %H:%M:%S} after {dl.attempts} attempt(s): {dl.reason}")
        if dl.request is not None:  # deliver: the outbound request that failed (no secrets were kept)
            console.print(f"   request: {dl.request.method} {dl.request.url} -> {dl.request.status or 'no answer'}")
        if e.replayed:
            console.print(f"   replayed at {e.replayed.replayed_at:%Y-%m-%d %H:%M:%S} to {', '.join(e.replayed.subjects)}")
        else:
            console.print("   not replayed")
        if dl.item is not None:
            console.print_json(dl.item.model_dump_json(exclude_none=True))
        elif dl.raw_body is not None:
            console.print("   request body:")
            console.print(dl.raw_body[:4000], markup=False, highlight=False)
        elif dl.raw_body_b64 is not None:
            console.print(f"   request body (base64, {len(dl.raw_body_b64)} chars)")


@dlq_app.command("replay")
def replay(
    ident: Annotated[Optional[str], typer.Argument(metavar="[ID]", help="A sequence or item id; or use --all.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter not replayed yet (with --stage: of that stage).")] = False,
    stage: StageOpt = None,
    again: Annotated[bool, typer.Option("--again", help="Replay entries already replayed too (still de-duplicated).")] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    nats: NatsOpt = None,
    data: DataOpt = None,
) -> None:
    """Send dead letters back through the pipeline after a fix. Safe to repeat: nothing is ever doubled.

    ingest dead letters are normalised again with the source's adapter from --config (the signature was
    verified when the request arrived and is not checked again); enrich and route dead letters re-enter
    their stage's input stream; deliver dead letters go to SB_OUTBOX, where deliver sends them again.
    """
    _check_stage(stage)
    if (ident is None) == (not all_):
        typer.echo("give one dead letter ID, or --all", err=True)
        raise typer.Exit(2)
    settings = settings_from(nats_url=nats, data=data, config=config)

    async def go(js):  # type: ignore[no-untyped-def]
        from services.dlq.replay import replay_entries

        entries = await (read_entries(js, stage) if all_ else find_entries(js, ident or ""))
        if stage:
            entries = [e for e in entries if e.dead_letter.stage == stage]
        cfg = None
        if any(e.dead_letter.stage == "ingest" for e in entries):
            from services.config.loader import load_config

            cfg = load_config(settings.config)
        return await replay_entries(js, entries, cfg, settings, again=again)

    results = _run(go, settings)
    if not results and not all_:
        typer.echo(f"no dead letter {ident}", err=True)
        raise typer.Exit(1)
    failed = 0
    for r in results:
        failed += r.status in ("failed", "not-replayable")
        if as_json:
            typer.echo(json.dumps(r.to_json()))
        else:
            dl = r.entry.dead_letter
            typer.echo(f"{r.entry.seq}\t{dl.stage}\t{dl.id}\t{r.status}: {r.detail}")
    if not as_json:
        counts = {s: sum(r.status == s for r in results) for s in ("replayed", "already-there", "skipped", "not-replayable", "failed")}
        typer.echo(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing to replay")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(dlq_app, name="dlq", rich_help_panel="Operate")
