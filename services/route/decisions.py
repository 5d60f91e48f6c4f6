"""The decisions KV (sb_decisions): the first decision stored under a key wins, for good.

A redelivered or replayed message is then sent where the first decision sent it, even if the rules changed
in between; the per-subject limit of the output streams refuses the second copy.
"""

from __future__ import annotations

from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from schemas.item import Decision


async def pin_decision(decisions: KeyValue, key: str, decision: Decision) -> Decision:
    """Store `decision` under `key` unless a decision is stored there already; return the stored one."""
    try:
        await decisions.create(key, decision.model_dump_json().encode())
        return decision
    except KeyWrongLastSequenceError:
        entry = await decisions.get(key)
        return Decision.model_validate_json(entry.value) if entry.value else decision
