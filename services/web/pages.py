"""The inbox's pages: /login, / (teams), /teams/{team} (the queue), /items/{id} (one item and its actions).
Session cookie or Bearer token; every form carries a CSRF token and every POST checks it (Bearer requests
carry no ambient credentials and need none). Rendered only through services.common.html.render."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from services.common.html import render
from services.inbox.service import Forbidden, Inbox, NotFound
from services.inbox.state import STATE_FILTERS, Conflict, Invalid
from services.web.access import CSRF_COOKIE, SESSION_COOKIE, SESSION_MAX_AGE, Access, User
from services.web.api import ACTIONS, MAX_LIMIT, list_query
from services.web.throttle import LoginThrottle
from services.web.views import detail, row

SNOOZE_CHOICES = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "1d": timedelta(days=1),
                  "3d": timedelta(days=3), "1w": timedelta(weeks=1)}
MAX_FORM = 64 * 1024
PAGE_ROWS = 100  # rows per queue page; "Show more" adds as many


class Pages:
    def __init__(self, inbox: Inbox, access: Access, secure_cookies: bool = False, theme_card: Any = None) -> None:
        self.inbox = inbox
        self.theme_card = theme_card  # async (user, entry) -> the item's theme card (services.web.themes), or None
        self.access = access
        self.secure = secure_cookies
        self.throttle = LoginThrottle()

    # plumbing
    def _nonce(self, request: Request) -> tuple[str, bool]:
        nonce = request.cookies.get(CSRF_COOKIE)
        return (nonce, False) if nonce else (self.access.new_nonce(), True)

    def _page(self, request: Request, template: str, status: int = 200, user: User | None = None,
              **context: Any) -> HTMLResponse:
        nonce, fresh = self._nonce(request)
        html = render(template, user=user, csrf=self.access.csrf_token(nonce), **context)
        response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
        if fresh:
            self._set_cookie(response, CSRF_COOKIE, nonce)
        return response

    def _set_cookie(self, response: Response, name: str, value: str) -> None:
        response.set_cookie(name, value, max_age=SESSION_MAX_AGE, httponly=True, samesite="lax",
                            secure=self.secure, path="/")

    def user(self, request: Request) -> User | None:
        return self.access.bearer(request.headers.get("authorization")) or self.access.session_user(
            request.cookies.get(SESSION_COOKIE), request.cookies.get(CSRF_COOKIE))

    async def _form(self, request: Request) -> dict[str, str] | None:
        """The form's fields, or None when its CSRF token does not check out (Bearer requests skip it)."""
        if int(request.headers.get("content-length") or 0) > MAX_FORM:
            return None
        form = await request.form(max_files=0, max_fields=20)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if self.access.bearer(request.headers.get("authorization")) is not None:
            return fields
        if not self.access.csrf_ok(request.cookies.get(CSRF_COOKIE), fields.get("csrf")):
            return None
        return fields

    def _login_redirect(self) -> Response:
        return RedirectResponse("/login", status_code=303)

    def _denied(self, request: Request, user: User, message: str) -> HTMLResponse:
        return self._page(request, "inbox_message.html", 403, user, title="Not your team", message=message)

    # login
    async def login_form(self, request: Request) -> Response:
        return self._page(request, "inbox_login.html", error=None, email="")

    async def login(self, request: Request) -> Response:
        fields = await self._form(request)
        if fields is None:
            return self._page(request, "inbox_login.html", 403, error="The form expired: please try again.",
                              email="")
        email = fields.get("email", "")[:320]
        client = request.client.host if request.client else "?"
        now = time.monotonic()
        wait = self.throttle.retry_after(email, client, now)
        if wait:
            response = self._page(request, "inbox_login.html", 429, email=email,
                                  error=f"Too many failed attempts: try again in {int(wait) + 1} s.")
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        user = self.access.login(email, fields.get("token", ""))
        if user is None:
            self.throttle.failed(email, client, now)
            return self._page(request, "inbox_login.html", 401, email=email,
                              error="That e-mail and token do not match a user in users.yaml.")
        self.throttle.succeeded(email, client)
        nonce = self.access.new_nonce()  # a new CSRF nonce per session: a pre-login token is useless after
        response = RedirectResponse("/", status_code=303)
        self._set_cookie(response, CSRF_COOKIE, nonce)
        self._set_cookie(response, SESSION_COOKIE, self.access.session_cookie(user, nonce))
        return response

    async def logout(self, request: Request) -> Response:
        if await self._form(request) is None:
            return self._page(request, "inbox_message.html", 403, title="Form expired",
                              message="Reload the page and try again.")
        response = self._login_redirect()
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    # pages
    async def home(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return self._login_redirect()
        teams = [{**t, "name": self.inbox.team_name(t["id"])} for t in self.inbox.team_counts(user)]
        template = "inbox_home_teams.html" if request.query_params.get("fragment") else "inbox_home.html"
        return self._page(request, template, user=user, teams=teams, total=len(self.inbox.index))

    async def team(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return self._login_redirect()
        team = request.path_params["team"]
        if not user.sees(team):
            return self._denied(request, user, f"{team} is not one of your teams.")
        params = {k: v for k, v in request.query_params.items() if k in ("state", "sort", "order", "area",
                                                                          "intent", "account", "limit")}
        try:
            q = list_query({**params, "team": team, "limit": params.get("limit") or str(PAGE_ROWS)}, [team])
        except Invalid as exc:
            return self._page(request, "inbox_message.html", 422, user, title="Bad filter", message=str(exc))
        now = datetime.now(UTC)
        rows = [row(e, now) for e in self.inbox.query(user, q, now)]
        fragment = bool(request.query_params.get("fragment"))
        areas, intents = self.inbox.index.facets(team)
        open_, overdue = self.inbox.index.counts(team, now)
        return self._page(
            request, "inbox_team_rows.html" if fragment else "inbox_team.html", user=user, team=team,
            team_name=self.inbox.team_name(team), rows=rows, params=params, areas=areas, intents=intents,
            states=list(STATE_FILTERS), open_count=open_, overdue_count=overdue,
            fragment_url=f"/teams/{team}?" + urlencode({**params, "fragment": "1"}),
            sort=q.sort, order="desc" if q.descending else "asc",
            more_url=f"/teams/{team}?" + urlencode({**params, "limit": q.limit + PAGE_ROWS})
            if len(rows) == q.limit and q.limit + PAGE_ROWS <= MAX_LIMIT else "",
        )

    async def item(self, request: Request, status: int = 200, error: str | None = None) -> Response:
        user = self.user(request)
        if user is None:
            return self._login_redirect()
        try:
            entry = self.inbox.entry(user, request.path_params["item_id"])
        except NotFound:
            return self._page(request, "inbox_message.html", 404, user, title="No such item",
                              message="No item with that id is in any queue.")
        except Forbidden as exc:
            return self._denied(request, user, str(exc))
        now = datetime.now(UTC)
        if request.query_params.get("fragment") == "history":  # the page's live refresh of its history
            return self._page(request, "inbox_item_history.html", user=user, d=detail(entry, now))
        prev_id, next_id = self._neighbours(user, entry, now)
        return self._page(request, "inbox_item.html", status, user, d=detail(entry, now),
                          teams=self.inbox.all_teams(), snooze_choices=list(SNOOZE_CHOICES), error=error,
                          prev_id=prev_id, next_id=next_id,
                          theme=await self.theme_card(user, entry) if self.theme_card else None)

    def _neighbours(self, user: User, entry: Any, now: datetime) -> tuple[str | None, str | None]:
        """The items before and after this one in its team's open queue (oldest first): j/k on the item page."""
        return self.inbox.index.neighbours(entry, STATE_FILTERS["open"], now)

    async def act(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return self._login_redirect()
        fields = await self._form(request)
        if fields is None:
            return await self.item(request, 403, "The form expired: reload the page and try again.")
        action = request.path_params["action"]
        if action not in ACTIONS:
            return await self.item(request, 404, f"No action {action!r}.")
        body = form_body(action, fields, datetime.now(UTC))
        item_id = request.path_params["item_id"]
        try:
            entry = await self.inbox.change(user, item_id, action, body)  # type: ignore[arg-type]
        except NotFound:
            return await self.item(request)
        except Forbidden as exc:
            return self._denied(request, user, str(exc))
        except (Invalid, Conflict) as exc:
            return await self.item(request, 409 if isinstance(exc, Conflict) else 422, str(exc))
        if not user.sees(entry.state.team) and entry.history:  # handed to a team this user does not work
            return RedirectResponse(f"/teams/{entry.history[-1].from_team}", status_code=303)
        return RedirectResponse(f"/items/{item_id}", status_code=303)


def form_body(action: str, fields: dict[str, str], now: datetime) -> dict[str, Any]:
    """A form's fields as the API's JSON body for the same action."""
    if action == "snooze":
        span = SNOOZE_CHOICES.get(fields.get("for", ""))
        return {"until": (now + span).isoformat() if span else fields.get("until")}
    if action == "reassign":
        return {"team": fields.get("team"), "note": fields.get("note") or None}
    if action == "resolve":
        return {"note": fields.get("note") or None, "reply": fields.get("reply") == "on"}
    return {}
