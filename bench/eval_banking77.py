"""Judgement figures on BANKING77 (`make eval`): accuracy, calibrated precision/coverage, false answers, speed.

Set-up, as a product-ops team would have it: 10 example texts per intent are the whole configuration
(areas = the 77 intents; KB = one article per intent, its title plus those 10 as `questions:`).
Thresholds are chosen with the same code as `kb calibrate` / `areas calibrate` on 20 other train rows
per intent; every figure is measured on test.csv, which neither step saw.

Unanswerable questions: 20% of the intents are left out of the KB; thresholds come from the
max-false-answers bound (0.10) on their train rows, and we report the share of their test questions
answered anyway. Reads ../shared/data/banking77 (relative to the repo root); skips when absent.

    python -m bench.eval_banking77 [--data DIR] [--encoder model|bm25|both]
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np

from services.config.models import AreaConfig, AreasFile, Article, Config
from services.enrich.calibration import operating_point, select_threshold
from services.enrich.encoder import Bm25Encoder, Encoder, ModelUnavailable, load_model
from services.enrich.judge import Judge
from services.enrich.matcher import Prediction

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "banking77"
SHOTS, CALIBRATION_ROWS, HELD_OUT_SHARE, SEED = 10, 20, 0.20, 7


def load(data: Path) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    def rows(name: str) -> list[tuple[str, str]]:
        with (data / name).open(newline="", encoding="utf-8") as fh:
            return [(r["text"].strip(), re.sub(r"[^A-Za-z0-9_-]", "_", r["category"])) for r in csv.DictReader(fh)]

    train: dict[str, list[str]] = {}
    for text, label in rows("train.csv"):
        train.setdefault(label, []).append(text)
    rng = random.Random(SEED)
    for texts in train.values():
        rng.shuffle(texts)
    return train, rows("test.csv")


def make_config(shots: dict[str, list[str]], kb_labels: list[str], articles: int | None = None) -> Config:
    areas = [AreaConfig(id=label, team="bank", examples=texts) for label, texts in shots.items()]
    kb = [Article(id=label, title=label.replace("_", " "), questions=shots[label]) for label in kb_labels]
    if articles:  # pad/trim to exactly `articles` for the latency test (copies with half the questions each)
        kb = (kb + [a.model_copy(update={"id": a.id + "-b", "questions": a.questions[5:]}) for a in kb])[:articles]
    return Config(directory="/nonexistent", areas=AreasFile(areas=areas), articles=kb)


def top_k(pred: Prediction, labels: list[str], truth: list[str], k: int) -> float:
    index = {label: i for i, label in enumerate(labels)}
    order = np.argsort(-pred.probs, axis=1, kind="stable")[:, :k]
    return float(np.mean([index.get(t, -1) in order[i] for i, t in enumerate(truth)]))


def scored(pred: Prediction, labels: list[str], truth: list[str | None]):
    best = [labels[int(b)] for b in pred.best]
    return pred.confidence, [b == t for b, t in zip(best, truth)], [t is not None for t in truth]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def evaluate(encoder_name: str, train: dict[str, list[str]], test: list[tuple[str, str]]) -> dict[str, str]:
    labels = sorted(train)
    shots = {label: train[label][:SHOTS] for label in labels}
    cal_rows = [(t, label) for label in labels for t in train[label][SHOTS : SHOTS + CALIBRATION_ROWS]]
    corpus = [t for texts in shots.values() for t in texts] + [label.replace("_", " ") for label in labels]
    encoder: Encoder = load_model() if encoder_name == "model" else Bm25Encoder(corpus)
    out: dict[str, str] = {"encoder": encoder.name}

    judge = Judge.from_config(make_config(shots, labels), encoder=encoder)
    judge.analyse(["warm up"])
    texts, truth = [t for t, _ in test], [label for _, label in test]
    analysis = judge.analyse(texts)
    cal = judge.analyse([t for t, _ in cal_rows])
    cal_truth = [label for _, label in cal_rows]
    for task, head in (("area", judge.area_head), ("kb", judge.kb_head)):
        pred, cal_pred = getattr(analysis, task), getattr(cal, task)
        out[f"{task} top-1"] = f"{top_k(pred, head.labels, truth, 1):.3f}"
        out[f"{task} top-3"] = f"{top_k(pred, head.labels, truth, 3):.3f}"
        for target in (0.90, 0.95):
            chosen = select_threshold(*scored(cal_pred, head.labels, cal_truth), precision=target)
            point = operating_point(*scored(pred, head.labels, truth), chosen.chosen.threshold)
            out[f"{task} @P{target:.2f}: threshold"] = f"{chosen.chosen.threshold:.3f}"
            out[f"{task} @P{target:.2f}: precision / coverage"] = f"{point.precision or 0:.3f} / {point.coverage:.3f}"

    # unanswerable: 20% of intents have no article; thresholds from the max-false-answers bound
    rng = random.Random(SEED)
    held_out = set(rng.sample(labels, round(HELD_OUT_SHARE * len(labels))))
    kb_labels = [label for label in labels if label not in held_out]
    judge = Judge.from_config(make_config(shots, kb_labels), encoder=encoder)
    null = lambda label: None if label in held_out else label  # noqa: E731
    cal_pred = judge.analyse([t for t, _ in cal_rows]).kb
    chosen = select_threshold(*scored(cal_pred, kb_labels, [null(x) for x in cal_truth]), precision=0.90, max_false=0.10)
    point = operating_point(*scored(judge.analyse(texts).kb, kb_labels, [null(x) for x in truth]), chosen.chosen.threshold)
    out[f"kb, {len(held_out)} intents w/o article: threshold"] = f"{chosen.chosen.threshold:.3f}"
    out["  unanswerable answered anyway (<= 0.15)"] = f"{point.false_rate:.3f}"
    out["  answerable: precision / coverage"] = f"{point.precision or 0:.3f} / {point.coverage:.3f}"

    # one item at a time, 150 articles: area + intent + KB end to end
    judge = Judge.from_config(make_config(shots, labels, articles=150), encoder=encoder)
    judge.judge([texts[0]])
    wall, cpu = [], []
    for text in texts[:400]:
        w0, c0 = time.perf_counter(), time.process_time()
        judge.judge([text])
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    pct = lambda xs, q: np.percentile(xs, q) * 1e3  # noqa: E731
    out["latency p50 / p95 ms, 1 item, 150 articles (wall)"] = f"{pct(wall, 50):.1f} / {pct(wall, 95):.1f}"
    out["latency p50 / p95 ms, 1 item, 150 articles (CPU)"] = f"{pct(cpu, 50):.1f} / {pct(cpu, 95):.1f}"
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, 1024, 64):  # batches of 64 as the worker sends them; model session and BLAS: one thread
        judge.judge(texts[i : i + 64])
    out["items/s, 150 articles, batches of 64 (wall)"] = f"{1024 / (time.perf_counter() - w0):.0f}"
    out["items/s per core, same (per CPU-second)"] = f"{1024 / (time.process_time() - c0):.0f}"
    out["peak RSS (MB)"] = f"{rss_mb():.0f}"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--encoder", choices=["model", "bm25", "both"], default="both")
    args = parser.parse_args(argv)
    if not (args.data / "train.csv").is_file():
        print(f"skipped: BANKING77 not found at {args.data}")
        return 0
    train, test = load(args.data)
    columns: list[dict[str, str]] = []
    for name in (["bm25", "model"] if args.encoder == "both" else [args.encoder]):  # bm25 first: own peak RSS
        try:
            t0 = time.perf_counter()
            columns.append(evaluate(name, train, test))
            print(f"[{name}] done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        except ModelUnavailable as exc:
            print(f"[{name}] skipped: {exc}", file=sys.stderr)
    if not columns:
        return 1
    columns.reverse()
    keys = list(dict.fromkeys(k for c in columns for k in c))
    width = max(len(k) for k in keys)
    print(f"BANKING77: {len(train)} intents, {SHOTS} shots each, {CALIBRATION_ROWS} calibration rows each, "
          f"{len(test)} test questions")
    print("| " + "metric".ljust(width) + " | " + " | ".join(c["encoder"] for c in columns) + " |")
    print("|" + "-" * (width + 2) + "|" + "|".join("-" * (len(c["encoder"]) + 2) for c in columns) + "|")
    for key in keys:
        if key != "encoder":
            print("| " + key.ljust(width) + " | " + " | ".join(c.get(key, "-") for c in columns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
