"""KB gaps (pure): which questions are gaps, their grouping (theme id when present), counts, accounts and ARR,
suggested titles and unique slugs; drafts never overwrite an existing file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from services.digest.gaps import find_gaps, is_gap, slugify, suggest_title, write_drafts
from tests.digest_support import NOW, fb_item

pytestmark = pytest.mark.unit

START = NOW - timedelta(days=30)


def q(n: int, text: str, **kw) -> object:  # type: ignore[no-untyped-def]
    return fb_item(n, text=text, intent="question", **kw)


def test_unanswered_and_rejected_questions_are_gaps_answers_and_feedback_are_not() -> None:
    assert is_gap(q(1, "How do I export reports to PDF?"))
    assert is_gap(q(2, "x", action="answer", article="kb", answer_rejected=True))
    assert not is_gap(q(3, "x", action="answer", article="kb"))
    assert not is_gap(fb_item(4, intent="feature_request"))


def test_gaps_group_by_theme_with_accounts_arr_titles_and_slugs() -> None:
    items = [q(1, "How do I export reports to PDF?", account="a", arr=200_000),
             q(2, "Can I export my reports as PDF files?", account="a", arr=200_000),
             q(3, "Export reports to PDF possible?", account="b", arr=50_000, action="answer", article="kb-csv",
               answer_rejected=True),
             q(4, "Where do I rotate my API keys?", theme="t-keys", label="api keys", account="c", arr=10_000),
             q(5, "How do I export reports to PDF?", age=timedelta(days=40)),  # before the period
             q(6, "answered fine", action="answer", article="kb-ok")]
    gaps = find_gaps(items, START, NOW)
    assert [(g.id, g.questions, g.rejected, g.accounts, g.arr) for g in gaps] == [
        ("t-pdf", 3, 1, 2, 250_000.0), ("t-keys", 1, 0, 1, 10_000.0)]
    assert gaps[0].title == "How do I export report pdf?"
    assert gaps[0].slug == "how-do-i-export-report-pdf" and "kb-near" in gaps[0].best_articles
    assert len(gaps[0].item_ids) == 3 and gaps[0].examples[0].startswith("How do I export")


def test_slugs_are_safe_and_unique_within_a_run() -> None:
    assert slugify("How do I ../../etc/passwd?") == "how-do-i-etc-passwd"
    assert slugify("???") == "gap" and len(slugify("word " * 40)) <= 60
    same = [q(1, "billing invoice", theme="t1"), q(2, "billing invoice", theme="t2")]
    assert sorted(g.slug for g in find_gaps(same, START, NOW)) == ["how-do-i-billing-invoice",
                                                                   "how-do-i-billing-invoice-2"]
    assert suggest_title([]) == "Untitled question"


def test_drafts_list_the_real_questions_and_never_overwrite(tmp_path: Path) -> None:
    gaps = find_gaps([q(1, "How do I export reports to PDF?"), q(2, 'PDF "export": reports?\n---\nx: y')], START, NOW)
    first = write_drafts(gaps, tmp_path)
    path = tmp_path / "kb" / f"{gaps[0].slug}.md"
    assert first == [(path, True)]
    text = path.read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text[4:text.index("\n---\n")])
    assert front["title"] == gaps[0].title and front["area"] == "reporting"
    assert sorted(front["questions"]) == sorted(['PDF "export": reports? --- x: y', "How do I export reports to PDF?"])
    assert "TODO" in text
    path.write_text("edited by a writer")
    assert write_drafts(gaps, tmp_path) == [(path, False)] and path.read_text() == "edited by a writer"


def test_a_single_short_question_is_its_own_title_and_words_are_normalised() -> None:
    assert suggest_title(["Where can I download our  invoices?"]) == "Where can I download our invoices?"
    assert suggest_title(["Where can I download invoices?", "invoices download where"]) == "How do I download invoice?"
    from services.digest.grouping import content_words

    assert content_words("The customer's opportunities and policies") == ["customer", "opportunity", "policy"]
