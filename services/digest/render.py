"""A digest as text for people: Markdown (terminal, Slack-style), Slack's `{"text", "blocks"}`, and HTML through
services.common.html.render with the server-side SVG chart. Pure."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from schemas.digest import Digest, ThemeStat
from services.common.html import render
from services.digest.svg import bar_chart, money

CHART_BARS = 8
SLACK_SECTION_CHARS = 2900  # Slack allows 3000 characters per section text


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.0%}"


def title(d: Digest) -> str:
    return f"Digest for {d.team or 'all teams'}, last {d.since}"


def chart(d: Digest) -> str:
    """The SVG: ARR affected per theme (the top themes by ARR). Labels are escaped by the writer."""
    return bar_chart([(t.label, t.arr) for t in d.top_by_arr[:CHART_BARS]], "ARR affected per theme")


def _md_escape(text: str) -> str:
    """Markdown: backslash the characters that would format or link, so customer text stays text."""
    return "".join("\\" + c if c in "\\`*_[]<>#|" else c for c in " ".join(text.split()))


def _slack_escape(text: str) -> str:
    return " ".join(text.split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _lines(d: Digest, esc: Any, bold: str) -> list[tuple[str, list[str]]]:
    def b(s: str) -> str:
        return f"{bold}{s}{bold}"

    def theme(t: ThemeStat, quote: bool = False) -> str:
        change = "new" if t.trend == "new" else f"{t.previous} → {t.items}"
        line = (f"• {b(esc(t.label))} ({esc(t.area or 'no area')}): {t.items} items, {t.accounts} accounts, "
                f"{money(t.arr)} ARR ({change})")
        return line + (f"\n   “{esc(t.examples[0][:160])}”" if quote and t.examples else "")

    sections = [
        ("Top themes by ARR affected", [theme(t, quote=True) for t in d.top_by_arr[:5]]),
        ("Top themes by count", [theme(t) for t in d.top_by_count[:5]]),
        ("New themes", [theme(t) for t in d.new_themes[:5]]),
        ("Growing themes", [theme(t) for t in d.growing_themes[:5]]),
        ("Top accounts", [f"• {b(esc(a.name or a.id))}: {money(a.arr)} ARR, {a.items} items, {a.themes} themes"
                          for a in d.top_accounts[:5]]),
        ("Churn risk", [f"• {b(esc(c.account or 'unknown account'))}"
                        + (f" ({money(c.arr)})" if c.arr else "") + f": {esc(c.text)}" for c in d.churn_risk[:5]]),
        ("Articles that helped", [f"• {esc(a.title or a.article)}: {a.helpful} helpful"
                                  + (f", {a.not_helpful} not" if a.not_helpful else "") for a in d.articles_helped[:5]]),
    ]
    return sections


def summary(d: Digest) -> str:
    return (f"{d.items} items ({d.previous_items} the period before), {d.accounts} accounts, {money(d.arr)} ARR; "
            f"answer rate {percent(d.answer_rate)} ({d.answers} of {d.questions} questions)")


def markdown(d: Digest) -> str:
    out = [f"# {title(d)}", "", f"{d.start:%Y-%m-%d %H:%M} – {d.end:%Y-%m-%d %H:%M} UTC", "", summary(d)]
    for heading, lines in _lines(d, _md_escape, "**"):
        out += ["", f"## {heading}", ""] + ([ln.replace("• ", "- ", 1) for ln in lines] or ["_None._"])
    return "\n".join(out) + "\n"


def slack(d: Digest) -> tuple[str, list[dict[str, Any]]]:
    """Slack incoming webhook body parts: the fallback `text` and mrkdwn `blocks` (customer text escaped)."""
    text = f"{title(d)}: {summary(d)}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(d)[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(summary(d))}},
    ]
    for heading, lines in _lines(d, _slack_escape, "*"):
        if lines:
            body = f"*{heading}*\n" + "\n".join(lines)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body[:SLACK_SECTION_CHARS]}})
    return text, blocks


def html_context(d: Digest) -> dict[str, Any]:
    """What digest_body.html needs: the digest, its chart (markup from the escaping SVG writer), formatters."""
    return {"d": d, "chart": Markup(chart(d)), "money": money, "percent": percent}


def html_document(d: Digest) -> str:
    return render("digest.html", **html_context(d))
