"""All judgement in one place: product area, intent and best KB article for a batch of texts.

`Judge.from_config` encodes every example of the configuration once (areas: examples + description +
keywords; intents: built-ins merged with config.intents; articles: title + `questions:`) and fits one
few-shot head per decision. `judge(texts)` encodes each text ONCE and lets the three heads read the same
vectors. Area abstains (`unknown`) below the calibrated area threshold; the KB match is always the best
article with its calibrated score; the route stage decides whether that clears the answer threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from schemas.item import AreaMatch, Candidate, KbMatch
from services.config.models import AreaConfig, Article, Config, Thresholds
from services.enrich.encoder import Encoder, load_encoder
from services.enrich.intents import merged_intents
from services.enrich.matcher import Head, Prediction, examples_matrix, single_threaded_blas
from services.enrich.question_form import form_bias

UNKNOWN = "unknown"
TOP_CANDIDATES = 3  # kept on the item for the decision audit (`switchboard trace`)
KEYWORD_BONUS = 2.0  # added to an area's logit when one of its keywords occurs in the text
# The intent head's logits are rescaled to this spread (std over its own examples; what the MiniLM head gives
# with the built-in examples), so the question-form hints weigh the same with the BM25 fallback.
INTENT_LOGIT_SCALE = 2.34


@dataclass(frozen=True)
class Judgement:
    area: AreaMatch
    intent: str
    intent_confidence: float
    kb: KbMatch | None


@dataclass(frozen=True)
class Analysis:
    """The raw per-head predictions for a batch (used by judge(), the CLI and the benchmark)."""

    area: Prediction
    intent: Prediction
    kb: Prediction
    vectors: np.ndarray | None = None  # the one encoding of the texts (themes read it: no second model pass)


def area_examples(area: AreaConfig) -> list[str]:
    texts = list(area.examples)
    if area.description:
        texts.append(area.description)
    if area.keywords:
        texts.append(" ".join(area.keywords))
    return texts or [area.id.replace("-", " ").replace("_", " ")]


def article_examples(article: Article) -> list[str]:
    texts = [article.title, *article.questions]
    if not article.questions and article.body.strip():
        texts.append(article.body.strip().split("\n\n", 1)[0][:500])
    return texts


def keyword_pattern(keywords: list[str]) -> re.Pattern[str] | None:
    words = [re.escape(k.strip()) for k in keywords if k.strip()]
    return re.compile(r"\b(?:" + "|".join(words) + r")\b", re.IGNORECASE) if words else None


def keyword_bias(texts: list[str], patterns: list[re.Pattern[str] | None]) -> np.ndarray | None:
    if not any(patterns):
        return None
    bias = np.zeros((len(texts), len(patterns)), dtype=np.float32)
    for j, pattern in enumerate(patterns):
        if pattern is not None:
            for i, text in enumerate(texts):
                if pattern.search(text or ""):
                    bias[i, j] = KEYWORD_BONUS
    return bias


class Judge:
    def __init__(
        self,
        encoder: Encoder,
        areas: list[AreaConfig],
        area_head: Head,
        intent_head: Head,
        articles: list[Article],
        kb_head: Head,
        thresholds: Thresholds,
    ) -> None:
        self.encoder = encoder
        self.areas = areas
        self.area_head = area_head
        self.intent_head = intent_head
        self.articles = articles
        self.kb_head = kb_head
        self.thresholds = thresholds
        self._patterns = [keyword_pattern(a.keywords) for a in areas]

    @classmethod
    def from_config(cls, config: Config, encoder: Encoder | None = None) -> "Judge":
        single_threaded_blas()
        areas = list(config.areas.areas)
        intents = merged_intents(config.intents)
        articles = list(config.articles)
        groups = {
            "area": [area_examples(a) for a in areas],
            "intent": list(intents.values()),
            "kb": [article_examples(a) for a in articles],
        }
        flat = {name: examples_matrix(g) for name, g in groups.items()}
        corpus = [t for texts, _ in flat.values() for t in texts]
        encoder = encoder or load_encoder(corpus)
        vectors = encoder.encode(corpus)  # every example encoded in one call
        heads: dict[str, Head] = {}
        start = 0
        labels = {"area": [a.id for a in areas], "intent": list(intents), "kb": [a.id for a in articles]}
        for name, (texts, owners) in flat.items():
            scale = INTENT_LOGIT_SCALE if name == "intent" else None
            heads[name] = Head(labels[name], vectors[start : start + len(texts)], owners, logit_scale=scale)
            start += len(texts)
        return cls(encoder, areas, heads["area"], heads["intent"], articles, heads["kb"], config.thresholds)

    def area_threshold(self) -> float:
        return float(self.thresholds.area)

    def kb_threshold(self) -> float:
        return float(self.thresholds.kb)

    def analyse(self, texts: list[str]) -> Analysis:
        vectors = self.encoder.encode([t or "" for t in texts])  # one encoding serves all three heads
        return Analysis(
            area=self.area_head.predict(vectors, keyword_bias(texts, self._patterns)),
            intent=self.intent_head.predict(vectors, form_bias(texts, self.intent_head.labels)),
            kb=self.kb_head.predict(vectors),
            vectors=vectors,
        )

    def judge(self, texts: list[str]) -> list[Judgement]:
        if not texts:
            return []
        return self.judgements(self.analyse(texts))

    def judge_with_vectors(self, texts: list[str]) -> tuple[list[Judgement], np.ndarray]:
        """The judgements and the vectors they were made from (one row per text), for theme assignment."""
        analysis = self.analyse(texts)
        assert analysis.vectors is not None
        return self.judgements(analysis), analysis.vectors

    def judgements(self, analysis: Analysis) -> list[Judgement]:
        return [self._judgement(analysis, i) for i in range(len(analysis.intent.best))]

    def _judgement(self, analysis: Analysis, i: int) -> Judgement:
        if len(self.area_head):
            best = self.area_head.labels[int(analysis.area.best[i])]
            confidence = round(float(analysis.area.confidence[i]), 4)
            assigned = best if confidence >= self.area_threshold() else UNKNOWN
            candidates = [Candidate(id=self.area_head.labels[j], score=round(score, 4))
                          for j, score in analysis.area.top_scores(i, TOP_CANDIDATES)]
            area = AreaMatch(id=assigned, confidence=confidence, best=best, candidates=candidates)
        else:
            area = AreaMatch(id=UNKNOWN, confidence=0.0, best=None)
        intent, intent_confidence = "other", 0.0
        if len(self.intent_head):
            best_intent = int(analysis.intent.best[i])
            intent = self.intent_head.labels[best_intent]
            # the head's probability (question form included): `other` is the catch-all label, so the
            # closed-set probability is the right confidence here (the similarity factor is for open sets)
            intent_confidence = round(float(analysis.intent.probs[i, best_intent]), 4)
            if intent_confidence < self.thresholds.intent and "other" in self.intent_head.labels:
                intent = "other"
        kb = None
        if len(self.kb_head):
            article = self.articles[int(analysis.kb.best[i])]
            score = round(float(analysis.kb.confidence[i]), 4)
            candidates = [Candidate(id=self.articles[j].id, score=round(s, 4))
                          for j, s in analysis.kb.top_scores(i, TOP_CANDIDATES)]
            kb = KbMatch(article=article.id, score=score, title=article.title, url=article.url, candidates=candidates)
        return Judgement(area=area, intent=intent, intent_confidence=intent_confidence, kb=kb)
