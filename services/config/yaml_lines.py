"""YAML with lines: parse keeping each node's line, and map pydantic validation errors back to file:line problems."""

from __future__ import annotations

import difflib
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from services.config.reading import ProblemCollector
from services.route.field_paths import model_of

LineMap = dict[tuple[Any, ...], int]


def parse_yaml(text: str, name: str, out: ProblemCollector, first_line: int = 1) -> tuple[Any, LineMap] | None:
    """Parse YAML keeping each node's line: (data, {path tuple: line}); None (and a problem) on bad syntax."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + first_line if mark is not None else None
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p) or str(exc)
        out.add(name, line, f"YAML syntax error: {message}")
        return None
    except yaml.YAMLError as exc:
        out.add(name, first_line, f"YAML error: {exc}")
        return None
    lines: LineMap = {}
    if node is not None:
        _walk(node, (), lines, name, out, first_line)
    return data, lines


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: LineMap, name: str, out: ProblemCollector, base: int) -> None:
    lines.setdefault(path, node.start_mark.line + base)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if key in seen:
                out.add(name, key_node.start_mark.line + base, f"duplicate key {key!r}")
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + base
            _walk(value_node, path + (key,), lines, name, out, base)
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            _walk(child, path + (i,), lines, name, out, base)


def line_of(lines: LineMap, loc: tuple[Any, ...]) -> int | None:
    """The line of the longest prefix of `loc` that the YAML had (pydantic locs may name missing keys)."""
    loc = tuple(str(p) if not isinstance(p, int) else p for p in loc)
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _loc_text(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def validation_problems(exc: ValidationError, model: type[BaseModel], lines: LineMap, name: str,
                         out: ProblemCollector, prefix: tuple[Any, ...] = ()) -> None:
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(err["loc"])
        where = _loc_text(loc)
        if err["type"] == "extra_forbidden":
            field = str(loc[-1])
            message = f"unknown field {field!r}"
            parent = _model_at(model, err["loc"][:-1])
            if parent is not None:
                hint = difflib.get_close_matches(field, list(parent.model_fields), n=1)
                message += f" (did you mean {hint[0]!r}?)" if hint else f"; known: {', '.join(parent.model_fields)}"
        elif err["type"] == "missing":
            message = f"missing required field {str(loc[-1])!r}"
            where = _loc_text(loc[:-1])
        else:
            message = err["msg"].removeprefix("Value error, ")
        out.add(name, line_of(lines, loc), f"{where}: {message}" if where else message)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model a loc points into (for 'did you mean' hints), or None."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        current = model_of(field.annotation) if field else None
    return current
