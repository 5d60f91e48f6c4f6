"""Typed config: one model per file of the config folder (contract 3).

`services.config.loader` reads the YAML/CSV/markdown files into these models and turns any
validation error into a `ConfigError` carrying the file and line.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.common.names import check_token
from services.config.env_names import env_names as _env_names
from services.config.teams import TeamsFile, UserConfig, UsersFile  # noqa: F401 - every file's model is here

SourceKindName = Literal[
    "standard",
    "zendesk",
    "intercom",
    "hubspot",
    "salesforce",
    "segment",
    "pendo",
    "jira",
    "slack",
    "github",
    "stripe",
    "freshdesk",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RateLimit(_Strict):
    per_second: float = Field(gt=0)
    burst: int = Field(default=0, ge=0)  # 0: same as per_second, rounded up


class ReplyConfig(_Strict):
    """Where and how deliver answers back into this source's tool (contract 5)."""

    url: str  # the tool's API base (slack: https://slack.com; standard: the callback URL)
    credentials: str | None = None  # env var NAME: zendesk `email/token:API_TOKEN`, intercom/slack token, freshdesk key
    public: bool = False  # zendesk / intercom / freshdesk: a public reply instead of an internal note
    admin_id: str | None = None  # intercom only: the admin the reply is posted as
    secret: str | None = None  # standard only: env var NAME holding the whsec_ key that signs callbacks

    @field_validator("credentials", "secret")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        return None if v is None else _env_names([v])[0]

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"reply.url {v!r} must be an absolute http(s) URL")
        return v.rstrip("/")


class SourceConfig(_Strict):
    name: str
    kind: SourceKindName
    secrets: list[str] = Field(default_factory=list)  # env var NAMES; any of them verifies
    tokens: list[str] = Field(default_factory=list)  # env var NAMES of shared tokens, for senders that cannot sign
    public_url: str | None = None  # hubspot: the URL HubSpot calls (v2/v3 signatures)
    organization_id: str | None = None  # salesforce: the only org accepted
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    rate_limit: RateLimit | None = None
    options: dict[str, Any] = Field(default_factory=dict)  # kind-specific (field mappings, ...)
    reply: ReplyConfig | None = None  # answers and PM replies back into the tool (contract 5)

    _check_name = field_validator("name")(lambda cls, v: check_token(v))
    _check_env = field_validator("secrets", "tokens")(lambda cls, v: _env_names(v))


class SourcesFile(_Strict):
    sources: list[SourceConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> "SourcesFile":
        seen: set[str] = set()
        for s in self.sources:
            if s.name in seen:
                raise ValueError(f"source name {s.name!r} is used twice")
            seen.add(s.name)
        return self


class AreaConfig(_Strict):
    id: str
    team: str
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)

    _check_id = field_validator("id", "team")(lambda cls, v: check_token(v))


class AreasFile(_Strict):
    areas: list[AreaConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> "AreasFile":
        ids = [a.id for a in self.areas]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"area ids used twice: {sorted(dupes)}")
        if "unknown" in ids:
            raise ValueError("'unknown' is reserved for items no area matches")
        return self

    def team_of(self, area_id: str | None) -> str | None:
        for a in self.areas:
            if a.id == area_id:
                return a.team
        return None


class RouteAction(_Strict):
    team: str  # a team name, or "$area" for the owning team of the item's area
    priority: str = "normal"


class AnswerAction(_Strict):
    min_confidence: float | None = Field(default=None, ge=0, le=1)


class DropAction(_Strict):
    reason: str


class RuleConfig(_Strict):
    name: str
    when: dict[str, Any] | None = None
    route: RouteAction | None = None
    answer: AnswerAction | None = None
    drop: DropAction | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_answer(cls, data: Any) -> Any:
        """`answer:` with no value means "answer with the calibrated threshold", like `answer: {}`."""
        if isinstance(data, dict) and "answer" in data and data["answer"] is None:
            data = {**data, "answer": {}}
        return data

    @model_validator(mode="after")
    def _one_action(self) -> "RuleConfig":
        actions = [a for a in ("route", "answer", "drop") if getattr(self, a) is not None]
        if len(actions) != 1:
            raise ValueError(f"rule {self.name!r} needs exactly one of route, answer, drop (has {actions or 'none'})")
        return self

    @property
    def action(self) -> str:
        return "route" if self.route else "answer" if self.answer else "drop"


class RulesFile(_Strict):
    rules: list[RuleConfig] = Field(default_factory=list)


class Article(_Strict):
    id: str  # the file name without .md
    title: str
    url: str | None = None
    area: str | None = None
    questions: list[str] = Field(default_factory=list)
    body: str = ""


class AccountRow(_Strict):
    account_id: str
    name: str | None = None
    domain: str | None = None
    arr: float | None = None
    plan: str | None = None
    owner: str | None = None
    external_id: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)


class Thresholds(_Strict):
    """Calibrated thresholds (written by `switchboard kb calibrate` / `areas calibrate` to calibration.yaml)."""

    kb: float = 0.6  # documented default before any calibration
    area: float = 0.35
    intent: float = 0.0
    notes: dict[str, Any] = Field(default_factory=dict)


class IntentsFile(_Strict):
    """Optional intents.yaml: overrides or extends the built-in intent examples."""

    intents: dict[str, list[str]] = Field(default_factory=dict)


class Config(BaseModel):
    """Everything in one config folder, validated."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    directory: str
    sources: list[SourceConfig] = Field(default_factory=list)
    areas: AreasFile = Field(default_factory=AreasFile)
    rules: list[RuleConfig] = Field(default_factory=list)
    articles: list[Article] = Field(default_factory=list)
    accounts: list[AccountRow] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    intents: dict[str, list[str]] = Field(default_factory=dict)
    teams: TeamsFile = Field(default_factory=TeamsFile)
    users: list[UserConfig] = Field(default_factory=list)
    version: str = ""  # content hash of the folder, stamped on every decision

    def source(self, name: str) -> SourceConfig | None:
        for s in self.sources:
            if s.name == name:
                return s
        return None
