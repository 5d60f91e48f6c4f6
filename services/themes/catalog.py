"""Every theme in KV `sb_themes` at once (for reports and pages): one watch over `t.>` until its initial values
end, then stopped."""

from __future__ import annotations

from nats.js.kv import KeyValue

from schemas.theme import Theme
from services.common import names


async def load_themes(kv: KeyValue) -> dict[str, Theme]:
    themes: dict[str, Theme] = {}
    watcher = await kv.watch(names.THEME_KEYS, ignore_deletes=True)
    try:
        async for entry in watcher:
            if entry is None:
                break
            if entry.value:
                theme = Theme.model_validate_json(entry.value)
                themes[theme.id] = theme
    finally:
        await watcher.stop()
    return themes
