"""OpenAPI 3.1 of the inbox API (`GET /api/openapi.json`): paths written here, schemas generated from the
pydantic models in `schemas/`, so the document cannot drift from what the API sends."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic.json_schema import models_json_schema

from schemas.inbox import ActivityEvent
from schemas.item import Item

REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


STATE = {
    "type": "object",
    "required": ["status", "team", "assignee", "sla_due", "overdue", "updated_at", "version"],
    "properties": {
        "status": {"type": "string", "enum": ["open", "claimed", "snoozed", "resolved"]},
        "team": {"type": "string"},
        "assignee": {"type": ["string", "null"], "description": "e-mail of the PM who claimed it"},
        "sla_due": {"type": "string", "format": "date-time"},
        "overdue": {"type": "boolean"},
        "updated_at": {"type": "string", "format": "date-time"},
        "version": {"type": "integer", "minimum": 0, "description": "number of changes so far"},
    },
}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


def _resp(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


ERRORS = {
    "401": _resp("no or bad token", _ref("Error")),
    "403": _resp("not one of the user's teams", _ref("Error")),
    "404": _resp("no such item", _ref("Error")),
    "422": _resp("bad input", _ref("Error")),
}
ITEM_ID = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _action(summary: str, body: dict[str, Any] | None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [ITEM_ID],
        "responses": {"200": _resp("the item after the change, with state and history", _ref("ItemWithHistory")),
                      "409": _resp("conflicting change (already claimed, already resolved, changed meanwhile)",
                                   _ref("Error")),
                      **ERRORS},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _extend(base: dict[str, Any], title: str, **properties: Any) -> dict[str, Any]:
    return {**base, "title": title, "properties": {**base["properties"], **properties},
            "required": [*base.get("required", []), *properties]}


@lru_cache(maxsize=1)
def openapi() -> dict[str, Any]:
    _, defs = models_json_schema([(Item, "serialization"), (ActivityEvent, "serialization")], ref_template=REF)
    schemas: dict[str, Any] = dict(defs["$defs"])
    schemas["State"] = STATE
    schemas["Error"] = ERROR
    # the Item model forbids extra properties, so the API's item is the Item schema with `state` (and `history`)
    schemas["ItemWithState"] = _extend(schemas["Item"], "ItemWithState", state=_ref("State"))
    schemas["ItemWithHistory"] = _extend(schemas["Item"], "ItemWithHistory", state=_ref("State"),
                                         history={"type": "array", "items": _ref("ActivityEvent")})
    note = {"type": ["string", "null"], "maxLength": 10000}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchboard PM inbox", "version": "1.0.0",
                 "description": "Contract 6: a team's queue, item state (claim, snooze, reassign, resolve, "
                                "reopen) and history. Authorization: Bearer TOKEN (users.yaml)."},
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/api/teams": {"get": {
                "summary": "The user's teams with open and overdue counts",
                "responses": {"200": _resp("teams", {"type": "array", "items": {
                    "type": "object", "required": ["id", "open", "overdue"],
                    "properties": {"id": {"type": "string"}, "open": {"type": "integer"},
                                   "overdue": {"type": "integer"}}}}),
                    "401": ERRORS["401"]}}},
            "/api/items": {"get": {
                "summary": "A team's queue (all the user's teams when team is omitted)",
                "parameters": [
                    _query("team", {"type": "string"}, "team id"),
                    _query("state", {"type": "string", "enum": ["open", "claimed", "snoozed", "resolved", "all"]},
                           "open (default) lists open and claimed items"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "default 100"),
                    _query("sort", {"type": "string", "enum": ["age", "arr", "priority"]}, "default age"),
                    _query("order", {"type": "string", "enum": ["asc", "desc"]}, "default asc (arr: desc)"),
                    _query("area", {"type": "string"}, "area id"),
                    _query("intent", {"type": "string"}, "intent"),
                    _query("account", {"type": "string"}, "part of the account's name or id"),
                ],
                "responses": {"200": _resp("items", {"type": "object", "required": ["items"], "properties": {
                    "items": {"type": "array", "items": _ref("ItemWithState")}}}),
                    "401": ERRORS["401"], "403": ERRORS["403"], "422": ERRORS["422"]}}},
            "/api/items/{item_id}": {"get": {
                "summary": "One item with its state and history", "parameters": [ITEM_ID],
                "responses": {"200": _resp("the item", _ref("ItemWithHistory")),
                              "401": ERRORS["401"], "403": ERRORS["403"], "404": ERRORS["404"]}}},
            "/api/items/{item_id}/claim": {"post": _action("Claim the item (409 when already claimed)", None)},
            "/api/items/{item_id}/snooze": {"post": _action("Snooze until a time; it reopens by itself then", {
                "type": "object", "required": ["until"],
                "properties": {"until": {"type": "string", "format": "date-time"}}})},
            "/api/items/{item_id}/reassign": {"post": _action("Hand the item to another team", {
                "type": "object", "required": ["team"],
                "properties": {"team": {"type": "string"}, "note": note}})},
            "/api/items/{item_id}/resolve": {"post": _action(
                "Resolve; reply: true sends the note back to the asker (contract 5)", {
                    "type": "object", "properties": {"note": note, "reply": {"type": "boolean"}}})},
            "/api/items/{item_id}/reopen": {"post": _action("Reopen a claimed, snoozed or resolved item", None)},
            "/api/version": {"get": {
                "summary": "A counter that changes whenever anything in the inbox changes (for live pages)",
                "responses": {"200": _resp("version", {"type": "object", "required": ["version"],
                                                       "properties": {"version": {"type": "integer"}}}),
                              "401": ERRORS["401"]}}},
        },
    }
