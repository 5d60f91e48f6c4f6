"""A theme as it is kept in the KV bucket `sb_themes` (contract 7), and a theme as `switchboard themes --json`
reports it. Several enrich processes share the entries: every change is a compare-and-set on the revision."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Sample(_Model):
    """One member text kept for the label and the examples (a small bounded sample, the most central)."""

    item_id: str
    text: str
    similarity: float  # cosine to the centroid when it joined


class Theme(_Model):
    """KV `sb_themes` value under `t.<id>`. `centroid` is the running mean of the members' unit vectors,
    float32 little-endian, base64; `accounts` maps each distinct account id to its ARR (each counted once)."""

    id: str
    area: str
    label: str
    label_fixed: bool = False  # set by `switchboard themes rename`: no longer recomputed from the samples
    encoder: str  # the encoder the centroid is in (a centroid of another encoder is never compared)
    dim: int
    centroid: str
    items: int = 0
    accounts: dict[str, float] = Field(default_factory=dict)
    samples: list[Sample] = Field(default_factory=list)
    recent: list[str] = Field(default_factory=list)  # the last item ids joined: a redelivery is not counted twice
    merged_into: str | None = None  # a merged theme points at its survivor; reports resolve it
    absorbed: list[str] = Field(default_factory=list)  # themes merged into this one (a merge is finished once)
    created_at: datetime
    updated_at: datetime

    @property
    def arr(self) -> float:
        return float(sum(self.accounts.values()))


class AreaIndex(_Model):
    """KV `sb_themes` value under `a.<area>`: the live (unmerged) themes of an area. A new theme is created only
    by a compare-and-set of this entry, so two processes cannot both create a theme for the same new topic."""

    area: str
    ids: list[str] = Field(default_factory=list)


class ThemeReport(_Model):
    """One row of `switchboard themes --json` (contract 7)."""

    id: str
    label: str
    area: str | None
    team: str | None
    items: int
    accounts: int
    arr: float
    previous: int
    examples: list[str]
    item_ids: list[str]
