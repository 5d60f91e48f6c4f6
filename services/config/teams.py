"""teams.yaml (notifications, SLAs, digests per PM team) and users.yaml (who may work which team's queue)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.common.names import check_token
from services.config.env_names import env_names as _env_names


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


PRIORITIES = ("low", "normal", "high")
DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration_seconds(text: str) -> float:
    """`90s`, `15m`, `4h`, `2d`, `1w` → seconds; ValueError otherwise."""
    m = DURATION_RE.match(str(text).strip())
    if not m:
        raise ValueError(f"{text!r} is not a duration like 30m, 4h, 2d or 1w")
    return float(m.group(1)) * _SECONDS[m.group(2)]


class NotifyConfig(_Strict):
    slack_webhook: str  # env var NAME holding the Slack incoming-webhook URL
    min_priority: Literal["low", "normal", "high"] = "high"

    _env = field_validator("slack_webhook")(lambda cls, v: _env_names([v])[0])


EVERY_RE = re.compile(r"^(daily|mon|tue|wed|thu|fri|sat|sun)\s+([01]\d|2[0-3]):([0-5]\d)$")


def check_every(text: str) -> str:
    """A digest schedule: "mon 09:00" (weekly, any weekday) or "daily 09:00", UTC (services/digest/schedule.py)."""
    if not EVERY_RE.match(str(text).strip().lower()):
        raise ValueError(f"{text!r} is not a schedule like 'mon 09:00' or 'daily 09:00' (UTC)")
    return str(text).strip().lower()


class DigestConfig(_Strict):
    every: str  # "mon 09:00" (UTC) or "daily 09:00"
    slack_webhook: str  # env var NAME holding the Slack incoming-webhook URL
    since: str | None = None  # the period covered; default: the schedule's (7d weekly, 1d daily)

    _env = field_validator("slack_webhook")(lambda cls, v: _env_names([v])[0])
    _every = field_validator("every")(lambda cls, v: check_every(v))
    _since = field_validator("since")(lambda cls, v: v if v is None else (duration_seconds(v), v)[1])


DEFAULT_SLA = {"high": "4h", "normal": "2d", "low": "7d"}


class TeamConfig(_Strict):
    id: str
    name: str | None = None
    notify: NotifyConfig | None = None
    sla: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SLA))
    digest: DigestConfig | None = None

    _check_id = field_validator("id")(lambda cls, v: check_token(v))

    @field_validator("sla")
    @classmethod
    def _sla(cls, v: dict[str, str]) -> dict[str, str]:
        for priority, duration in v.items():
            if priority not in PRIORITIES:
                raise ValueError(f"sla priority {priority!r} is not one of {', '.join(PRIORITIES)}")
            duration_seconds(duration)
        return {**DEFAULT_SLA, **v}

    def sla_seconds(self, priority: str | None) -> float:
        return duration_seconds(self.sla.get(priority or "normal", self.sla["normal"]))


class TeamsFile(_Strict):
    teams: list[TeamConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> "TeamsFile":
        _no_repeats([t.id for t in self.teams], "team ids")
        return self

    def team(self, team_id: str | None) -> TeamConfig:
        """The team's settings, or the defaults (SLA 4h/2d/7d, no notifications) for a team not listed."""
        for t in self.teams:
            if t.id == team_id:
                return t
        return TeamConfig(id=team_id or "unrouted")


class UserConfig(_Strict):
    email: str
    name: str | None = None
    teams: list[str] = Field(default_factory=list)  # team ids; "*" = every team
    token: str  # env var NAME holding this user's token (web login and API Bearer)

    _env = field_validator("token")(lambda cls, v: _env_names([v])[0])

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        if "@" not in v:
            raise ValueError(f"{v!r} is not an e-mail address")
        return v.strip().lower()

    def sees(self, team: str) -> bool:
        return "*" in self.teams or team in self.teams


class UsersFile(_Strict):
    users: list[UserConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> "UsersFile":
        _no_repeats([u.email for u in self.users], "user e-mails")
        return self


def _no_repeats(values: list[str], what: str) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what} used twice: {repeated}")
