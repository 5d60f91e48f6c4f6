"""Field paths into an item (`account.arr`, `tags.0`): resolving one in the item JSON, and checking one against
the Item model when a rule is compiled. Pure: no I/O."""

from __future__ import annotations

import difflib
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from schemas.item import Item

MISSING = object()


def resolve(doc: Any, path: str) -> Any:
    """The value at a dotted path, or the missing marker when absent or null."""
    current = doc
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return MISSING if current is None else current


def model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None or get_args(annotation):
        for arg in get_args(annotation):
            model = model_of(arg)
            if model is not None:
                return model
    return None


def check_path(path: str) -> str | None:
    """An error message when `path` cannot name a field of the item, else None (free-form dicts are open)."""
    parts = path.split(".")
    if any(not p for p in parts):
        return f"field path {path!r} has an empty segment"
    model: type[BaseModel] | None = Item
    for depth, part in enumerate(parts):
        if model is None:
            return None
        if part not in model.model_fields:
            known = list(model.model_fields)
            hint = difflib.get_close_matches(part, known, n=1)
            where = "the item" if depth == 0 else f"{'.'.join(parts[:depth])}"
            return f"unknown field {part!r} in {where}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        model = model_of(model.model_fields[part].annotation)
    return None
