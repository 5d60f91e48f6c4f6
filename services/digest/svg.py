"""A small SVG writer for the digest's chart: horizontal bars of ARR affected per theme. Server-side, no
script, no `style` attribute (the inbox's CSP allows neither inline); colours are presentation attributes and
classes. Every piece of text is escaped: theme labels come from customers' words."""

from __future__ import annotations

from html import escape
from typing import Sequence

WIDTH = 640
LABEL_W = 230
VALUE_W = 80
BAR_H = 22
GAP = 8
TOP = 34
LABEL_CHARS = 34
FILL = "#3b6ea8"


def text(value: str) -> str:
    """Text content and attribute values: &, <, >, both quotes; control characters XML 1.0 forbids dropped."""
    clean = "".join(c for c in value if c in "\t\n\r" or ord(c) >= 0x20)
    return escape(clean, quote=True)


def money(value: float) -> str:
    if value >= 1_000_000:
        return f"${value / 1_000_000:.1f}M"
    if value >= 1_000:
        return f"${value / 1_000:.0f}k"
    return f"${value:.0f}"


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def bar_chart(rows: Sequence[tuple[str, float]], title: str) -> str:
    """An SVG document: one bar per (label, value), longest = the largest value; values shown as money."""
    height = TOP + max(1, len(rows)) * (BAR_H + GAP) + GAP
    biggest = max((v for _, v in rows), default=0.0) or 1.0
    span = WIDTH - LABEL_W - VALUE_W
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="sb-chart" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{text(title)}">',
           f"<title>{text(title)}</title>",
           f'<text class="sb-chart-title" x="0" y="18" font-size="14" font-weight="bold">{text(title)}</text>']
    if not rows:
        out.append(f'<text class="sb-chart-empty" x="0" y="{TOP + BAR_H - 6}" font-size="12">No themes in this period.</text>')
    for n, (label, value) in enumerate(rows):
        y = TOP + n * (BAR_H + GAP)
        w = max(1.0, span * max(0.0, value) / biggest)
        out.append(
            f'<g class="sb-bar"><title>{text(label)}: {text(money(value))}</title>'
            f'<text class="sb-bar-label" x="0" y="{y + BAR_H - 6}" font-size="12">{text(_short(label))}</text>'
            f'<rect class="sb-bar-fill" x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" fill="{FILL}"/>'
            f'<text class="sb-bar-value" x="{LABEL_W + w + 6:.1f}" y="{y + BAR_H - 6}" font-size="12">{text(money(value))}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)
