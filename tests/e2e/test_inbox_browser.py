"""The PM inbox in a real headless Chromium (Debian's `chromium`, driven by Playwright) against a running
`switchboard up`: log in, see the demo items, claim, reassign, resolve with a note, watch a new webhook's item
appear without a reload, and open a hostile item (script, HTML and attribute-breaking payloads in its text and
its account's name) without any script running. Screenshots of the main pages go to docs/img/ with SWITCHBOARD_SCREENSHOTS=1."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import Running

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# `SWITCHBOARD_SCREENSHOTS=1 make test-e2e` refreshes docs/img/; otherwise they go to a temporary folder, so a
# plain `make test` leaves the working tree clean.
IMG = ROOT / "docs" / "img" if os.environ.get("SWITCHBOARD_SCREENSHOTS") else Path(tempfile.mkdtemp(prefix="sb-shots-"))
OPS = ("ops@example.com", "demo-ops-token")
HOSTILE = ("<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=1\">"
           "\"><svg onload=window.__pwned=1>' onmouseover='window.__pwned=1")


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("needs Debian's chromium package: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def native(text: str, email: str, title: str | None = None) -> bytes:
    data = {"text": text, "email": email}
    if title:
        data["title"] = title
    return json.dumps({"type": "feedback.created", "timestamp": "2026-03-02T10:00:00Z", "data": data}).encode()


def landed(sb: Running, item_id: str, timeout: float = 45.0) -> dict[str, Any]:
    """The item as the inbox API shows it, once it is in a queue."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{sb.web_url}/api/items/{item_id}", headers={"Authorization": f"Bearer {OPS[1]}"}, timeout=5)
        if r.status_code == 200:
            return r.json()
        time.sleep(0.2)
    raise AssertionError(f"item {item_id} never reached the inbox")


def post_item(sb: Running, text: str, email: str = "revops@starkmfg.com", title: str | None = None) -> str:
    r = sb.post("native", native(text, email, title), f"msg_{uuid.uuid4().hex}")
    assert r.status_code == 202, r.text
    return r.json()["ids"][0]


def test_pm_works_the_queue_in_a_real_browser(switchboard: Running, browser: Any, tmp_path: Path) -> None:
    sb = switchboard
    # a hostile account (via the import command) and a hostile item from it
    csv = tmp_path / "accounts.csv"
    name = HOSTILE.replace('"', '""')
    csv.write_text(f'account_id,name,domain,arr,plan,owner\nacc_evil,"{name}",evil-corp.example,150000,enterprise,o@evil-corp.example\n')
    imported = sb.cli("accounts", "import", str(csv))
    assert imported.returncode == 0, imported.stderr
    demo = sb.cli("demo", "--url", sb.url)
    assert demo.returncode == 0, demo.stderr
    ids = [post_item(sb, f"The Salesforce integration stopped syncing this morning ({n}). It is broken.",
                     title=f"Sync broken #{n}") for n in range(3)]
    hostile_id = post_item(sb, f"{HOSTILE} The export is broken.", email="pm@evil-corp.example", title=HOSTILE)
    items = [landed(sb, i) for i in ids]
    team = items[0]["state"]["team"]
    hostile = landed(sb, hostile_id)
    assert hostile["account"]["name"] == HOSTILE

    page = browser.new_page(viewport={"width": 1280, "height": 860})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # log in (a wrong token first: refused, no session)
    page.goto(sb.web_url + "/")
    assert page.url.endswith("/login")
    page.screenshot(path=str(IMG / "inbox-login.png"))
    page.fill("input[name=email]", OPS[0])
    page.fill("input[name=token]", "wrong")
    page.click("button[type=submit]")
    assert "do not match" in page.inner_text(".error")
    page.fill("input[name=email]", OPS[0])
    page.fill("input[name=token]", OPS[1])
    page.click("button[type=submit]")
    page.wait_for_url(sb.web_url + "/")
    assert page.locator(f"tr[data-href='/teams/{team}']").count() == 1
    page.screenshot(path=str(IMG / "inbox-teams.png"))

    # the team's queue lists the items; a new webhook's item appears without a reload
    page.goto(f"{sb.web_url}/teams/{team}")
    for i in ids:
        page.wait_for_selector(f"tr[data-id='{i}']")
    page.evaluate("window.__noReload = 1")
    live_id = post_item(sb, "Salesforce sync is broken again since the update, nothing syncs.", title="Arrived live")
    assert landed(sb, live_id)["state"]["team"] == team
    page.wait_for_selector(f"tr[data-id='{live_id}']", timeout=20_000)
    assert page.evaluate("window.__noReload") == 1
    page.screenshot(path=str(IMG / "inbox-queue.png"), full_page=True)

    # claim one from the keyboard: j selects the first row, j the next, k back, o opens it, c claims
    first = page.get_attribute("tbody tr[data-id]", "data-id")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert page.get_attribute("tr.selected", "data-id") == first
    page.keyboard.press("o")
    page.wait_for_url(f"**/items/{first}")
    page.keyboard.press("j")  # the item page: j is the next item of the queue
    page.wait_for_url(lambda url: not url.endswith(first))
    page.goto(f"{sb.web_url}/items/{ids[0]}")
    page.keyboard.press("c")
    page.wait_for_selector(".item-head .status.claimed")
    assert "claimed by ops@example.com" in page.inner_text(".item-head")

    # reassign one to platform
    page.goto(f"{sb.web_url}/items/{ids[1]}")
    page.select_option("#reassign-form select[name=team]", "platform")
    page.fill("#reassign-form input[name=note]", "Platform owns the connector")
    page.click("#reassign-form button[type=submit]")
    page.wait_for_selector("#back")
    assert page.inner_text("#back") == "platform"
    assert "Platform owns the connector" in page.inner_text("#history")

    # resolve one with a note and a reply to the asker
    page.goto(f"{sb.web_url}/items/{ids[2]}")
    page.fill("#resolve-note", "Fixed in 4.2: re-authorise the connector.")
    page.check("#resolve-form input[name=reply]")
    page.click("#resolve-form button[type=submit]")
    page.wait_for_selector(".item-head .status.resolved")
    assert "Fixed in 4.2" in page.inner_text("#history") and "replied to the asker" in page.inner_text("#history")
    page.screenshot(path=str(IMG / "inbox-item.png"), full_page=True)
    # another PM's change shows up in the open page's history without a reload
    assert httpx.post(f"{sb.web_url}/api/items/{ids[2]}/reopen",
                      headers={"Authorization": f"Bearer {OPS[1]}"}).status_code == 200
    page.locator("#history", has_text="reopen").wait_for(timeout=20_000)
    assert httpx.post(f"{sb.web_url}/api/items/{ids[2]}/resolve", json={"note": "Fixed in 4.2"},
                      headers={"Authorization": f"Bearer {OPS[1]}"}).status_code == 200
    states = {i: landed(sb, i)["state"] for i in ids}
    assert states[ids[0]]["status"] == "claimed" and states[ids[1]]["team"] == "platform"
    assert states[ids[2]]["status"] == "resolved"

    # the hostile item: shown as text, no script ran, no dialog
    page.goto(f"{sb.web_url}/items/{hostile_id}")
    page.wait_for_selector("#account-name")
    assert page.inner_text("#account-name") == HOSTILE
    assert page.inner_text(".text").strip() == hostile["text"].strip()  # ingest keeps text only; shown as text
    assert "<script>window.__pwned=1</script>" in page.text_content(".payload")  # the raw payload, escaped
    assert page.inner_text(".item-head h1") == (hostile["title"] or "").strip()
    page.hover("#account-name")
    # escaping alone (not only the CSP) keeps the markup inert: no element was injected into the page
    assert page.locator("script:not([src]), img, svg, [onerror], [onload], [onmouseover]").count() == 0
    page.goto(f"{sb.web_url}/teams/{hostile['state']['team']}")
    page.wait_for_selector(f"tr[data-id='{hostile_id}']")
    page.hover(f"tr[data-id='{hostile_id}']")
    assert page.locator("script:not([src]), img, svg, [onerror], [onload], [onmouseover]").count() == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []
