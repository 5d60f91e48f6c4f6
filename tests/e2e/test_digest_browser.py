"""The digest page in a real headless Chromium against `switchboard up`: hostile webhook text becomes a theme's
example and the chart's label, no script runs, the CSP reports nothing, and the SVG chart draws its bars."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Running
from tests.e2e.test_inbox_browser import HOSTILE, IMG, OPS, browser, landed, post_item  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e


def test_digest_page_in_a_browser(switchboard: Running, browser: Any) -> None:  # noqa: F811
    sb = switchboard
    first = post_item(sb, f"The Salesforce sync is broken again {HOSTILE}", title=f"Salesforce sync {HOSTILE}")
    post_item(sb, "Salesforce sync stopped, nothing updates", email="ops@globex.com", title="Salesforce sync broken")
    team = landed(sb, first)["state"]["team"]
    page = browser.new_page(extra_http_headers={"Authorization": f"Bearer {OPS[1]}"})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    response = page.goto(f"{sb.web_url}/teams/{team}/digest?since=1d")
    assert response is not None and response.status == 200
    page.wait_for_selector("svg.sb-chart rect.sb-bar-fill")
    widths = page.eval_on_selector_all("svg.sb-chart rect.sb-bar-fill", "els => els.map(e => e.getBBox().width)")
    assert widths and all(w > 0 for w in widths)
    assert page.evaluate("window.__pwned") is None
    assert "<script>window.__pwned=1</script>" in page.inner_text("section.digest")  # shown as text
    assert not [p for p in problems if "Content Security Policy" in p or "pwned" in p], problems
    page.screenshot(path=str(IMG / "digest.png"), full_page=True)
    page.close()
