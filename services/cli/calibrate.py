"""`switchboard kb calibrate` and `areas calibrate`: thresholds with a statistical guarantee, and the trade shown.

The labelled file's lines are judged exactly as enrich would; the threshold comes from
`services.enrich.calibration.select_threshold` (Clopper–Pearson bounds at `--confidence`). For the KB the
answer gate applies: a line is answered only when the judge takes it for a question, so labelled feedback
(`{"text": ..., "article": null, "intent": "bug"}`) shows how much of it would still get an answer.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services.cli.judgement import ConfigOpt, LabelledOpt, PrecisionOpt, analysed_batches, err, load_judge, read_lines
from services.config.loader import save_thresholds
from services.enrich.bounds import upper_bound
from services.enrich.calibration import Calibration, OperatingPoint, select_threshold
from services.route.rules import ANSWERABLE_INTENT

ConfidenceOpt = Annotated[float, typer.Option("--confidence", min=0.5, max=0.999,
    help="Confidence of the bounds (one-sided Clopper-Pearson): the lower bound of precision must reach "
         "--precision and the upper bound of the false share must stay within the maximum.")]


def calibrate(kind: str, labelled: Path, precision: float, max_false: float, confidence: float,
              config_dir: Path | None) -> None:
    config, judge = load_judge(config_dir)
    key, head = ("article", judge.kb_head) if kind == "kb" else ("area", judge.area_head)
    with labelled.open(encoding="utf-8") as fh:
        rows = read_lines(fh, ("text", key))
    unknown = sorted({str(r[key]) for r in rows if r[key] is not None and r[key] not in head.labels})
    if unknown:
        err.print(f"{labelled}: {key}s not in the config: {', '.join(unknown)}", style="red")
        raise typer.Exit(1)
    if not rows or not len(head):
        err.print(f"nothing to calibrate: {len(rows)} labelled lines, {len(head)} {key}s", style="red")
        raise typer.Exit(1)
    scores, correct, answerable, gate = [], [], [], []
    for start, analysis in analysed_batches(judge, [r["text"] for r in rows]):
        pred = analysis.kb if kind == "kb" else analysis.area
        for i, (best, j) in enumerate(zip(pred.best, judge.judgements(analysis))):
            label = rows[start + i][key]
            scores.append(float(pred.confidence[i]))
            answerable.append(label is not None)
            correct.append(label == head.labels[int(best)])
            gate.append(kind != "kb" or j.intent == ANSWERABLE_INTENT)  # the answer gate, as route applies it
    cal = select_threshold(scores, correct, answerable, precision=precision, max_false=max_false,
                           confidence=confidence, gate=gate)
    print_calibration(kind, cal, judge.encoder.name)
    if kind == "kb":
        print_feedback_lines(rows, scores, gate, cal.chosen.threshold, confidence)
    p = cal.chosen
    note = {"precision_target": precision, "max_false": max_false, "confidence": confidence,
            "precision": p.precision, "precision_lower": p.precision_lower, "false_rate": p.false_rate,
            "false_upper": p.false_upper, "coverage": p.coverage, "labelled": len(rows), "file": str(labelled),
            "encoder": judge.encoder.name, "feasible": cal.feasible,
            "calibrated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    thresholds = config.thresholds.model_copy(
        update={kind: math.ceil(p.threshold * 1e6) / 1e6,  # rounded up: never looser
                "notes": {**config.thresholds.notes, kind: note}})
    path = save_thresholds(config.directory, thresholds)
    Console(highlight=False).print(f"stored {kind}: {thresholds.model_dump()[kind]} in {path}")


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _pair(observed: float | None, bound: float | None) -> str:
    return "n/a" if observed is None else f"{observed:.3f} ({_fmt(bound)})"


def print_calibration(kind: str, cal: Calibration, encoder: str) -> None:
    what = "answered" if kind == "kb" else "assigned"
    level = f"{cal.confidence:.0%}" if cal.confidence else "point"
    p = cal.chosen
    out = Console(highlight=False)
    table = Table(title=f"{kind} calibration ({encoder}, bounds at {level} confidence)", header_style="bold")
    for col in ("bound", "target", "observed (bound) at chosen", "threshold it needs alone"):
        table.add_column(col)
    table.add_row(f"precision ({p.answerable} with a label)", f"lower >= {cal.target_precision:.3f}",
                  _pair(p.precision, p.precision_lower), f"{cal.precision_threshold:.4f}")
    table.add_row(f"false {what} ({p.unanswerable} null)", f"upper <= {cal.max_false:.3f}",
                  _pair(p.false_rate, p.false_upper),
                  f"{cal.false_threshold:.4f}" if p.unanswerable else "n/a (no null lines)")
    table.add_row(f"coverage (labelled ones {what})", "", f"{p.coverage:.3f}", "")
    table.add_row("[bold]threshold chosen[/]", "", f"[bold]{p.threshold:.4f}[/]", "")
    out.print(table)
    trade = Table(title="the trade: the chosen threshold and two neighbours", header_style="bold")
    for col in ("threshold", "coverage", "precision (lower)", f"false {what} (upper)", "holds"):
        trade.add_column(col)
    for point in sorted([p, *cal.neighbours], key=lambda x: x.threshold):
        trade.add_row(f"{point.threshold:.4f}" + (" *" if point is p else ""), f"{point.coverage:.3f}",
                      _pair(point.precision, point.precision_lower), _pair(point.false_rate, point.false_upper),
                      "yes" if _holds(point, cal) else "no")
    out.print(trade)
    if p.unanswerable == 0:
        err.print(f"no null lines: the share of texts wrongly {what} is not bounded at all; add lines "
                  f"with a null {'article' if kind == 'kb' else 'area'}", style="yellow")
    for line in cal.too_small:
        err.print(f"labelled set too small: {line}", style="yellow")
    if not cal.feasible:
        err.print(f"no threshold meets both bounds: nothing will be {what} automatically", style="yellow")


def _holds(point: OperatingPoint, cal: Calibration) -> bool:
    precision = point.precision_lower if cal.confidence else point.precision
    false = point.false_upper if cal.confidence else point.false_rate
    return (point.answered > 0 and precision is not None and precision >= cal.target_precision - 1e-9
            and (false is None or false <= cal.max_false + 1e-9))


def print_feedback_lines(rows: list[dict[str, Any]], scores: list[float], gate: list[bool], threshold: float,
                         confidence: float) -> None:
    """Lines labelled as feedback (intent other than question): how many would still get an answer."""
    feedback = [i for i, r in enumerate(rows) if r.get("intent") not in (None, ANSWERABLE_INTENT)]
    if not feedback:
        return
    taken = sum(gate[i] for i in feedback)
    answered = sum(gate[i] and scores[i] >= threshold for i in feedback)
    Console(highlight=False).print(
        f"labelled feedback (not questions): {len(feedback)} lines; the judge took {taken} for questions; "
        f"{answered} would be answered ({answered / len(feedback):.3f}, upper bound "
        f"{upper_bound(answered, len(feedback), confidence):.3f} at {confidence:.0%})")


def kb_calibrate(labelled: LabelledOpt, precision: PrecisionOpt,
                 max_false_answers: Annotated[float, typer.Option("--max-false-answers", min=0.0, max=1.0,
                     help="Largest share of null lines (unanswerable questions, feedback) answered.")] = 0.10,
                 confidence: ConfidenceOpt = 0.95, config: ConfigOpt = None) -> None:
    """Choose the auto-answer threshold from labelled lines and store it in calibration.yaml.

    FILE holds JSON lines {"text": ..., "article": id-or-null} and, optionally, "intent" (e.g. "bug" for
    feedback that is no question: {"text": ..., "article": null, "intent": "bug"}).
    """
    calibrate("kb", labelled, precision, max_false_answers, confidence, config)


def areas_calibrate(labelled: LabelledOpt, precision: PrecisionOpt,
                    max_false_assignments: Annotated[float, typer.Option("--max-false-assignments", min=0.0, max=1.0,
                        help="Largest share of texts of no area (null) that may still get one.")] = 0.10,
                    confidence: ConfidenceOpt = 0.95, config: ConfigOpt = None) -> None:
    """Choose the product-area threshold from labelled texts ({"text":..., "area": id-or-null} lines)."""
    calibrate("area", labelled, precision, max_false_assignments, confidence, config)


def register(kb_app: typer.Typer, areas_app: typer.Typer) -> None:
    kb_app.command("calibrate")(kb_calibrate)
    areas_app.command("calibrate")(areas_calibrate)
