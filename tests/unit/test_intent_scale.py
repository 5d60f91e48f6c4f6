"""The intent head's logits are rescaled to one spread, so the question-form hints weigh the same with BM25."""

from __future__ import annotations

import numpy as np
import pytest

from services.config.models import Config
from services.enrich.encoder import Bm25Encoder
from services.enrich.intents import merged_intents
from services.enrich.judge import INTENT_LOGIT_SCALE, Judge
from services.enrich.matcher import Head

pytestmark = pytest.mark.unit


def test_logit_scale_sets_the_spread_and_keeps_the_ranking() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 8)).astype(np.float32)
    owners = np.repeat(np.arange(3), 10)
    plain, scaled = Head(["a", "b", "c"], x, owners), Head(["a", "b", "c"], x, owners, logit_scale=0.5)
    assert float((scaled.vectors @ scaled.w + scaled.b).std()) == pytest.approx(0.5, rel=1e-3)
    assert (plain.predict(x).best == scaled.predict(x).best).all()  # same winner, softer probabilities


def test_bm25_intent_is_not_saturated_and_complaints_are_not_questions() -> None:
    texts = [t for ex in merged_intents().values() for t in ex]
    judge = Judge.from_config(Config(directory="/x"), encoder=Bm25Encoder(texts))
    spread = float((judge.intent_head.vectors @ judge.intent_head.w + judge.intent_head.b).std())
    assert spread == pytest.approx(INTENT_LOGIT_SCALE, rel=1e-3)
    complaint, question = judge.judge([
        "Scheduling reports is great but the PDF export cuts off wide tables, so we still rebuild them in Excel",
        "how do I change the export folder",
    ])
    assert complaint.intent != "question"
    assert question.intent == "question" and question.intent_confidence > 0.8


def test_one_encoding_per_batch_serves_every_head_and_the_question_form() -> None:
    texts = [t for ex in merged_intents().values() for t in ex]

    class Counting(Bm25Encoder):
        calls: list[int] = []

        def encode(self, batch):  # type: ignore[no-untyped-def]
            self.calls.append(len(batch))
            return super().encode(batch)

    encoder = Counting(texts)
    judge = Judge.from_config(Config(directory="/x"), encoder=encoder)
    encoder.calls.clear()
    out = judge.judge(["How do I export?", "The export is broken", "Please add dark mode"])
    assert encoder.calls == [3] and len(out) == 3  # one encode call for the batch: area, intent and KB share it
