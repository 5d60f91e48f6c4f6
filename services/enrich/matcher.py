"""The few-shot matcher: one classifier head per decision (area, intent, KB article) over shared vectors.

A head is multinomial logistic regression (numpy, L2-regularised, Nesterov gradient descent) trained on
the labelled example vectors. Its confidence for the best label is

    confidence = p(label | text) * max_cos(text, examples of label) ** 2

The probability says which label wins among the known ones; the squared similarity to that label's
closest example says whether the text is like anything we were shown at all (a closed-set softmax alone
is confident about texts no label covers). On BANKING77 with 15 of 77 intents withheld this cut the
share of unanswerable questions answered at the same coverage (see docs/judgement.md). Thresholds on
this score are chosen from labelled data by `services.enrich.calibration`.

Pure CPU and immutable after fitting, so `predict` is safe to call from many threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

L2 = 1e-4  # weight decay on the mean cross-entropy; tuned on BANKING77 (10 shots: 85% top-1)
ITERATIONS = 300


def single_threaded_blas() -> None:
    """Pin numpy's BLAS to one thread (process-wide). Our matrices are small: extra BLAS threads only
    busy-wait after each call and steal the core the ONNX session runs on (4x slower per item on 2 cores)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional; OPENBLAS_NUM_THREADS=1 does the same
        return
    threadpool_limits(limits=1, user_api="blas")


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_logistic(x: np.ndarray, y: np.ndarray, k: int, l2: float = L2, iterations: int = ITERATIONS):
    """Multinomial logistic regression; returns (W, b). Deterministic (zero init, full batch)."""
    n, dim = x.shape
    targets = np.eye(k, dtype=np.float32)[y]
    w = np.zeros((dim, k), dtype=np.float32)
    b = np.zeros(k, dtype=np.float32)
    if k < 2 or n == 0:
        return w, b
    lipschitz = 0.5 * float(np.linalg.norm(x, 2)) ** 2 / n + l2
    step = np.float32(1.0 / lipschitz)
    w_prev, b_prev = w, b
    for i in range(iterations):
        mom = np.float32(i / (i + 3))
        w_look, b_look = w + mom * (w - w_prev), b + mom * (b - b_prev)
        grad = (softmax(x @ w_look + b_look) - targets) / n
        w_prev, b_prev = w, b
        w = w_look - step * (x.T @ grad + l2 * w_look)
        b = b_look - step * grad.sum(axis=0)
    return w, b


@dataclass(frozen=True)
class Prediction:
    best: np.ndarray  # (n,) index of the best label per text
    confidence: np.ndarray  # (n,) calibrated-to-be score in [0, 1]
    probs: np.ndarray  # (n, k) class probabilities
    similarity: np.ndarray  # (n, k) cosine to each label's closest example

    def top(self, row: int, n: int = 3) -> list[int]:
        return [int(i) for i in np.argsort(-self.probs[row], kind="stable")[:n]]

    def top_scores(self, row: int, n: int = 3) -> list[tuple[int, float]]:
        """The n most probable labels with the same score `confidence` gives the best one
        (probability x closeness to the label's nearest example, squared)."""
        out = []
        for j in self.top(row, n):
            closeness = min(max(float(self.similarity[row, j]), 0.0), 1.0)
            out.append((j, float(self.probs[row, j]) * closeness**2))
        return out


class Head:
    """One decision's classifier: labels, their example vectors, and the fitted weights."""

    def __init__(
        self, labels: list[str], vectors: np.ndarray, owners: np.ndarray, logit_scale: float | None = None
    ) -> None:
        """`logit_scale`: divide the logits so that their spread (std) over the training examples is this
        value, whatever the encoder (BM25's sparse vectors give logits ~20x the model's): hints added to
        the logits then weigh the same, and probabilities do not all saturate at 1."""
        if len(vectors) != len(owners):
            raise ValueError("one owner label per example vector")
        order = np.argsort(np.asarray(owners, dtype=np.int64), kind="stable")  # group examples by label
        self.labels = list(labels)
        self.vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[order])
        self.owners = np.asarray(owners, dtype=np.int64)[order]
        self.w, self.b = fit_logistic(self.vectors, self.owners, len(self.labels))
        if logit_scale is not None and len(self.vectors) and len(self.labels) > 1:
            spread = float((self.vectors @ self.w + self.b).std())
            if spread > 0:
                self.w, self.b = self.w * (logit_scale / spread), self.b * (logit_scale / spread)
        counts = np.bincount(self.owners, minlength=len(self.labels))
        self._has_examples = counts > 0
        self._starts = (np.cumsum(counts) - counts)[self._has_examples]  # for maximum.reduceat per label

    def __len__(self) -> int:
        return len(self.labels)

    def predict(self, x: np.ndarray, bias: np.ndarray | None = None) -> Prediction:
        """`bias`: optional (n, k) additions to the logits (e.g. keyword hints)."""
        n, k = len(x), len(self.labels)
        if k == 0:
            empty = np.zeros((n, 0), dtype=np.float32)
            return Prediction(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.float32), empty, empty)
        logits = x @ self.w + self.b
        if bias is not None:
            logits = logits + bias
        probs = softmax(logits) if k > 1 else np.ones((n, 1), dtype=np.float32)
        similarity = np.full((n, k), -1.0, dtype=np.float32)
        if len(self.vectors):
            cos = x @ self.vectors.T
            similarity[:, self._has_examples] = np.maximum.reduceat(cos, self._starts, axis=1)
        best = probs.argmax(axis=1)
        rows = np.arange(n)
        closeness = np.clip(similarity[rows, best], 0.0, 1.0)
        confidence = np.clip(probs[rows, best] * closeness**2, 0.0, 1.0)
        return Prediction(best, confidence.astype(np.float32), probs, similarity)


def examples_matrix(groups: list[list[str]]) -> tuple[list[str], np.ndarray]:
    """Flatten per-label example lists into (texts, owner index per text)."""
    texts: list[str] = []
    owners: list[int] = []
    for j, group in enumerate(groups):
        texts.extend(group)
        owners.extend([j] * len(group))
    return texts, np.asarray(owners, dtype=np.int64)
