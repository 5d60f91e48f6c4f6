"""When a team's digest is due (pure): `every` is "mon 09:00" (weekly, any weekday) or "daily 09:00", in UTC.
The due slot is computed from the clock alone, never kept in memory: a process that was down at 09:00 finds
the same slot when it comes back within the period and sends the missed digest once; after the next slot
begins, only that one is due (missed periods are not sent in a burst)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.config.teams import EVERY_RE

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Every:
    weekday: int | None  # 0 = Monday; None = every day
    hour: int
    minute: int

    @property
    def period(self) -> timedelta:
        return timedelta(days=1 if self.weekday is None else 7)


def period_text(every: Every) -> str:
    """The period a digest on this schedule covers by default: the time since the slot before."""
    return "1d" if every.weekday is None else "7d"


def parse_every(text: str) -> Every:
    """"mon 09:00" / "daily 09:00" → Every; ValueError for anything else."""
    m = EVERY_RE.match(str(text).strip().lower())
    if not m:
        raise ValueError(f"{text!r} is not a schedule like 'mon 09:00' or 'daily 09:00' (UTC)")
    day, hour, minute = m.groups()
    return Every(None if day == "daily" else DAYS.index(day), int(hour), int(minute))


def due_slot(every: Every, now: datetime) -> datetime:
    """The latest slot at or before `now` (UTC)."""
    now = now.astimezone(UTC)
    slot = now.replace(hour=every.hour, minute=every.minute, second=0, microsecond=0)
    if every.weekday is not None:
        slot -= timedelta(days=(slot.weekday() - every.weekday) % 7)
    if slot > now:
        slot -= every.period
    return slot


def next_slot(every: Every, now: datetime) -> datetime:
    return due_slot(every, now) + every.period


def slot_token(slot: datetime) -> str:
    """A slot as a subject and KV-key token: `20261130-0900`."""
    return slot.astimezone(UTC).strftime("%Y%m%d-%H%M")


def parse_slot(token: str) -> datetime:
    return datetime.strptime(token, "%Y%m%d-%H%M").replace(tzinfo=UTC)
