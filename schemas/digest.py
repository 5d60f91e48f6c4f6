"""A team's digest (contract 7): the period's themes by ARR affected and by count, new and growing themes, top
accounts, churn-risk items, the answer rate and the articles that helped. `switchboard digest --format json`
prints it; the scheduler publishes it as a `DigestMessage` on `sb.outbox.digest.<team>.<slot>` and deliver posts
it to the team's Slack webhook."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


Trend = Literal["new", "growing", "steady", "shrinking"]


class ThemeStat(_Model):
    """One theme in the period: `arr` sums the ARR of its distinct accounts (each once); `previous` is its item
    count in the period before."""

    id: str
    label: str
    area: str | None = None
    team: str | None = None  # the team most of its items went to
    items: int
    accounts: int
    arr: float
    previous: int = 0
    trend: Trend = "new"
    examples: list[str] = Field(default_factory=list)
    item_ids: list[str] = Field(default_factory=list)


class AccountStat(_Model):
    id: str
    name: str | None = None
    arr: float = 0.0
    items: int
    themes: int


class ChurnItem(_Model):
    id: str
    text: str
    account: str | None = None
    arr: float | None = None
    team: str | None = None
    theme: str | None = None


class ArticleHelp(_Model):
    article: str
    title: str | None = None
    answers: int = 0
    helpful: int = 0
    not_helpful: int = 0


class Digest(_Model):
    team: str | None  # None: every team
    since: str  # the period's length, e.g. "7d"
    start: datetime
    end: datetime
    items: int  # feedback items decided in the period
    previous_items: int
    accounts: int  # distinct accounts
    arr: float  # ARR of those accounts, each once
    questions: int
    answers: int  # questions answered from the KB (and not rejected)
    answer_rate: float | None  # answers / questions; None without questions
    top_by_arr: list[ThemeStat] = Field(default_factory=list)
    top_by_count: list[ThemeStat] = Field(default_factory=list)
    new_themes: list[ThemeStat] = Field(default_factory=list)
    growing_themes: list[ThemeStat] = Field(default_factory=list)
    top_accounts: list[AccountStat] = Field(default_factory=list)
    churn_risk: list[ChurnItem] = Field(default_factory=list)
    articles_helped: list[ArticleHelp] = Field(default_factory=list)


class DigestMessage(_Model):
    """What the scheduler publishes for deliver: one per team and due slot (`sb.outbox.digest.<team>.<slot>`,
    one message per subject, so a second publish of the same slot is refused by the server)."""

    team: str
    slot: str  # the due slot, e.g. "20261130-0900" (UTC)
    every: str  # the schedule it was due on ("mon 09:00", "daily 09:00")
    at: datetime  # when it was built
    by: str  # the process that held the lease
    digest: Digest


class Lease(_Model):
    """KV `sb_schedule` value of `digest.<team>.<slot>`: created once (`kv.create`), so one process wins the
    slot; `claimed` turns `sent` after the publish. A `claimed` lease older than its `expires` (the holder died
    before publishing) may be taken over with a compare-and-set on its revision."""

    state: Literal["claimed", "sent"]
    by: str
    at: datetime
    expires: datetime
