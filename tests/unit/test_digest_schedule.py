"""Schedule slot maths (pure): the due slot comes from the clock alone, so a restart in the period finds the
same slot (a missed 09:00 is sent once when the process comes back), and the next period has a new one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.config.teams import DigestConfig
from services.digest.schedule import due_slot, next_slot, parse_every, parse_slot, slot_token

pytestmark = pytest.mark.unit

MON = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday


def test_weekly_slot_is_the_last_monday_nine_at_or_before_now() -> None:
    every = parse_every("mon 09:00")
    assert due_slot(every, MON) == MON
    assert due_slot(every, MON - timedelta(seconds=1)) == MON - timedelta(days=7)
    assert due_slot(every, MON + timedelta(days=6, hours=23)) == MON  # Sunday night: still Monday's slot
    assert due_slot(every, MON + timedelta(days=7)) == MON + timedelta(days=7)
    assert next_slot(every, MON + timedelta(hours=1)) == MON + timedelta(days=7)
    assert due_slot(parse_every("fri 17:30"), MON).isoformat() == "2026-11-27T17:30:00+00:00"


def test_daily_slot_and_other_timezones_are_read_as_utc() -> None:
    every = parse_every("daily 09:00")
    assert due_slot(every, MON + timedelta(hours=3)) == MON
    assert due_slot(every, MON - timedelta(hours=1)) == MON - timedelta(days=1)
    from zoneinfo import ZoneInfo

    ny = datetime(2026, 11, 30, 5, 0, tzinfo=ZoneInfo("America/New_York"))  # 10:00 UTC
    assert due_slot(every, ny) == MON


def test_a_missed_slot_is_still_due_until_the_next_one() -> None:
    """Down from Monday 08:00 to Wednesday 14:00: coming back finds Monday's slot, the same key as any replica
    that did send it, so it is sent once; the week after, the new slot."""
    every = parse_every("mon 09:00")
    back = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
    assert slot_token(due_slot(every, back)) == slot_token(due_slot(every, MON + timedelta(minutes=1))) == "20261130-0900"
    assert slot_token(due_slot(every, back + timedelta(days=5))) == "20261207-0900"
    assert parse_slot("20261130-0900") == MON


@pytest.mark.parametrize("bad", ["monday 9am", "mon 9:00", "daily 24:00", "weekly 09:00", "mon 09:60", ""])
def test_bad_schedules_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_every(bad)
    with pytest.raises(ValidationError):
        DigestConfig(every=bad, slack_webhook="HOOK")
    assert DigestConfig(every="Daily 07:30", slack_webhook="HOOK").every == "daily 07:30"


def test_the_period_covered_defaults_to_the_schedules() -> None:
    from services.digest.schedule import period_text

    assert period_text(parse_every("daily 09:00")) == "1d" and period_text(parse_every("tue 10:00")) == "7d"
    assert DigestConfig(every="daily 09:00", slack_webhook="HOOK").since is None
    with pytest.raises(ValidationError):
        DigestConfig(every="daily 09:00", slack_webhook="HOOK", since="a while")


def test_digest_subjects_dead_letters_and_replays_keep_team_and_slot_apart() -> None:
    from services.common import names

    subject = names.digest_subject("insights", "20261130-0900")
    assert subject == "sb.outbox.digest.insights.20261130-0900"
    assert names.deliver_input(subject) == ("digest", "insights", "20261130-0900", None)
    assert names.deliver_dead_letter_token(subject) == ("insights", "digest20261130-0900")
    replay = names.deliver_replay_subject(subject, "insights", 1)
    assert names.deliver_input(replay)[0] == "digest" and replay != subject
    assert names.schedule_key("insights", "20261130-0900") == "digest.insights.20261130-0900"
    with pytest.raises(ValueError):
        names.digest_subject("in.sights", "x")
