"""`switchboard rules test ITEM.json|-`: one item through the rules, offline — the decision, and for every
rule tried before it why it did not decide, with the value it saw. (`rules backtest` lives in backtest.py.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from schemas.item import Item
from services.cli.judgement import ConfigOpt, load_judge
from services.enrich.enrichment import enrich_item, needs_judgement, text_of
from services.route.partial_items import item_from_partial
from services.route.rules import RuleVerdict, compile_rules, explain

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

rules_app = typer.Typer(help="Routing rules: test one item, backtest a change on recorded traffic.", no_args_is_help=True)

ItemArg = Annotated[
    str,
    typer.Argument(
        help="A JSON file holding an item (full, from `switchboard trace ID --json`, or partial like "
        '{"text": "...", "intent": "bug", "account": {"arr": 250000}}), or - for standard input.',
        metavar="ITEM.json|-",
    ),
]


def _read_item_json(where: str) -> dict[str, Any]:
    name = "<stdin>" if where == "-" else where
    try:
        text = sys.stdin.read() if where == "-" else Path(where).read_text(encoding="utf-8")
    except OSError as exc:
        err.print(f"{name}: {exc.strerror or exc}", markup=False)
        raise typer.Exit(2) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        err.print(f"{name}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}", markup=False)
        raise typer.Exit(2) from None
    if isinstance(data, dict) and isinstance(data.get("item"), dict):  # a line of `trace --json`
        data = data["item"]
    if not isinstance(data, dict):
        err.print(f"{name}: an item is a JSON object, got {type(data).__name__}", markup=False)
        raise typer.Exit(2)
    return data


def _outcome(v: RuleVerdict) -> str:
    return "decided" if v.fired else "matched, fell through" if v.matched else "no match"


def test(
    item_file: ItemArg,
    config: ConfigOpt = None,
    judge: Annotated[
        bool, typer.Option("--judge/--no-judge", help="Judge area, intent and KB match from the text when the item lacks them.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object: the rules tried and the decision.")] = False,
) -> None:
    """Put one item through the rules and show which rule decides, and why each earlier rule did not.

    Example: `echo '{"text": "SSO login fails for everyone", "account": {"arr": 250000}}' | switchboard rules test -`
    """
    data = _read_item_json(item_file)
    cfg, judge_model = load_judge(config)
    try:
        item = item_from_partial(data, cfg)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        err.print(f"{item_file}: {where}: {first['msg']}", markup=False)
        raise typer.Exit(2) from None
    judged = False
    if judge and needs_judgement(item) and (item.area is None or item.intent is None):
        [judgement] = judge_model.judge([text_of(item)])
        enriched = enrich_item(item, item.account, judgement, item.received_at)
        # what the person wrote wins over what the judge guessed
        keep = {k: getattr(item, k) for k in ("area", "intent", "intent_confidence", "kb") if getattr(item, k) is not None}
        item, judged = enriched.model_copy(update=keep), True
    verdicts, decision = explain(item, compile_rules(cfg.rules), cfg.areas, cfg.thresholds.kb, cfg.version)
    if as_json:
        typer.echo(json.dumps({
            "judged": judged,
            "item": {"area": item.area.model_dump() if item.area else None, "intent": item.intent,
                     "kb": item.kb.model_dump() if item.kb else None},
            "rules": [{"rule": v.rule, "matched": v.matched, "fired": v.fired, "why": v.why} for v in verdicts],
            "decision": decision.model_dump(mode="json"),
        }))
        return
    if judged:
        kb = f"{item.kb.article} {item.kb.score:.2f}" if item.kb and item.kb.article else "none"
        console.print(f"judged from the text: area {escape(item.area.id if item.area else '-')}, "
                      f"intent {escape(item.intent or '-')}, KB {escape(kb)}", style="dim")
    table = Table(title=f"rules.yaml ({len(cfg.rules)} rules, config {cfg.version})", expand=True)
    for col in ("#", "rule", "outcome", "why (with the item's values)"):
        table.add_column(col, overflow="fold")
    order = {r.name: i for i, r in enumerate(cfg.rules, 1)}
    for v in verdicts:
        style = "bold green" if v.fired else "yellow" if v.matched else "dim"
        table.add_row(str(order.get(v.rule, "")), escape(v.rule), _outcome(v), escape(v.why or "always"), style=style)
    console.print(table)
    where = f" to {decision.team} [{decision.priority}]" if decision.team else ""
    console.print(f"decision: {escape(decision.action + where)} by rule {escape(decision.rule or '(none: built-in)')}",
                  style="bold")
    console.print(f"why: {escape(decision.reason)}")


def register(app: typer.Typer) -> None:
    from services.cli.backtest import backtest

    rules_app.command("test")(test)
    rules_app.command("backtest")(backtest)
    app.add_typer(rules_app, name="rules", rich_help_panel="Configure")
