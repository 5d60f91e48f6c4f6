"""Intent on real feedback (`make eval`): per-class precision/recall on the product-forum sentences.

Data: ../shared/data/feedback-forum/sentences.jsonl (731 VLC/Firefox forum sentences labelled bug / request
/ question / praise / other by Tizard et al., RE 2019; CC BY). Skips cleanly when absent.

Split (fixed, no seed to drift): a sentence is HELD OUT when the first 8 hex digits of sha256(its UTF-8
text) are odd as an integer; the rest is the dev part. Built-in examples and question-form rules were
written while looking at the dev part only; the figures in docs/judgement.md are on the held-out part.

The judge runs with the example configuration (examples/config: its intents, its calibration.yaml);
`feature_request` counts as `request`, `churn_risk` as `other` (the forum set has no churn label).

    python -m bench.eval_forum [--data DIR] [--part held-out|dev|all] [--config DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from services.config.loader import load_config
from services.enrich.judge import Judge

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "feedback-forum"
CLASSES = ("question", "bug", "request", "praise", "other")
AS_FORUM = {"feature_request": "request", "churn_risk": "other"}


def held_out(text: str) -> bool:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 2 == 1


def load(data: Path, part: str) -> list[dict[str, str]]:
    with (data / "sentences.jsonl").open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    if part == "all":
        return rows
    return [r for r in rows if held_out(r["text"]) == (part == "held-out")]


def scores(gold: list[str], pred: list[str]) -> dict[str, object]:
    """Per-class precision/recall/F1, macro-F1, and the share of non-questions taken for questions."""
    per: dict[str, tuple[float, float, float, int]] = {}
    for c in CLASSES:
        tp = sum(p == c and g == c for g, p in zip(gold, pred))
        predicted, actual = sum(p == c for p in pred), sum(g == c for g in gold)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[c] = (precision, recall, f1, actual)
    non_q = [p for g, p in zip(gold, pred) if g != "question"]
    return {
        "per_class": per,
        "macro_f1": sum(v[2] for v in per.values()) / len(per),
        "non_questions_as_question": sum(p == "question" for p in non_q) / len(non_q) if non_q else 0.0,
        "n": len(gold),
    }


BINS = (0.0, 0.4, 0.6, 0.8, 0.9, 1.0001)


def reliability(confidence: list[float], right: list[bool]) -> tuple[list[tuple[float, float, int]], float]:
    """Per confidence bin: (mean confidence, share right, n); and the expected calibration error."""
    rows, ece = [], 0.0
    for lo, hi in zip(BINS, BINS[1:]):
        idx = [i for i, c in enumerate(confidence) if lo <= c < hi]
        if idx:
            mean_c = sum(confidence[i] for i in idx) / len(idx)
            share = sum(right[i] for i in idx) / len(idx)
            rows.append((mean_c, share, len(idx)))
            ece += len(idx) * abs(mean_c - share)
    return rows, ece / max(1, len(confidence))


def evaluate(judge: Judge, rows: list[dict[str, str]]) -> dict[str, object]:
    judgements = judge.judge([r["text"] for r in rows])
    pred = [AS_FORUM.get(j.intent, j.intent) for j in judgements]
    result = scores([r["label"] for r in rows], pred)
    # is the intent confidence a probability? (the best label's, before the abstain to `other`)
    best = [judge.intent_head.labels[int(b)] for b in judge.analyse([r["text"] for r in rows]).intent.best]
    right = [AS_FORUM.get(b, b) == r["label"] for b, r in zip(best, rows)]
    result["reliability"], result["ece"] = reliability([j.intent_confidence for j in judgements], right)
    return result


def report(result: dict[str, object], part: str) -> str:
    lines = [f"Forum intent ({part} part, {result['n']} sentences)",
             "| class    | n   | precision | recall | F1    |", "|----------|-----|-----------|--------|-------|"]
    for c, (p, r, f, n) in result["per_class"].items():  # type: ignore[union-attr]
        lines.append(f"| {c:<8} | {n:<3} | {p:.3f}     | {r:.3f}  | {f:.3f} |")
    lines.append(f"macro-F1 {result['macro_f1']:.3f}; non-questions taken for questions "
                 f"{result['non_questions_as_question']:.3f} (targets: question P >= 0.85 at R >= 0.60, "
                 "macro-F1 >= 0.60, non-questions <= 0.05)")
    bins = ", ".join(f"{c:.2f}->{r:.2f} (n={n})" for c, r, n in result["reliability"])  # type: ignore[union-attr]
    lines.append(f"intent confidence vs share right, per bin: {bins}; calibration error {result['ece']:.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--part", choices=["held-out", "dev", "all"], default="held-out")
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "config")
    args = parser.parse_args(argv)
    if not (args.data / "sentences.jsonl").is_file():
        print(f"skipped: feedback-forum not found at {args.data}")
        return 0
    judge = Judge.from_config(load_config(args.config))
    print(f"encoder: {judge.encoder.name}")
    print(report(evaluate(judge, load(args.data, args.part)), args.part))
    return 0


if __name__ == "__main__":
    sys.exit(main())
