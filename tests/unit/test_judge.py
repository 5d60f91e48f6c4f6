"""The judge over a tiny configuration: BM25 fallback always, the MiniLM model when installed."""

from __future__ import annotations

import concurrent.futures

import numpy as np
import pytest

from services.config.models import AreaConfig, AreasFile, Article, Config, Thresholds
from services.enrich.encoder import Bm25Encoder, ModelUnavailable, load_model
from services.enrich.intents import BUILTIN_INTENTS, merged_intents
from services.enrich.judge import Judge, Judgement, keyword_bias, keyword_pattern
from services.enrich.matcher import Head, fit_logistic

pytestmark = pytest.mark.unit

AREAS = [
    AreaConfig(
        id="billing",
        team="monetization",
        description="Invoices, payments, plans and refunds",
        keywords=["invoice", "refund"],
        examples=["I was charged twice this month", "How do I download last year's invoices?", "payment failed"],
    ),
    AreaConfig(
        id="reporting",
        team="insights",
        description="Dashboards, charts and scheduled reports",
        examples=["The dashboard chart is empty", "Can I schedule a weekly report by email?", "export report to PDF"],
    ),
    AreaConfig(
        id="auth",
        team="identity",
        description="Login, passwords, single sign-on",
        examples=["I cannot log in", "How do I reset my password?", "SAML SSO setup with Okta"],
    ),
]
ARTICLES = [
    Article(id="reset-password", title="Reset your password", questions=["How do I reset my password?", "I forgot my password"]),
    Article(id="invoices", title="Download invoices", questions=["Where are my invoices?", "How do I get a copy of an invoice?"]),
    Article(id="sso", title="Set up single sign-on", questions=["How do I configure SAML SSO?", "Okta login setup"]),
]


def tiny_config(**kw) -> Config:
    return Config(directory="/nonexistent", areas=AreasFile(areas=AREAS), articles=ARTICLES, **kw)


def corpus_of(config: Config) -> list[str]:
    texts = [t for a in AREAS for t in a.examples] + [a.title for a in ARTICLES] + [q for a in ARTICLES for q in a.questions]
    return texts + [t for ex in merged_intents(config.intents).values() for t in ex]


@pytest.fixture(scope="module")
def bm25_judge() -> Judge:
    config = tiny_config()
    return Judge.from_config(config, encoder=Bm25Encoder(corpus_of(config)))


def test_bm25_judge_picks_area_and_article(bm25_judge: Judge) -> None:
    [j] = bm25_judge.judge(["I forgot my password and cannot reset it"])
    assert isinstance(j, Judgement)
    assert j.kb is not None and j.kb.article == "reset-password"
    assert j.kb.title == "Reset your password"
    assert 0.0 <= j.kb.score <= 1.0
    assert j.area.best == "auth"
    assert j.intent in BUILTIN_INTENTS


def test_area_abstains_below_threshold() -> None:
    config = tiny_config(thresholds=Thresholds(area=0.99, kb=0.99))
    judge = Judge.from_config(config, encoder=Bm25Encoder(corpus_of(config)))
    [j] = judge.judge(["zebra giraffe quantum"])
    assert j.area.id == "unknown"
    assert j.area.best in {"billing", "reporting", "auth"}
    assert j.kb is not None and j.kb.article is not None  # best article always reported, route decides
    assert judge.area_threshold() == 0.99 and judge.kb_threshold() == 0.99


def test_keyword_is_a_hard_hint() -> None:
    bias = keyword_bias(["Refund please", "nothing"], [keyword_pattern(["refund"]), None])
    assert bias is not None and bias[0, 0] > 0 and bias[1, 0] == 0
    assert keyword_pattern([]) is None


def test_empty_config_and_empty_batch() -> None:
    judge = Judge.from_config(Config(directory="/x"), encoder=Bm25Encoder(list(BUILTIN_INTENTS["bug"])))
    assert judge.judge([]) == []
    [j] = judge.judge(["The app crashes on upload"])
    assert j.area.id == "unknown" and j.area.best is None
    assert j.kb is None


def test_intents_extend_add_and_remove() -> None:
    merged = merged_intents({"bug": ["kaput"], "pricing": ["too pricey"], "praise": []})
    assert "kaput" in merged["bug"] and len(merged["bug"]) == len(BUILTIN_INTENTS["bug"]) + 1
    assert merged["pricing"] == ["too pricey"]
    assert "praise" not in merged


def test_logistic_head_separates_and_is_deterministic() -> None:
    x = np.eye(4, dtype=np.float32)[[0, 0, 1, 1, 2, 2]]
    head = Head(["a", "b", "c"], x, np.array([0, 0, 1, 1, 2, 2]))
    pred = head.predict(np.eye(4, dtype=np.float32)[[0, 2, 3]])
    assert list(pred.best[:2]) == [0, 2]
    assert pred.confidence[0] > pred.confidence[2]  # an unseen direction is not like any example
    w1, _ = fit_logistic(x, np.array([0, 0, 1, 1, 2, 2]), 3)
    w2, _ = fit_logistic(x, np.array([0, 0, 1, 1, 2, 2]), 3)
    assert np.array_equal(w1, w2)


def test_judge_is_thread_safe(bm25_judge: Judge) -> None:
    texts = ["How do I reset my password?", "charged twice", "dashboard empty"] * 5
    expected = bm25_judge.judge(texts)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: bm25_judge.judge(texts), range(8)))
    assert all(r == expected for r in results)


@pytest.fixture(scope="module")
def model_judge() -> Judge:
    try:
        encoder = load_model()
    except ModelUnavailable as exc:
        pytest.skip(f"MiniLM model not installed: {exc}")
    return Judge.from_config(tiny_config(), encoder=encoder)


def test_minilm_judge(model_judge: Judge) -> None:
    vecs = model_judge.encoder.encode(["hello", "world"])
    assert vecs.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    a, b, c = model_judge.judge(
        ["I can't remember my login password", "Why did you bill me two times?", "Please add a dark mode"]
    )
    assert a.kb is not None and a.kb.article == "reset-password"
    assert a.area.best == "auth"
    assert b.area.best == "billing"
    assert c.intent == "feature_request"
