"""Do calibrated bounds hold on unseen questions? (`make eval`) BANKING77, 15 intents unanswerable, 20 splits.

Each split (seed 100 + i) draws 15 of the 77 intents to have no KB article and, per intent, 10 example
questions (the article's `questions:`) from a fixed pool of 40 train rows. The KB threshold is chosen by
`select_threshold` (as `kb calibrate` does) on 20 calibration questions per intent, with precision >= 0.90
and false answers <= F = 0.10: with the 95% Clopper–Pearson bounds (the default), at 99%, and with point
estimates (the old behaviour). We then measure the share of the unanswerable intents' unseen questions
answered anyway and count the splits where it exceeds F (target: <= 1 in 20 with the 95% bounds).

Two designs:
- `random`: per intent, the rest of the train pool and the intent's test.csv questions are shuffled
  together and cut: 20 for calibration, the rest unseen (exchangeable, what the bound promises);
- `train->test`: calibration from the train pool, unseen = test.csv (adds BANKING77's train/test shift).

Every text is encoded once (a cache), so the 40 splits cost about a minute and a half.

    python -m bench.eval_calibration [--data DIR] [--splits 20] [--per-split]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.eval_banking77 import DEFAULT_DATA, load, make_config, scored
from services.enrich.calibration import operating_point, select_threshold
from services.enrich.encoder import Encoder, ModelUnavailable, load_model
from services.enrich.judge import Judge

UNANSWERABLE, SHOTS, CAL_ROWS, POOL = 15, 10, 20, 40
PRECISION, MAX_FALSE, CONFIDENCE = 0.90, 0.10, 0.95


class CachedEncoder:
    """The Encoder port over a base encoder, remembering every text's vector."""

    def __init__(self, base: Encoder) -> None:
        self.base, self.name, self._cache = base, base.name, {}  # type: ignore[var-annotated]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            self._cache.update(zip(missing, self.base.encode(missing)))
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)


DESIGNS = {
    "random": "calibration and unseen questions drawn at random from one pool (train pool + test.csv)",
    "train->test": "calibration from train rows, unseen = test.csv (a small shift between the two)",
}


def one_split(seed: int, design: str, train: dict[str, list[str]], test: list[tuple[str, str]],
              encoder: Encoder) -> dict[str, dict]:
    rng = random.Random(seed)
    labels = sorted(train)
    held_out = set(rng.sample(labels, UNANSWERABLE))
    test_of: dict[str, list[str]] = {}
    for text, label in test:
        test_of.setdefault(label, []).append(text)
    shots, cal_rows, unseen_rows = {}, [], []
    for label in labels:
        pool = list(train[label][:POOL])
        rng.shuffle(pool)
        shots[label] = pool[:SHOTS]
        if design == "random":  # exchangeable: one pool, shuffled, cut in two
            rest = pool[SHOTS:] + test_of.get(label, [])
            rng.shuffle(rest)
            cal, unseen = rest[:CAL_ROWS], rest[CAL_ROWS:]
        else:
            cal, unseen = pool[SHOTS : SHOTS + CAL_ROWS], test_of.get(label, [])
        cal_rows += [(t, label) for t in cal]
        unseen_rows += [(t, label) for t in unseen]
    kb_labels = [label for label in labels if label not in held_out]
    judge = Judge.from_config(make_config(shots, kb_labels), encoder=encoder)
    null = lambda label: None if label in held_out else label  # noqa: E731
    cal_scored = scored(judge.analyse([t for t, _ in cal_rows]).kb, kb_labels, [null(x) for _, x in cal_rows])
    test_scored = scored(judge.analyse([t for t, _ in unseen_rows]).kb, kb_labels, [null(x) for _, x in unseen_rows])
    out = {}
    for method, confidence in (("95% bound", CONFIDENCE), ("99% bound", 0.99), ("point estimate", None)):
        chosen = select_threshold(*cal_scored, precision=PRECISION, max_false=MAX_FALSE, confidence=confidence)
        point = operating_point(*test_scored, chosen.chosen.threshold)
        out[method] = {"threshold": chosen.chosen.threshold, "cal_false": chosen.chosen.false_rate or 0.0,
                       "false": point.false_rate or 0.0, "coverage": point.coverage,
                       "precision": point.precision or 0.0,
                       "unseen_null": point.unanswerable}
    return out


def table(design: str, runs: list[dict[str, dict]], seconds: float) -> None:
    print(f"\n{design}: {DESIGNS[design]}; {len(runs)} splits, about {runs[0]['95% bound']['unseen_null']} unseen "
          f"unanswerable questions each ({seconds:.0f} s)")
    print("| method         | splits with unseen false rate > F | unseen false rate mean / max | "
          "calibration false rate mean | coverage mean | precision mean |")
    print("|----------------|------|------|------|------|------|")
    for method in runs[0]:
        rows = [r[method] for r in runs]
        over = sum(r["false"] > MAX_FALSE for r in rows)
        mean = lambda k: float(np.mean([r[k] for r in rows]))  # noqa: E731
        print(f"| {method:<14} | {over} of {len(rows)} | {mean('false'):.3f} / {max(r['false'] for r in rows):.3f} | "
              f"{mean('cal_false'):.3f} | {mean('coverage'):.3f} | {mean('precision'):.3f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument("--per-split", action="store_true", help="also print every split's figures")
    args = parser.parse_args(argv)
    if not (args.data / "train.csv").is_file():
        print(f"skipped: BANKING77 not found at {args.data}")
        return 0
    try:
        encoder = CachedEncoder(load_model())
    except ModelUnavailable as exc:
        print(f"skipped: the MiniLM model is not installed ({exc})")
        return 0
    train, test = load(args.data)
    print(f"Calibration bounds on unseen data: BANKING77, {UNANSWERABLE} of 77 intents without an article; "
          f"threshold from {CAL_ROWS} calibration rows per intent ({UNANSWERABLE * CAL_ROWS} unanswerable), "
          f"precision >= {PRECISION}, false answers <= F = {MAX_FALSE}")
    for design in DESIGNS:
        t0 = time.perf_counter()
        runs = [one_split(100 + i, design, train, test, encoder) for i in range(args.splits)]
        if args.per_split:
            for i, run in enumerate(runs):
                print(f"split {i:2d}: " + "; ".join(f"{m}: t={r['threshold']:.3f} cal false {r['cal_false']:.3f} "
                                                     f"unseen false {r['false']:.3f} coverage {r['coverage']:.3f}"
                                                     for m, r in run.items()))
        table(design, runs, time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
