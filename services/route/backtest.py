"""Backtests (pure): where a decision sends an item, and the from→to moves between two sets of decisions.

`switchboard rules backtest` re-decides recorded items with a changed config and tallies what would move:
`queue:<team>`, `answer`, `drop` or `record`, with the ids of every item that moves.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from schemas.item import Decision
from services.common.names import UNROUTED_TEAM
from services.config.models import Config


def destination(decision: Decision) -> str:
    if decision.action == "route":
        return f"queue:{decision.team or UNROUTED_TEAM}"
    return decision.action  # answer | drop | record


@dataclass
class Move:
    from_: str
    to: str
    ids: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.ids)

    def as_json(self) -> dict[str, object]:
        return {"from": self.from_, "to": self.to, "count": self.count, "ids": self.ids}


def tally(outcomes: Iterable[tuple[str, str, str]]) -> list[Move]:
    """(item id, from, to) per item → the moves (from != to), largest first, then by name."""
    moves: dict[tuple[str, str], Move] = defaultdict(lambda: Move("", ""))
    for item_id, before, after in outcomes:
        if before == after:
            continue
        move = moves[(before, after)]
        move.from_, move.to = before, after
        move.ids.append(item_id)
    return sorted(moves.values(), key=lambda m: (-m.count, m.from_, m.to))


def judgement_inputs(config: Config) -> tuple[object, ...]:
    """What the judge learns from: areas, KB articles, intents and thresholds. When these differ between the
    running config and the new one, a backtest re-judges every item's text; otherwise only rules re-run."""
    return (
        config.areas.model_dump(mode="json"),
        [a.model_dump(mode="json") for a in config.articles],
        config.intents,
        config.thresholds.model_dump(mode="json", exclude={"notes"}),
    )
