"""Contract 6's JSON API: `Authorization: Bearer TOKEN` (GETs also take the page's session cookie).
401 no or bad token · 403 not the user's team · 404 unknown item · 409 conflicting change · 422 bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, get_args

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from schemas.inbox import ActionName
from services.inbox.index import SORTS, Query
from services.inbox.service import Forbidden, Inbox, NotFound, item_json
from services.inbox.state import STATE_FILTERS, Conflict, Invalid
from services.web.access import Access, User
from services.web.openapi import openapi

ACTIONS: tuple[str, ...] = get_args(ActionName)
MAX_BODY = 64 * 1024
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
_FILTER_MAX = 200
LIST_PARAMS = frozenset({"team", "state", "limit", "sort", "order", "area", "intent", "account"})


class FastJSON(JSONResponse):
    """orjson: a page of 100 items is ~125 kB of JSON."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def unauthorized() -> JSONResponse:
    return error(401, "send Authorization: Bearer <your token> (users.yaml names the variable holding it)",
                 **{"WWW-Authenticate": "Bearer"})


def list_query(params: Any, user_teams: list[str]) -> Query:
    """The query of GET /api/items (and of the team page): raises Invalid on a bad parameter."""
    team = params.get("team")
    state = params.get("state", "open")
    if state not in STATE_FILTERS:
        raise Invalid(f"state must be one of {', '.join(STATE_FILTERS)}")
    limit_text = params.get("limit")
    try:
        limit = int(limit_text) if limit_text is not None else DEFAULT_LIMIT
    except ValueError:
        raise Invalid("limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")
    sort = params.get("sort", "age")
    if sort not in SORTS:
        raise Invalid(f"sort must be one of {', '.join(SORTS)}")
    order = params.get("order", "desc" if sort == "arr" else "asc")
    if order not in ("asc", "desc"):
        raise Invalid("order must be asc or desc")
    filters = {k: (params.get(k) or None) for k in ("area", "intent", "account")}
    if any(v is not None and len(v) > _FILTER_MAX for v in filters.values()):
        raise Invalid(f"filters are at most {_FILTER_MAX} characters")
    teams = (team,) if team else tuple(user_teams)
    return Query(teams=teams, statuses=STATE_FILTERS[state], sort=sort, descending=order == "desc",
                 limit=limit, **filters)


class Api:
    def __init__(self, inbox: Inbox, access: Access) -> None:
        self.inbox = inbox
        self.access = access

    def user(self, request: Request) -> User | None:
        user = self.access.bearer(request.headers.get("authorization"))
        if user is None and request.method == "GET":  # the pages' own polling; POSTs need the token
            user = self.access.session_user(request.cookies.get("sb_session"), request.cookies.get("sb_csrf"))
        return user

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi())

    async def teams(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return unauthorized()
        return JSONResponse(self.inbox.team_counts(user))

    async def items(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return unauthorized()
        now = datetime.now(UTC)
        unknown = set(request.query_params) - LIST_PARAMS
        if unknown:  # a typo (`stat=`) must not silently list something else
            return error(422, f"unknown parameter(s): {', '.join(sorted(unknown))[:200]}")
        try:
            q = list_query(request.query_params, self.inbox.teams_of(user))
            rows = self.inbox.query(user, q, now)
        except Invalid as exc:
            return error(422, str(exc))
        except Forbidden as exc:
            return error(403, str(exc))
        return FastJSON({"items": [item_json(e, now) for e in rows]})

    async def item(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return unauthorized()
        try:
            entry = self.inbox.entry(user, request.path_params["item_id"])
        except NotFound:
            return error(404, "no such item in any queue")
        except Forbidden as exc:
            return error(403, str(exc))
        return JSONResponse(item_json(entry, datetime.now(UTC), history=True))

    async def version(self, request: Request) -> Response:
        """A number that changes whenever any item or state changes: pages poll it to refresh live."""
        if self.user(request) is None:
            return unauthorized()
        return JSONResponse({"version": self.inbox.index.version}, headers={"Cache-Control": "no-store"})

    async def change(self, request: Request) -> Response:
        user = self.access.bearer(request.headers.get("authorization"))
        if user is None:
            return unauthorized()
        action = request.path_params["action"]
        if action not in ACTIONS:
            return error(404, f"no action {action!r}: one of {', '.join(ACTIONS)}")
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return error(422, f"body over {MAX_BODY} bytes")
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            return error(422, "body must be a JSON object")
        if not isinstance(body, dict):
            return error(422, "body must be a JSON object")
        return await self.apply(user, request.path_params["item_id"], action, body)

    async def apply(self, user: User, item_id: str, action: str, body: dict[str, Any]) -> JSONResponse:
        try:
            entry = await self.inbox.change(user, item_id, action, body)  # type: ignore[arg-type]
        except NotFound:
            return error(404, "no such item in any queue")
        except Forbidden as exc:
            return error(403, str(exc))
        except Invalid as exc:
            return error(422, str(exc))
        except Conflict as exc:
            return error(409, str(exc))
        return JSONResponse(item_json(entry, datetime.now(UTC), history=True))
