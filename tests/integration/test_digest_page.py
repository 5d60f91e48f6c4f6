"""The digest page of the inbox app: `/teams/{team}/digest` with its inline SVG chart, only for the team's
users, every response with the CSP, no inline script or style, and customer text escaped."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from services.common.embedded import EmbeddedNats
from services.common.html import CONTENT_SECURITY_POLICY
from tests.digest_support import fb_item
from tests.inbox_support import InboxServer, bearer

pytestmark = pytest.mark.integration

HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(1)>'


def test_team_digest_page_shows_themes_and_chart_escaped(nats_server: EmbeddedNats) -> None:
    now = datetime.now(UTC)
    items = [fb_item(1, label=HOSTILE, text=HOSTILE, account="a", arr=400_000, now=now),
             fb_item(2, label=HOSTILE, account="b", arr=100_000, now=now),
             fb_item(3, theme="t-sso", label="sso login", account="c", arr=20_000, now=now)]
    with InboxServer(nats_server.url, items) as s:
        c = httpx.Client(base_url=s.url, timeout=10, headers=bearer("DANA"))
        r = c.get("/teams/insights/digest")
        assert r.status_code == 200
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        page = r.text
        assert "<script>alert" not in page and "<img src=x" not in page and "style=" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert page.count('<rect class="sb-bar-fill"') == 2 and "$500k" in page and "sso login" in page
        assert c.get("/teams/insights/digest?since=30d").status_code == 200
        assert c.get("/teams/insights/digest?since=forever").status_code == 422
        assert c.get("/teams/platform/digest").status_code == 403  # not one of Dana's teams
        anonymous = httpx.Client(base_url=s.url, timeout=10).get("/teams/insights/digest")
        assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
