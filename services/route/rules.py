"""The rules engine: ordered rules from rules.yaml over an enriched item -> a Decision. Pure: no I/O.

- Rules are tried in order; the first rule whose `when` matches decides. A rule without `when` matches
  every item. The condition language is in `services.route.conditions`.
- `route: {team: $area}` sends the item to the team that owns its product area in areas.yaml; an item whose
  area is unknown (or owned by no team) goes to `unrouted`, and the reason says so.
- `answer:` fires only when the item's intent is `question` (the answer gate: a bug report, request,
  complaint or remark is never auto-answered, whatever the rule's `when` says) AND enrich attached a KB
  article whose score reaches the rule's `min_confidence`, or the calibrated KB threshold when the rule
  gives none; otherwise the next rule is tried, and the trace says which of the two stopped it.
- `drop:` records the item as dropped with the rule's reason.
- Nothing matched: the item goes to the `unrouted` queue (never dropped silently).
- Items that are not feedback (category account, usage, system) are only tested against rules whose `when`
  mentions `category`; when none matches they are recorded (account directory, usage signal), not routed.

Every Decision carries the rule, a reason built from the conditions that matched (with the item's values),
and the config version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

from schemas.item import Decision, Item
from services.common.names import TOKEN_RE, UNROUTED_TEAM
from services.config.models import AreasFile, RuleConfig
from services.route.conditions import Condition, Problem, compile_when, fmt

AREA_TEAM = "$area"
ANSWERABLE_INTENT = "question"  # the answer gate: only a question is ever auto-answered

RECORD_REASONS = {
    "account": "account update applied to the directory",
    "usage": "usage signal recorded on the account",
    "system": "system event recorded",
}


@dataclass(frozen=True)
class CompiledRule:
    """A rule from rules.yaml with its condition compiled (regexes included)."""

    config: RuleConfig
    condition: Condition | None  # None: matches every item
    mentions_category: bool

    @property
    def name(self) -> str:
        return self.config.name


@dataclass(frozen=True)
class RuleVerdict:
    """One rule's outcome for one item, for `trace` and backtests."""

    rule: str
    matched: bool  # the `when` held
    fired: bool  # the rule decided (an answer rule can match and still fall through)
    why: str


def rule_problems(rule: RuleConfig) -> list[Problem]:
    """Everything wrong with one rule, as (path inside the rule, message); [] when it compiles."""
    problems: list[Problem] = []
    if rule.when is not None:
        compile_when(rule.when, ("when",), problems)
    if rule.route is not None:
        team = rule.route.team
        if team != AREA_TEAM and not TOKEN_RE.match(team):
            problems.append(
                (("route", "team"), f"team {team!r} must contain only letters, digits, '-' and '_' (or be $area)")
            )
    return problems


def compile_rule(rule: RuleConfig) -> CompiledRule:
    """Compile one rule; raise ValueError naming the rule when it is invalid."""
    problems = rule_problems(rule)
    if problems:
        details = "; ".join(f"{'.'.join(str(p) for p in loc)}: {msg}" for loc, msg in problems)
        raise ValueError(f"rule {rule.name!r}: {details}")
    condition = compile_when(rule.when) if rule.when else None  # `when: {}` is the same as no `when`
    fields = condition.fields() if condition is not None else set()
    mentions = any(f == "category" or f.startswith("category.") for f in fields)
    return CompiledRule(config=rule, condition=condition, mentions_category=mentions)


def compile_rules(rules: Sequence[RuleConfig]) -> list[CompiledRule]:
    """Compile rules in order (validating operators and regexes); raise ValueError on the first bad rule."""
    return [compile_rule(r) for r in rules]


def decide(
    item: Item,
    rules: Sequence[CompiledRule | RuleConfig],
    areas: AreasFile,
    kb_threshold: float,
    config_version: str | None = None,
) -> Decision:
    """The Decision for one enriched item: the first rule that fires, else a built-in outcome."""
    for verdict, decision in _run(item, rules, areas, kb_threshold):
        if decision is not None:
            return decision.model_copy(update={"config_version": config_version})
    return _fallback(item).model_copy(update={"config_version": config_version})


def explain(
    item: Item,
    rules: Sequence[CompiledRule | RuleConfig],
    areas: AreasFile,
    kb_threshold: float,
    config_version: str | None = None,
) -> tuple[list[RuleVerdict], Decision]:
    """Every rule tried for this item (up to the one that fired) and the final Decision."""
    verdicts: list[RuleVerdict] = []
    for verdict, decision in _run(item, rules, areas, kb_threshold):
        verdicts.append(verdict)
        if decision is not None:
            return verdicts, decision.model_copy(update={"config_version": config_version})
    return verdicts, _fallback(item).model_copy(update={"config_version": config_version})


def _run(
    item: Item, rules: Sequence[CompiledRule | RuleConfig], areas: AreasFile, kb_threshold: float
) -> Iterator[tuple[RuleVerdict, Decision | None]]:
    doc = item.model_dump(mode="json")
    feedback = item.category == "feedback"
    for rule in rules:
        compiled = rule if isinstance(rule, CompiledRule) else compile_rule(rule)
        if not feedback and not compiled.mentions_category:
            continue
        if compiled.condition is None:
            matched, why = True, ""
        else:
            matched, why = compiled.condition.evaluate(doc)
        if not matched:
            yield RuleVerdict(compiled.name, False, False, why), None
            continue
        decision, note = _act(compiled, why, item, areas, kb_threshold)
        yield RuleVerdict(compiled.name, True, decision is not None, note), decision
        if decision is not None:
            return


def _act(
    rule: CompiledRule, why: str, item: Item, areas: AreasFile, kb_threshold: float
) -> tuple[Decision | None, str]:
    """The decision of a rule whose `when` matched (None: an answer rule falling through) and a note."""
    config = rule.config
    parts = [why] if why else []
    if config.route is not None:
        team, priority = config.route.team, config.route.priority
        if team == AREA_TEAM:
            team, area_note = _area_team(item, areas)
            parts.append(area_note)
        elif not parts:
            parts.append(f"rule {rule.name} matches every item")
        reason = "; ".join(parts)
        return Decision(rule=rule.name, action="route", team=team, priority=priority, reason=reason), reason
    if config.answer is not None:
        own = config.answer.min_confidence
        threshold = own if own is not None else kb_threshold
        source = "the rule's min_confidence" if own is not None else "the calibrated KB threshold"
        if item.intent != ANSWERABLE_INTENT:
            note = (f"intent {item.intent or 'unknown'} is not a question: feedback is never auto-answered "
                    "(the answer gate), falling through")
            return None, "; ".join(parts + [note])
        kb = item.kb
        if kb is None or kb.article is None:
            return None, "; ".join(parts + ["no KB article matched, falling through"])
        if kb.score < threshold:
            note = f"KB article {kb.article} scored {kb.score:.2f} < {threshold:.2f} ({source}), falling through"
            return None, "; ".join(parts + [note])
        parts.append(f"KB article {kb.article} scored {kb.score:.2f} >= {threshold:.2f} ({source})")
        reason = "; ".join(parts)
        return Decision(rule=rule.name, action="answer", reason=reason), reason
    assert config.drop is not None
    reason = "; ".join(parts + [f"dropped: {config.drop.reason}"])
    return Decision(rule=rule.name, action="drop", reason=reason), reason


def _area_team(item: Item, areas: AreasFile) -> tuple[str, str]:
    area = item.area.id if item.area is not None else None
    if area is None:
        return UNROUTED_TEAM, f"the item has no product area, so it goes to {UNROUTED_TEAM}"
    team = areas.team_of(area)
    if team is None:
        guess = item.area.best if item.area is not None else None
        extra = f" (best guess {guess}, {fmt(item.area.confidence)})" if guess and item.area else ""
        return UNROUTED_TEAM, f"area {area}{extra} has no owning team in areas.yaml, so it goes to {UNROUTED_TEAM}"
    return team, f"area {area} is owned by team {team}"


def _fallback(item: Item) -> Decision:
    if item.category != "feedback":
        reason = RECORD_REASONS.get(item.category, f"{item.category} event recorded")
        return Decision(rule=None, action="record", reason=reason)
    return Decision(rule=None, action="route", team=UNROUTED_TEAM, priority="normal", reason="no rule matched")


__all__ = [
    "AREA_TEAM",
    "CompiledRule",
    "RuleVerdict",
    "compile_rule",
    "compile_rules",
    "decide",
    "explain",
    "rule_problems",
]


