"""The inbox state machine (pure): initial state and SLA, every transition and its conflicts, snoozes that
wake at read time, overdue, and the activity event each change records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.item import Decision, Item
from services.config.teams import TeamConfig, TeamsFile
from services.inbox.state import Actor, Conflict, Invalid, apply, effective_status, initial_state, is_overdue, state_json

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TEAMS = TeamsFile(teams=[TeamConfig(id="strategic-pm", sla={"high": "2h"}), TeamConfig(id="platform")])
DANA, OPS = Actor("dana@example.com", "Dana"), Actor("ops@example.com")


def item(priority: str | None = "high", team: str | None = "strategic-pm") -> Item:
    return Item(id="abc123", source="native", kind="standard", event_type="x", delivery_id="d1", received_at=T0,
                decided_at=T0 + timedelta(seconds=5),
                decision=Decision(rule="r", action="route", team=team, priority=priority, reason="because"))


def test_initial_state_uses_the_decisions_team_and_its_sla() -> None:
    s = initial_state(item(), TEAMS)
    assert (s.status, s.team, s.version, s.assignee) == ("open", "strategic-pm", 0, None)
    assert s.sla_due == T0 + timedelta(seconds=5) + timedelta(hours=2)
    # defaults: 4h / 2d / 7d, for a team teams.yaml does not list
    assert initial_state(item("normal", "mobile"), TEAMS).sla_due == T0 + timedelta(seconds=5, days=2)
    assert initial_state(item(None, None), TEAMS).team == "unrouted"


def test_claim_then_a_second_claim_conflicts() -> None:
    s0 = initial_state(item(), TEAMS)
    s1, ev = apply(s0, item(), "claim", DANA, {}, TEAMS, T0)
    assert (s1.status, s1.assignee, s1.version) == ("claimed", "dana@example.com", 1)
    assert (ev.action, ev.from_status, ev.to_status, ev.by, ev.by_name, ev.version) == (
        "claim", "open", "claimed", "dana@example.com", "Dana", 1)
    with pytest.raises(Conflict, match="dana@example.com"):
        apply(s1, item(), "claim", OPS, {}, TEAMS, T0)


def test_snooze_wakes_at_read_time_and_can_then_be_claimed() -> None:
    s0 = initial_state(item(), TEAMS)
    until = T0 + timedelta(hours=1)
    s1, ev = apply(s0, item(), "snooze", DANA, {"until": until.isoformat()}, TEAMS, T0)
    assert s1.status == "snoozed" and ev.until == until
    assert effective_status(s1, T0 + timedelta(minutes=59)) == "snoozed"
    assert effective_status(s1, until) == "open"
    s2, ev2 = apply(s1, item(), "claim", DANA, {}, TEAMS, until + timedelta(seconds=1))
    assert s2.status == "claimed" and ev2.from_status == "open"
    for bad in ({}, {"until": 5}, {"until": "tomorrow"}, {"until": "2026-03-02T10:00:00"},
                {"until": (T0 - timedelta(seconds=1)).isoformat()}):
        with pytest.raises(Invalid):
            apply(s0, item(), "snooze", DANA, bad, TEAMS, T0)


def test_reassign_moves_team_clears_assignee_and_takes_the_new_teams_sla() -> None:
    s1, _ = apply(initial_state(item(), TEAMS), item(), "claim", DANA, {}, TEAMS, T0)
    s2, ev = apply(s1, item(), "reassign", DANA, {"team": "platform", "note": " over to you "}, TEAMS, T0)
    assert (s2.status, s2.team, s2.assignee, s2.note) == ("open", "platform", None, "over to you")
    assert s2.sla_due == T0 + timedelta(seconds=5, hours=4)  # platform: default high = 4h
    assert (ev.from_team, ev.to_team, ev.note) == ("strategic-pm", "platform", "over to you")
    with pytest.raises(Conflict):
        apply(s2, item(), "reassign", DANA, {"team": "platform"}, TEAMS, T0)
    for bad in ({}, {"team": "a.b"}, {"team": "x", "note": 3}, {"team": "x", "note": "n" * 10_001}):
        with pytest.raises(Invalid):
            apply(s1, item(), "reassign", DANA, bad, TEAMS, T0)


def test_resolve_reopen_and_their_conflicts() -> None:
    s0 = initial_state(item(), TEAMS)
    with pytest.raises(Conflict):
        apply(s0, item(), "reopen", DANA, {}, TEAMS, T0)
    with pytest.raises(Invalid):
        apply(s0, item(), "resolve", DANA, {"reply": True}, TEAMS, T0)  # a reply needs a note
    with pytest.raises(Invalid):
        apply(s0, item(), "resolve", DANA, {"reply": "yes"}, TEAMS, T0)
    s1, ev = apply(s0, item(), "resolve", DANA, {"note": "done", "reply": True}, TEAMS, T0)
    assert s1.status == "resolved" and ev.reply and ev.note == "done"
    for action, body in (("resolve", {}), ("claim", {}), ("reassign", {"team": "platform"}),
                         ("snooze", {"until": (T0 + timedelta(hours=1)).isoformat()})):
        with pytest.raises(Conflict):
            apply(s1, item(), action, DANA, body, TEAMS, T0)  # type: ignore[arg-type]
    s2, ev2 = apply(s1, item(), "reopen", OPS, {}, TEAMS, T0)
    assert (s2.status, s2.assignee, s2.version, ev2.from_status) == ("open", None, 2, "resolved")


def test_overdue_and_state_json() -> None:
    s0 = initial_state(item(), TEAMS)
    late = s0.sla_due + timedelta(seconds=1)
    assert not is_overdue(s0, s0.sla_due) and is_overdue(s0, late)
    out = state_json(s0, late)
    assert set(out) == {"status", "team", "assignee", "sla_due", "overdue", "updated_at", "version"}
    assert out["overdue"] is True and out["status"] == "open"
    resolved, _ = apply(s0, item(), "resolve", DANA, {}, TEAMS, T0)
    assert not is_overdue(resolved, late)
    snoozed, _ = apply(s0, item(), "snooze", DANA, {"until": (late + timedelta(hours=1)).isoformat()}, TEAMS, T0)
    assert not is_overdue(snoozed, late)
