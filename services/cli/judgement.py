"""`switchboard classify` and `kb ask`: the judge, offline, no server (calibrate: services/cli/calibrate.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from services.cli.check import default_config_dir
from services.common.logging import configure as configure_logging
from services.config.errors import ConfigError
from services.config.loader import load_config
from services.config.models import Config
from services.enrich.judge import Analysis, Judge, Judgement

BATCH = 64
err = Console(stderr=True, highlight=False)

ConfigOpt = Annotated[
    Optional[Path], typer.Option("--config", "-c", help="Config folder (default: $SWITCHBOARD_CONFIG, else ./examples/config).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
LabelledOpt = Annotated[Path, typer.Option("--labelled", help="JSON lines with the right answer per text.", exists=True, dir_okay=False)]
PrecisionOpt = Annotated[float, typer.Option("--precision", min=0.0, max=1.0, help="Precision required on the answerable ones.")]

kb_app = typer.Typer(help="The knowledge base: ask it a question, calibrate its auto-answer threshold.", no_args_is_help=True)
areas_app = typer.Typer(help="Product areas: calibrate the area threshold.", no_args_is_help=True)


def load_judge(config_dir: Path | None) -> tuple[Config, Judge]:
    configure_logging(level="warning")  # an offline command: only warnings (e.g. the BM25 fallback) on stderr
    directory = config_dir or default_config_dir()
    try:
        config = load_config(directory)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(str(problem), style="red", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    judge = Judge.from_config(config)
    if judge.encoder.name == "bm25":
        err.print("note: the MiniLM model is not installed (or SWITCHBOARD_ENCODER=bm25): using the BM25 fallback, "
                  "which is less accurate; thresholds calibrated with one encoder do not fit the other.", style="yellow")
    return config, judge


def read_lines(stream: Any, required: tuple[str, ...] = ("text",)) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or any(k not in row for k in required) or not isinstance(row.get("text"), str):
            raise typer.BadParameter(f"line {number}: needs {', '.join(required)} (text a string)")
        row.setdefault("id", number)
        rows.append(row)
    return rows


def analysed_batches(judge: Judge, texts: list[str]) -> Iterator[tuple[int, Analysis]]:
    """Analyse in batches, with a progress bar on stderr when it is a terminal."""
    show = sys.stderr.isatty() and len(texts) > BATCH
    with Progress(console=err, disable=not show, transient=True) as progress:
        task = progress.add_task("judging", total=len(texts))
        for start in range(0, len(texts), BATCH):
            chunk = texts[start : start + BATCH]
            yield start, judge.analyse(chunk)
            progress.advance(task, len(chunk))


def _judgements(judge: Judge, texts: list[str]) -> list[Judgement]:
    out: list[Judgement] = []
    for _, analysis in analysed_batches(judge, texts):
        out.extend(judge.judgements(analysis))
    return out


def _classify_json(row_id: Any, j: Judgement, judge: Judge) -> dict[str, Any]:
    return {"id": row_id, "area": j.area.best, "confidence": j.area.confidence,
            "assigned": j.area.best is not None and j.area.confidence >= judge.area_threshold(), "intent": j.intent}


def _ask_json(row_id: Any, j: Judgement, judge: Judge) -> dict[str, Any]:
    article, score = (j.kb.article, j.kb.score) if j.kb else (None, 0.0)
    return {"id": row_id, "article": article, "score": score,
            "answered": article is not None and score >= judge.kb_threshold()}


def _run(text: str | None, config_dir: Path | None, as_json: bool, shape, summary) -> None:  # type: ignore[no-untyped-def]
    _, judge = load_judge(config_dir)
    if text is not None:
        [j] = judge.judge([text])
        if as_json:
            print(json.dumps(shape(None, j, judge)))
        else:
            summary(judge, text, j)
        return
    if sys.stdin.isatty():
        raise typer.BadParameter("give the text as an argument, or pipe JSON lines {\"id\":..., \"text\":...}")
    rows = read_lines(sys.stdin)
    for row, j in zip(rows, _judgements(judge, [r["text"] for r in rows])):
        print(json.dumps(shape(row["id"], j, judge)), flush=False)
    sys.stdout.flush()


def _classify_summary(judge: Judge, text: str, j: Judgement) -> None:
    out = Console(highlight=False)
    analysis = judge.analyse([text])
    table = Table(title="classify", show_header=True, header_style="bold")
    for col in ("decision", "value", "confidence", "threshold"):
        table.add_column(col)
    assigned = j.area.id != "unknown"
    table.add_row("area", f"[green]{j.area.id}[/]" if assigned else f"[yellow]unknown[/] (best guess {j.area.best})",
                  f"{j.area.confidence:.3f}", f"{judge.area_threshold():.3f}")
    if len(judge.area_head) > 1:
        others = ", ".join(f"{judge.area_head.labels[k]} {analysis.area.probs[0, k]:.2f}" for k in analysis.area.top(0)[1:])
        table.add_row("  runners-up (p)", others, "", "")
    table.add_row("intent", j.intent, f"{j.intent_confidence:.3f}", f"{judge.thresholds.intent:.3f} (below: other)")
    if j.kb:
        table.add_row("best article", f"{j.kb.article} — {j.kb.title}", f"{j.kb.score:.3f}", f"{judge.kb_threshold():.3f}")
    out.print(table)
    out.print(f"encoder: {judge.encoder.name}", style="dim")


def _ask_summary(judge: Judge, text: str, j: Judgement) -> None:
    out = Console(highlight=False)
    if j.kb is None:
        out.print("The knowledge base has no articles.")
        return
    answered = j.kb.score >= judge.kb_threshold()
    verdict = "[green]answered[/]" if answered else "[yellow]not answered[/] (below the threshold)"
    out.print(f"{verdict}: [bold]{j.kb.article}[/] — {j.kb.title}")
    out.print(f"score {j.kb.score:.3f}, threshold {judge.kb_threshold():.3f}" + (f", {j.kb.url}" if j.kb.url else ""))
    out.print(f"encoder: {judge.encoder.name}", style="dim")


def classify(text: Annotated[Optional[str], typer.Argument(help="Text to classify; omit to read JSON lines from stdin.")] = None,
             config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Product area (with confidence; `assigned` when it clears the area threshold) and intent of a text.

    Examples:

        switchboard classify "We were charged twice for the same seats"

        cat items.jsonl | switchboard classify > labels.jsonl
    """
    _run(text, config, as_json, _classify_json, _classify_summary)


@kb_app.command("ask")
def kb_ask(question: Annotated[Optional[str], typer.Argument(help="The question; omit to read JSON lines from stdin.")] = None,
           config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """The best KB article for a question, its calibrated score, and whether it clears the answer threshold."""
    _run(question, config, as_json, _ask_json, _ask_summary)


def register(app: typer.Typer) -> None:
    """Add classify, kb (ask, calibrate) and areas (calibrate) to the CLI."""
    from services.cli import calibrate  # kb calibrate, areas calibrate (it builds on this module's helpers)

    calibrate.register(kb_app, areas_app)
    app.command("classify")(classify)
    app.add_typer(kb_app, name="kb")
    app.add_typer(areas_app, name="areas")
