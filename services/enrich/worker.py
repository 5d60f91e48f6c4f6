"""The enrich stage: SB_EVENTS → account, area, intent, KB match → SB_ENRICHED.

Transport (fetch, ack, retry, dead-letter) is services.common.consumer; judgement is services.enrich.judge;
this module only wires one batch through them.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Sequence

import numpy as np
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import ValidationError

from schemas.item import Account, Item, ThemeRef
from services.common import names
from services.common.broker import publish_item
from services.common.consumer import Stage, run_stage
from services.common.errors import PermanentError
from services.common.heap import freeze_startup_heap
from services.common.logging import get_logger
from services.common.settings import Settings
from services.common.streams import accounts_bucket, config_bucket, themes_bucket
from services.config.live import LiveConfig
from services.config.models import Config
from services.enrich.accounts import AccountDirectory
from services.enrich.crm import crm_resolver_from_settings
from services.enrich.enrichment import enrich_item, needs_judgement, text_of
from services.enrich.judge import Judge, Judgement
from services.enrich.theming import Theming

log = get_logger("switchboard.enrich")

STAGE = Stage("enrich", names.EVENTS, names.ENRICH_CONSUMER, names.all_stream_filter(names.EVENTS))


class EnrichHandler:
    def __init__(self, js: JetStreamContext, directory: AccountDirectory, live: LiveConfig[Judge], settings: Settings,
                 theming: Theming | None = None) -> None:
        self.js = js
        self.theming = theming  # None: no themes (tests of the other decisions)
        self.directory = directory
        self.live = live  # the published config's judge; switched between batches, never within one
        self.settings = settings

    async def __call__(self, msgs: Sequence[Msg]) -> list[BaseException | None]:
        config, judge = self.live.current
        results: list[BaseException | None] = [None] * len(msgs)
        items: dict[int, Item] = {}
        for i, msg in enumerate(msgs):
            try:
                items[i] = Item.model_validate_json(msg.data)
            except ValidationError as exc:
                results[i] = PermanentError(f"not a valid item: {exc.errors()[0]['msg']}")
        accounts: dict[int, Account | None] = {}
        for i, item in items.items():
            try:
                if item.account_update is not None:
                    accounts[i] = await self.directory.apply(item.account_update)
                else:
                    accounts[i] = await self.directory.match(item)
            except Exception as exc:  # noqa: BLE001 - classified by the consumer
                results[i] = exc
        pending = [i for i in items if results[i] is None]
        to_judge = [i for i in pending if needs_judgement(items[i])]
        judging = None
        if to_judge:  # the encoder runs in a thread while the rest of the batch is published
            texts = [text_of(items[i]) for i in to_judge]
            judging = asyncio.get_running_loop().run_in_executor(None, judge.judge_with_vectors, texts)
        waiting = set(to_judge)
        # Account and usage events (no text) do not wait for the encoder.
        version = config.version
        await self._publish_all([i for i in pending if i not in waiting], items, accounts, {}, results, len(msgs), version)
        if judging is not None:
            judged, vectors = await judging
            judgements = dict(zip(to_judge, judged, strict=True))
            themes = await self._themes(judge, to_judge, items, accounts, judgements, vectors, results)
            to_publish = [i for i in to_judge if results[i] is None]
            await self._publish_all(to_publish, items, accounts, judgements, results, len(msgs), version, themes)
        return results

    async def _publish_all(
        self,
        indexes: list[int],
        items: dict[int, Item],
        accounts: dict[int, Account | None],
        judgements: dict[int, Judgement],
        results: list[BaseException | None],
        batch: int,
        version: str,
        themes: dict[int, ThemeRef] | None = None,
    ) -> None:
        now = datetime.now(UTC)
        enriched = {i: enrich_item(items[i], accounts.get(i), judgements.get(i), now, version, (themes or {}).get(i))
                    for i in indexes}
        published = await asyncio.gather(*(self._publish(enriched[i]) for i in indexes), return_exceptions=True)
        for i, outcome in zip(indexes, published, strict=True):
            if isinstance(outcome, BaseException):
                results[i] = outcome
                continue
            item = enriched[i]
            log.debug(
                "item.enriched", id=item.id, source=item.source, category=item.category,
                account=item.account.id if item.account else None,
                matched_by=item.account.matched_by if item.account else None,
                area=item.area.id if item.area else None, intent=item.intent,
                kb=item.kb.article if item.kb else None, batch=batch,
            )

    async def _themes(self, judge: Judge, indexes: list[int], items: dict[int, Item], accounts: dict[int, Account | None],
                      judgements: dict[int, Judgement], vectors: np.ndarray,
                      results: list[BaseException | None]) -> dict[int, ThemeRef]:
        """Each judged item's theme, from the judge's vectors (items of one theme join it in one compare-and-set).
        An item whose theme could not be written is retried later (its error goes to the consumer)."""
        if self.theming is None:
            return {}
        batch = [(items[i], text_of(items[i]), accounts.get(i), judgements[i]) for i in indexes]
        refs = await self.theming.assign_batch(judge.encoder.name, batch, vectors, datetime.now(UTC))
        themes: dict[int, ThemeRef] = {}
        for i, ref in zip(indexes, refs, strict=True):
            if isinstance(ref, BaseException):
                results[i] = ref
            else:
                themes[i] = ref
        return themes

    async def _publish(self, item: Item) -> None:
        await publish_item(
            self.js,
            names.enriched_subject(item.source, item.id),
            item.model_dump_json().encode(),
            msg_id=f"{item.id}:enriched",
            timeout=self.settings.publish_timeout_s,
        )


async def run_enrich(js: JetStreamContext, config: Config, settings: Settings, stop: asyncio.Event) -> None:
    crm = crm_resolver_from_settings(settings, config)  # None unless SWITCHBOARD_CRM_KIND is set
    directory = AccountDirectory(await accounts_bucket(js, settings), crm=crm)
    seeded = await directory.seed(config.accounts)
    judge = await asyncio.get_running_loop().run_in_executor(None, Judge.from_config, config)
    log.info("enrich.ready", accounts_seeded=seeded, areas=len(config.areas.areas), articles=len(config.articles),
             crm_lookup=crm.kind if crm else None)
    live = LiveConfig(Judge.from_config, config, built=judge)
    versions = await config_bucket(js, settings)
    follow = asyncio.create_task(live.follow(versions, settings.data / "configs", stop), name="enrich-config")
    theming = Theming(await themes_bucket(js, settings))
    freeze_startup_heap()  # the judge and the config are built: full GCs must not rescan them mid-item
    try:
        await run_stage(js, STAGE, EnrichHandler(js, directory, live, settings, theming), settings, stop)
    finally:
        follow.cancel()
        await theming.close()
        if crm is not None:
            await crm.aclose()
