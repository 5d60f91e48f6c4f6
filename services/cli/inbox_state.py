"""`switchboard inbox TEAM` with the inbox's state: the items whose current team is TEAM (reassigned ones
included, those reassigned away left out), each with the same `state` the web inbox shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.inbox import ItemState
from schemas.item import Item
from services.cli.reading import read_subjects
from services.common import names
from services.common.broker import connect_briefly
from services.common.settings import Settings
from services.config.errors import ConfigError
from services.config.teams import TeamsFile
from services.inbox.state import STATE_FILTERS, effective_status, initial_state, state_json


def _teams(settings: Settings) -> TeamsFile:
    try:
        from services.config.loader import load_config

        return load_config(settings.config).teams
    except (ConfigError, OSError):
        return TeamsFile()  # SLA defaults


async def read_team(settings: Settings, team: str, state: str, limit: int | None) -> list[tuple[Item, dict[str, Any]]]:
    teams = _teams(settings)
    nc = await connect_briefly(settings)
    try:
        js = nc.jetstream()
        stored: dict[str, ItemState] = {}
        try:
            for _, data in await read_subjects(js, names.kv_stream(names.ITEM_STATE_BUCKET),
                                               [names.kv_filter(names.ITEM_STATE_BUCKET)]):
                if data:
                    s = ItemState.model_validate_json(data)
                    stored[s.item_id] = s
        except Exception:  # noqa: BLE001 - no state bucket yet (an instance from before the inbox): all open
            stored = {}
        rows = await read_subjects(js, names.QUEUES, [names.queue_filter(team)])
        have = {names.split_item_subject(subject)[0] for subject, _ in rows}
        moved_in = [i for i, s in stored.items() if s.team == team and i not in have]
        if moved_in:
            rows += await read_subjects(js, names.QUEUES, [f"{names.QUEUE_PREFIX}.*.{i}" for i in moved_in])
    finally:
        await nc.close()
    now = datetime.now(UTC)
    wanted = STATE_FILTERS[state]
    out = []
    for _, data in rows:
        item = Item.model_validate_json(data)
        s = stored.get(item.id) or initial_state(item, teams)
        if s.team == team and effective_status(s, now) in wanted:
            out.append((item, state_json(s, now)))
    out.sort(key=lambda pair: pair[0].received_at)
    return out[-limit:] if limit else out
