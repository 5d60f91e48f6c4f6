"""The inbox pages over HTTP: login sets a signed HttpOnly SameSite=Lax session, every POST needs the form's CSRF
token (and only works with the session it was issued to), failed logins are rate-limited, pages accept the
Bearer token, every response carries the CSP, and hostile text comes back escaped."""

from __future__ import annotations

import re

import httpx
import pytest

from services.common.embedded import EmbeddedNats
from services.common.html import CONTENT_SECURITY_POLICY
from tests.inbox_support import TOKENS, InboxServer, bearer, queued_item

pytestmark = pytest.mark.integration

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def login(c: httpx.Client, email: str, token: str) -> httpx.Response:
    form = c.get("/login")
    return c.post("/login", data={"email": email, "token": token, "csrf": CSRF.search(form.text).group(1)})


def test_login_session_csrf_and_throttle(nats_server: EmbeddedNats) -> None:
    item = queued_item(1)
    with InboxServer(nats_server.url, [item]) as s:
        c = httpx.Client(base_url=s.url, timeout=10)
        assert c.get("/").status_code == 303 and c.get("/").headers["location"] == "/login"
        page = c.get("/login")
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "<script>" not in page.text and "style=" not in page.text  # no inline script or style
        # no CSRF token: refused before the credentials are even looked at
        assert c.post("/login", data={"email": "dana@example.com", "token": TOKENS["DANA"]}).status_code == 403
        ok = login(c, "dana@example.com", TOKENS["DANA"])
        assert ok.status_code == 303 and ok.headers["location"] == "/"
        cookie = next(h for h in ok.headers.get_list("set-cookie") if h.startswith("sb_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert c.get("/").status_code == 200 and "strategic-pm" in c.get("/").text

        item_page = c.get(f"/items/{item.id}")
        token = CSRF.search(item_page.text).group(1)
        assert c.post(f"/items/{item.id}/claim", data={}).status_code == 403  # no token
        assert c.post(f"/items/{item.id}/claim", data={"csrf": "0" * 64}).status_code == 403  # wrong token
        other = httpx.Client(base_url=s.url, timeout=10)
        login(other, "ops@example.com", TOKENS["OPS"])
        assert other.post(f"/items/{item.id}/claim", data={"csrf": token}).status_code == 403  # not its session's
        done = c.post(f"/items/{item.id}/claim", data={"csrf": token})
        assert done.status_code == 303
        assert c.get(f"/api/items/{item.id}").json()["state"]["assignee"] == "dana@example.com"  # GET API: session ok
        assert c.post(f"/api/items/{item.id}/reopen").status_code == 401  # API POSTs need the Bearer token
        again = c.post(f"/items/{item.id}/claim", data={"csrf": token})
        assert again.status_code == 409 and "already claimed" in again.text
        logout = c.post("/logout", data={"csrf": token})
        assert logout.status_code == 303 and c.get("/").status_code == 303

        # rate limit: 5 failures per e-mail and client, then 429 with Retry-After, even for the right token
        t = httpx.Client(base_url=s.url, timeout=10)
        for _ in range(5):
            assert login(t, "priya@example.com", "wrong").status_code == 401
        blocked = login(t, "priya@example.com", TOKENS["PRIYA"])
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
        assert login(t, "ops@example.com", TOKENS["OPS"]).status_code == 303  # another e-mail is not blocked


def test_pages_take_bearer_tokens_and_escape_hostile_text(nats_server: EmbeddedNats) -> None:
    hostile = '<script>alert(1)</script><img src=x onerror=alert(1)>"\'><b>'
    item = queued_item(1, text=hostile, account=hostile)
    other = queued_item(2)
    with InboxServer(nats_server.url, [item, other]) as s:
        c = httpx.Client(base_url=s.url, timeout=10, headers=bearer("DANA"))
        for path in ("/", "/teams/strategic-pm", f"/items/{item.id}", "/teams/strategic-pm?fragment=1"):
            r = c.get(path)
            assert r.status_code == 200, path
            assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert "<script>alert" not in r.text and "<img src=x" not in r.text and "<b>" not in r.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c.get(f"/items/{item.id}").text
        assert c.get("/teams/platform").status_code == 403
        assert c.get("/items/nope").status_code == 404
        assert c.get("/teams/strategic-pm", params={"sort": "bogus"}).status_code == 422
        # a Bearer form post needs no CSRF token (no ambient credentials)
        assert c.post(f"/items/{item.id}/resolve", data={"note": "done"}).status_code == 303
        assert c.get(f"/api/items/{item.id}").json()["state"]["status"] == "resolved"
        # handing an item to a team Dana does not work takes her back to the queue it left
        moved = c.post(f"/items/{other.id}/reassign", data={"team": "platform", "note": "yours"})
        assert moved.status_code == 303 and moved.headers["location"] == "/teams/strategic-pm"
