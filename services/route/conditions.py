"""Rule conditions (the `when:` of rules.yaml): compile once, evaluate per item. Pure: no I/O.

Grammar (contract 3):

    when:                                  # a mapping; every entry must hold (AND)
      intent: bug                          # field path -> scalar: equality
      account.arr: {gte: 100000}           # field path -> operator map; several operators are ANDed
      all: [{...}, {...}]                  # every condition map holds
      any: [{...}, {...}]                  # at least one condition map holds
      not: {...}                           # the condition map does not hold

Field paths are dotted paths into the item JSON (`item.model_dump(mode="json")`), e.g. `account.arr`,
`area.id`, `person.email`, `attributes.plan_tier`; a list element is addressed by its index (`tags.0`). Paths are
resolved and checked against the Item model in services.route.field_paths.
Operators: eq ne in nin gt gte lt lte contains matches exists.

- A missing path (absent or null) matches only `exists: false`, `ne` and `nin`.
- Object shorthand: when the value at the path is an object with an `id` (the item's `area`, `account`) and
  the expected value is a scalar, the object's `id` is compared, so `area: billing` means `area.id: billing`.
  This applies to every operator except `exists` and `contains`.
- `contains`: substring for text (case-insensitive), element for a list, key for an object.
- `matches`: Python regular expression, searched anywhere in the text (`re.search`); prefix `(?i)` to
  ignore case. Non-text values never match.
- `gt gte lt lte`: numbers with numbers, text with text (ISO dates compare correctly); anything else
  does not match.
- A list given as a plain value (`intent: [bug, question]`) is rejected: write `{in: [...]}`.
"""

from __future__ import annotations

import difflib
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Protocol, Union

from services.route.field_paths import MISSING, check_path, resolve

OPERATORS = ("eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "matches", "exists")
COMBINATORS = ("all", "any", "not")
_SYMBOLS = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_COMPARE = {"eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "gte": operator.ge,
            "lt": operator.lt, "lte": operator.le}

Loc = tuple[Union[str, int], ...]
Problem = tuple[Loc, str]  # (path inside `when`, message)


class Condition(Protocol):
    def evaluate(self, doc: dict[str, Any]) -> tuple[bool, str]:
        """(matched, why): `why` explains the outcome with the item's actual values."""

    def describe(self) -> str:
        """The condition as written, for reasons like `not (kind = segment)`."""

    def fields(self) -> set[str]:
        """Every field path this condition reads."""


def fmt(value: Any) -> str:
    """Render a value for a human reason: 250000.0 -> 250000, lists as [a, b]."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict) and "id" in value:
        return fmt(value["id"])
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _ordered(actual: Any, expected: Any) -> bool:
    return (_number(actual) and _number(expected)) or (isinstance(actual, str) and isinstance(expected, str))


@dataclass
class FieldTest:
    """One operator applied to one field path."""

    path: str
    op: str
    expected: Any
    regex: re.Pattern[str] | None = None

    def describe(self) -> str:
        if self.op in _SYMBOLS:
            return f"{self.path} {_SYMBOLS[self.op]} {fmt(self.expected)}"
        if self.op == "in":
            return f"{self.path} in {fmt(self.expected)}"
        if self.op == "nin":
            return f"{self.path} not in {fmt(self.expected)}"
        if self.op == "contains":
            return f"{self.path} contains {self.expected!r}"
        if self.op == "matches":
            return f"{self.path} matches /{self.expected}/"
        return f"{self.path} exists" if self.expected else f"{self.path} is missing"

    def fields(self) -> set[str]:
        return {self.path}

    def evaluate(self, doc: dict[str, Any]) -> tuple[bool, str]:
        raw = resolve(doc, self.path)
        if self.op == "exists":
            return (raw is not MISSING) == bool(self.expected), self.describe()
        if raw is MISSING:
            ok = self.op in ("ne", "nin")
            return ok, f"{self.path} is missing" + (f" ({self.describe()})" if ok else "")
        actual = raw
        if self.op != "contains" and isinstance(raw, dict) and "id" in raw and not isinstance(self.expected, dict):
            actual = raw["id"]  # object shorthand: `area: billing` compares area.id
        ok = self._test(actual)
        shown = f"{self.path} {fmt(actual)}"
        if self.op == "eq":
            return ok, f"{self.path} = {fmt(actual)}" if ok else f"{shown} is not {fmt(self.expected)}"
        if self.op in ("contains", "matches"):
            return ok, self.describe() if ok else f"not ({self.describe()})"
        rest = self.describe()[len(self.path) + 1 :]
        return ok, f"{shown} {rest}" if ok else f"not ({shown} {rest})"

    def _test(self, actual: Any) -> bool:
        op, expected = self.op, self.expected
        if op in ("eq", "ne"):
            return bool(_COMPARE[op](actual, expected))
        if op in _COMPARE:
            return _ordered(actual, expected) and bool(_COMPARE[op](actual, expected))
        if op in ("in", "nin"):
            return (actual in expected) == (op == "in")
        if op == "contains":
            if isinstance(actual, str):
                return str(expected).casefold() in actual.casefold()
            return isinstance(actual, (list, dict)) and expected in actual
        return isinstance(actual, str) and self.regex is not None and self.regex.search(actual) is not None


@dataclass
class AllOf:
    """Every child holds (a `when` mapping, or `all:`)."""

    children: list[Condition] = field(default_factory=list)

    def describe(self) -> str:
        return " and ".join(c.describe() for c in self.children) or "always"

    def fields(self) -> set[str]:
        return set().union(*(c.fields() for c in self.children)) if self.children else set()

    def evaluate(self, doc: dict[str, Any]) -> tuple[bool, str]:
        reasons = []
        for child in self.children:
            ok, why = child.evaluate(doc)
            if not ok:
                return False, why
            reasons.append(why)
        return True, " and ".join(reasons) or "always"


@dataclass
class AnyOf:
    """At least one child holds (`any:`)."""

    children: list[Condition] = field(default_factory=list)

    def describe(self) -> str:
        return "any of (" + "; ".join(c.describe() for c in self.children) + ")"

    def fields(self) -> set[str]:
        return set().union(*(c.fields() for c in self.children)) if self.children else set()

    def evaluate(self, doc: dict[str, Any]) -> tuple[bool, str]:
        for child in self.children:
            ok, why = child.evaluate(doc)
            if ok:
                return True, why
        return False, f"none of {self.describe()}"


@dataclass
class Not:
    """The child does not hold (`not:`)."""

    child: Condition

    def describe(self) -> str:
        return f"not ({self.child.describe()})"

    def fields(self) -> set[str]:
        return self.child.fields()

    def evaluate(self, doc: dict[str, Any]) -> tuple[bool, str]:
        ok, why = self.child.evaluate(doc)
        return (not ok), (self.describe() if not ok else why)


def compile_when(when: Any, at: Loc = (), problems: list[Problem] | None = None) -> Condition | None:
    """Compile a `when` mapping. Problems (path inside `when`, message) are appended to `problems`."""
    problems = problems if problems is not None else []
    if not isinstance(when, dict):
        problems.append((at, "a condition must be a mapping of field: value or operator map"))
        return None
    children: list[Condition] = []
    for key, value in when.items():
        here = at + (key,)
        child: Condition | None
        if key in ("all", "any"):
            child = _compile_list(key, value, here, problems)
        elif key == "not":
            inner = compile_when(value, here, problems)
            child = Not(inner) if inner is not None else None
        else:
            child = _compile_field(str(key), value, here, problems)
        if child is not None:
            children.append(child)
    return AllOf(children) if len(children) != 1 else children[0]


def _compile_list(key: str, value: Any, here: Loc, problems: list[Problem]) -> Condition | None:
    if not isinstance(value, list) or not value:
        problems.append((here, f"`{key}` takes a non-empty list of condition maps"))
        return None
    parts = [compile_when(v, here + (i,), problems) for i, v in enumerate(value)]
    kept = [p for p in parts if p is not None]
    return AllOf(kept) if key == "all" else AnyOf(kept)


def _compile_field(path: str, value: Any, here: Loc, problems: list[Problem]) -> Condition | None:
    message = check_path(path)
    if message:
        problems.append((here, message))
        return None
    if isinstance(value, list):
        problems.append((here, f"{path}: a list is not a value; write {{in: {fmt(value)}}} to match any of them"))
        return None
    if not isinstance(value, dict):
        return FieldTest(path, "eq", value)
    if not value:
        problems.append((here, f"{path}: empty operator map; use one of {', '.join(OPERATORS)}"))
        return None
    tests: list[Condition] = []
    for op, expected in value.items():
        test = _compile_op(path, str(op), expected, here + (op,), problems)
        if test is not None:
            tests.append(test)
    return tests[0] if len(tests) == 1 else AllOf(tests)


def _compile_op(path: str, op: str, expected: Any, here: Loc, problems: list[Problem]) -> FieldTest | None:
    def bad(message: str) -> None:
        problems.append((here, f"{path}: {message}"))

    if op not in OPERATORS:
        hint = difflib.get_close_matches(op, OPERATORS, n=1)
        bad(f"unknown operator {op!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
            + f"; operators are {', '.join(OPERATORS)}")
        return None
    if op in ("in", "nin") and not isinstance(expected, list):
        return bad(f"`{op}` takes a list")
    if op in ("gt", "gte", "lt", "lte") and not (_number(expected) or isinstance(expected, str)):
        return bad(f"`{op}` takes a number (or text, such as an ISO date)")
    if op == "exists" and not isinstance(expected, bool):
        return bad("`exists` takes true or false")
    if op == "contains" and isinstance(expected, (list, dict)):
        return bad("`contains` takes a single value")
    regex = None
    if op == "matches":
        if not isinstance(expected, str):
            return bad("`matches` takes a regular expression (text)")
        try:
            regex = re.compile(expected)
        except re.error as exc:
            return bad(f"bad regular expression {expected!r}: {exc}")
    return FieldTest(path, op, expected, regex)
