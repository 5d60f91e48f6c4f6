"""Digest building (pure): ARR over distinct accounts, trends against the period before, team filtering,
answer rate, articles that helped; the SVG chart escapes every text; Markdown and Slack output keep customer
text as text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from schemas.outbox import Feedback
from services.digest import render
from services.digest.build import build_digest
from services.digest.grouping import group_of, text_key
from services.digest.svg import bar_chart
from tests.digest_support import NOW, fb_item

pytestmark = pytest.mark.unit

HOSTILE = '<script>alert(1)</script>&"\'<b>'


def test_arr_counts_each_account_once_and_themes_rank_by_arr_and_count() -> None:
    items = [fb_item(1, account="a", arr=500_000), fb_item(2, account="a", arr=500_000),
             fb_item(3, account="b", arr=100_000)]
    items += [fb_item(10 + n, theme="t-sso", label="sso login", account=f"s{n}", arr=10_000) for n in range(4)]
    d = build_digest(items, [], "7d", None, NOW)
    pdf = next(t for t in d.top_by_arr if t.id == "t-pdf")
    assert (pdf.items, pdf.accounts, pdf.arr, pdf.team) == (3, 2, 600_000, "insights")
    assert [t.id for t in d.top_by_arr] == ["t-pdf", "t-sso"]
    assert [t.id for t in d.top_by_count] == ["t-sso", "t-pdf"]
    assert d.accounts == 6 and d.arr == 640_000 and d.items == 7
    assert [a.id for a in d.top_accounts][:1] == ["a"] and d.top_accounts[0].items == 2


def test_new_and_growing_themes_against_the_period_before() -> None:
    before = timedelta(days=8)
    items = [fb_item(1), fb_item(2, account="b"), fb_item(3, age=before)]  # pdf: 1 -> 2, growing
    items += [fb_item(4, theme="t-new", label="new thing")]  # new
    items += [fb_item(5, theme="t-old", label="old", age=before), fb_item(6, theme="t-old", label="old", age=before),
              fb_item(7, theme="t-old", label="old")]  # 2 -> 1 shrinking
    items += [fb_item(8, age=timedelta(days=20))]  # older than both periods: ignored
    d = build_digest(items, [], "7d", None, NOW)
    assert [t.id for t in d.new_themes] == ["t-new"]
    assert [(t.id, t.previous, t.items) for t in d.growing_themes] == [("t-pdf", 1, 2)]
    assert next(t for t in d.top_by_count if t.id == "t-old").trend == "shrinking"
    assert d.previous_items == 3


def test_team_filter_answer_rate_churn_and_helpful_articles() -> None:
    q = dict(intent="question", text="How do I export to PDF?")
    items = [
        fb_item(1, **q, action="answer", article="kb-pdf"),  # answered, team via area "reporting" -> insights
        fb_item(2, **q, action="answer", article="kb-pdf", answer_rejected=True),  # rejected: not an answer
        fb_item(3, **q),  # routed to insights: no answer
        fb_item(4, intent="churn_risk", text="We will cancel", account="big", arr=900_000),
        fb_item(5, team="platform", theme="t-api", label="api"),  # another team
    ]
    helpful = Feedback(item_id=items[0].id, verdict="helpful", via="link", at=NOW - timedelta(minutes=5))
    d = build_digest(items, [helpful], "7d", "insights", NOW, {"reporting": "insights"})
    assert d.items == 4 and d.questions == 3 and d.answers == 1 and d.answer_rate == pytest.approx(1 / 3)
    assert [c.account for c in d.churn_risk] == ["Account big"] and d.churn_risk[0].arr == 900_000
    assert [(a.article, a.helpful) for a in d.articles_helped] == [("kb-pdf", 1)]
    assert build_digest(items, [], "7d", "platform", NOW).items == 1
    assert build_digest([], [], "7d", None, NOW).answer_rate is None


def test_a_later_copy_of_an_item_replaces_the_first() -> None:
    first = fb_item(1, intent="question", action="answer", article="kb-pdf")
    redecided = first.model_copy(update={"answer_rejected": True, "answer": None})
    d = build_digest([first, redecided], [], "7d", None, NOW)
    assert d.items == 1 and d.answers == 0


def test_items_without_a_theme_group_by_area_and_their_words() -> None:
    a = fb_item(1, theme=None, text="Please add PDF export for the reports")
    b = fb_item(2, theme=None, text="reports: PDF export would be great!")
    c = fb_item(3, theme=None, text="PDF export for reports", area="billing")
    assert group_of(a) == group_of(b) != group_of(c)
    assert text_key("Reports PDF export") == ("export", "pdf", "report")
    d = build_digest([a, b, c], [], "7d", None, NOW)
    assert sorted(t.items for t in d.top_by_count) == [1, 2]


def test_svg_chart_escapes_every_text_and_parses() -> None:
    svg = bar_chart([(HOSTILE, 1200.0), ("ok", 600.0), ("\x00\x1bctl", 0.0)], f"title {HOSTILE}")
    assert "<script>" not in svg and "<b>" not in svg and "style=" not in svg
    root = ET.fromstring(svg)  # well-formed XML
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any(HOSTILE[:20] in t for t in texts)  # the text survives, as text
    rects = list(root.iter("{http://www.w3.org/2000/svg}rect"))
    assert float(rects[0].get("width")) == pytest.approx(2 * float(rects[1].get("width")))
    assert "No themes" in bar_chart([], "empty")


def test_markdown_slack_and_html_keep_customer_text_as_text() -> None:
    items = [fb_item(1, theme="t-x", label=HOSTILE, text=HOSTILE, intent="churn_risk")]
    d = build_digest(items, [], "7d", "insights", NOW)
    md = render.markdown(d)
    assert "<script>" not in md and "\\<script\\>" in md and "# Digest for insights" in md
    text, blocks = render.slack(d)
    assert blocks[0]["type"] == "header" and "<script>" not in str(blocks) and "&lt;script&gt;" in str(blocks)
    html = render.html_document(d)
    assert "<script>" not in html and "&lt;script&gt;" in html and "<svg" in html and "style=" not in html
