"""Online clustering decisions, pure: which theme a vector joins (or none), a theme after a member joins, a new
theme, and the merge of two themes of one area. No I/O; `services.themes.store` applies them with CAS.

A theme's centroid is the running mean of its members' unit vectors; similarity is the cosine to the
normalised centroid. A vector joins the nearest theme of its area at or above `JOIN_THRESHOLD`, else it starts a
new theme. Two themes of one area whose centroids come within `MERGE_THRESHOLD` are merged (the bigger survives).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from schemas.theme import Sample, Theme
from services.themes.labels import label_of

JOIN_THRESHOLD = 0.62  # cosine to the nearest centroid (MiniLM); tuned on BANKING77 (bench/eval_themes.py)
MERGE_THRESHOLD = 0.86  # two centroids this close are one theme
BM25_JOIN_THRESHOLD = 0.35  # the sparse fallback encoder's cosines are lower for the same closeness
MAX_SAMPLES = 8  # member texts kept per theme (the most central), for the label and the examples
MAX_RECENT = 64  # item ids remembered per theme: a redelivered item is not counted twice
MAX_TEXT = 300  # characters of a sample text kept
DRIFT_EVERY = 8  # a centroid of n members moves ~1/n per join: check for drift on every join of a young theme,
# then every DRIFT_EVERY-th (the check is a second pass over the area's centroids)


def join_threshold(encoder: str) -> float:
    return BM25_JOIN_THRESHOLD if encoder == "bm25" else JOIN_THRESHOLD


def encode_vector(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_vector(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32)


def unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 1e-12 else vector.astype(np.float32)


def theme_id(area: str, item_id: str) -> str:
    """Deterministic from the item that started it: a retry of the same creation is the same theme."""
    return "th" + hashlib.sha256(f"{area}\x00{item_id}".encode()).hexdigest()[:14]


@dataclass(frozen=True)
class Nearest:
    index: int  # row in the matrix, -1 when there is none
    similarity: float


def nearest(matrix: np.ndarray, vector: np.ndarray) -> Nearest:
    """The row of `matrix` (unit centroids, n x d) most similar to the unit `vector`."""
    if matrix.shape[0] == 0:
        return Nearest(-1, -1.0)
    sims = matrix @ vector
    best = int(np.argmax(sims))
    return Nearest(best, float(sims[best]))


@dataclass(frozen=True)
class Member:
    """What one item brings to a theme."""

    item_id: str
    text: str
    account_id: str | None
    arr: float | None


def _add_account(accounts: dict[str, float], member: Member) -> dict[str, float]:
    if not member.account_id:
        return accounts
    out = dict(accounts)
    out[member.account_id] = float(member.arr or 0.0)  # the account's latest ARR; one entry per account
    return out


def _samples(samples: list[Sample], new: Sample) -> list[Sample]:
    kept = [s for s in samples if s.item_id != new.item_id] + [new]
    kept.sort(key=lambda s: -s.similarity)
    return kept[:MAX_SAMPLES]


def _relabel(theme: Theme) -> Theme:
    if theme.label_fixed:
        return theme
    return theme.model_copy(update={"label": label_of([s.text for s in theme.samples]) or theme.label})


def new_theme(area: str, vector: np.ndarray, member: Member, encoder: str, now: datetime) -> Theme:
    # How central the founder is becomes known only as others join: it starts as the least a member can be.
    sample = Sample(item_id=member.item_id, text=member.text[:MAX_TEXT], similarity=join_threshold(encoder))
    theme = Theme(
        id=theme_id(area, member.item_id), area=area, label=member.text[:40], encoder=encoder, dim=int(vector.shape[0]),
        centroid=encode_vector(unit(vector)), items=1, accounts=_add_account({}, member), samples=[sample],
        recent=[member.item_id], created_at=now, updated_at=now,
    )
    return _relabel(theme)


def join(theme: Theme, vector: np.ndarray, member: Member, now: datetime) -> Theme:
    """The theme after `member` joined it (unchanged counts when the item already joined: a redelivery)."""
    if member.item_id in theme.recent:
        return theme
    centroid = decode_vector(theme.centroid)
    n = theme.items + 1
    centroid = centroid + (vector - centroid) / n
    similarity = float(unit(centroid) @ vector)
    sample = Sample(item_id=member.item_id, text=member.text[:MAX_TEXT], similarity=round(similarity, 4))
    updated = theme.model_copy(update={
        "centroid": encode_vector(centroid), "items": n, "accounts": _add_account(theme.accounts, member),
        "samples": _samples(theme.samples, sample), "recent": (theme.recent + [member.item_id])[-MAX_RECENT:],
        "updated_at": now,
    })
    return _relabel(updated)


def survivor_of(a: Theme, b: Theme) -> tuple[Theme, Theme]:
    """(survivor, merged): the theme with more items survives (the older one on a tie)."""
    if (b.items, a.created_at, a.id) > (a.items, b.created_at, b.id):
        return b, a
    return a, b


def absorb(survivor: Theme, merged: Theme, now: datetime) -> Theme:
    """The survivor after taking in `merged` (idempotent: a merge already absorbed changes nothing)."""
    if merged.id in survivor.absorbed or merged.id == survivor.id:
        return survivor
    total = survivor.items + merged.items
    c = (decode_vector(survivor.centroid) * survivor.items + decode_vector(merged.centroid) * merged.items) / max(total, 1)
    accounts = dict(survivor.accounts)
    accounts.update({k: v for k, v in merged.accounts.items() if k not in accounts})
    samples = survivor.samples
    for s in merged.samples:
        samples = _samples(samples, s)
    updated = survivor.model_copy(update={
        "centroid": encode_vector(c), "items": total, "accounts": accounts, "samples": samples,
        "recent": (survivor.recent + merged.recent)[-MAX_RECENT:],
        "absorbed": survivor.absorbed + [merged.id, *merged.absorbed], "updated_at": now,
    })
    return _relabel(updated)


def drift_check_due(items: int) -> bool:
    return items <= DRIFT_EVERY or items % DRIFT_EVERY == 0


def should_merge(a: np.ndarray, b: np.ndarray, threshold: float = MERGE_THRESHOLD) -> bool:
    return float(unit(a) @ unit(b)) >= threshold
