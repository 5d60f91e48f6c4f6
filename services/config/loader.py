"""Read a config folder (contract 3) into a validated `Config`, or raise `ConfigError` with file:line problems.

Files (all optional; an empty file is valid):
    sources.yaml   areas.yaml   rules.yaml   intents.yaml   calibration.yaml
    accounts.csv   kb/*.md (YAML front matter + markdown body; the file stem is the article id)

YAML is composed into nodes first so every value's line is known; pydantic errors are mapped back to the
nearest line of the path they name. Problems from every file are collected before raising.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from services.config.errors import ConfigError, ConfigProblem
from services.config.models import (
    AccountRow,
    AreasFile,
    Article,
    Config,
    IntentsFile,
    RuleConfig,
    RulesFile,
    SourcesFile,
    Thresholds,
)
from services.route.conditions import model_of
from services.route.rules import rule_problems

YAML_FILES = ("sources.yaml", "areas.yaml", "rules.yaml", "intents.yaml", "calibration.yaml")
ACCOUNTS_FILE = "accounts.csv"
KB_DIR = "kb"
CALIBRATION_FILE = "calibration.yaml"
ACCOUNT_COLUMNS = ("account_id", "name", "domain", "arr", "plan", "owner", "external_id")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n?", re.S | re.M)

M = TypeVar("M", bound=BaseModel)
LineMap = dict[tuple[Any, ...], int]


class _Collector:
    """Problems found so far, with the display path of each file."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.problems: list[ConfigProblem] = []

    def add(self, name: str, line: int | None, message: str) -> None:
        self.problems.append(ConfigProblem(str(self.directory / name), line, message))


def load_config(directory: str | Path) -> Config:
    """Load and validate the config folder; raise ConfigError listing every problem (file:line: message)."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError([ConfigProblem(str(root), None, "config folder not found")])
    out = _Collector(root)
    for name in YAML_FILES:
        alias = Path(name).with_suffix(".yml").name
        if (root / alias).is_file():
            out.add(alias, None, f"Switchboard reads {name}, not {alias}: rename it (or merge it into {name})")
    sources = _load_yaml_model(root, "sources.yaml", SourcesFile, out, list_key="sources")
    areas = _load_yaml_model(root, "areas.yaml", AreasFile, out, list_key="areas")
    rules = _load_yaml_model(root, "rules.yaml", RulesFile, out, list_key="rules")
    intents = _load_yaml_model(root, "intents.yaml", IntentsFile, out, list_key="intents", empty={})
    thresholds = _load_yaml_model(root, CALIBRATION_FILE, Thresholds, out)
    articles = _load_articles(root, areas, out)
    accounts = _load_accounts(root, out)
    if out.problems:
        order = {p.file: i for i, p in reversed(list(enumerate(out.problems)))}
        raise ConfigError(sorted(out.problems, key=lambda p: (order[p.file], p.line or 0)))
    return Config(
        directory=str(root),
        sources=sources.sources if sources else [],
        areas=areas or AreasFile(),
        rules=rules.rules if rules else [],
        articles=articles,
        accounts=accounts,
        thresholds=thresholds or Thresholds(),
        intents=intents.intents if intents else {},
        version=config_version(root),
    )


def config_version(directory: str | Path) -> str:
    """Short sha256 over the config files (relative path + bytes, sorted by path): stamped on every decision."""
    root = Path(directory)
    digest = hashlib.sha256()
    for path in _config_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def save_thresholds(directory: str | Path, thresholds: Thresholds) -> Path:
    """Write calibration.yaml (atomically) in the config folder; returns its path."""
    path = Path(directory) / CALIBRATION_FILE
    header = (
        "# Calibrated thresholds, written by `switchboard kb calibrate` / `areas calibrate`.\n"
        "# kb: auto-answer threshold for `answer` rules without min_confidence; area: product-area threshold.\n"
    )
    text = header + yaml.safe_dump(thresholds.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".calibration.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _config_files(root: Path) -> list[Path]:
    files = [root / n for n in (*YAML_FILES, ACCOUNTS_FILE)] + sorted((root / KB_DIR).glob("*.md"))
    return sorted((p for p in files if p.is_file()), key=lambda p: p.relative_to(root).as_posix())


# --- YAML with lines -------------------------------------------------------------------------------------


def parse_yaml(text: str, name: str, out: _Collector, first_line: int = 1) -> tuple[Any, LineMap] | None:
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


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: LineMap, name: str, out: _Collector, base: int) -> None:
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


def _validation_problems(exc: ValidationError, model: type[BaseModel], lines: LineMap, name: str,
                         out: _Collector, prefix: tuple[Any, ...] = ()) -> None:
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


def _load_yaml_model(root: Path, name: str, model: type[M], out: _Collector, list_key: str | None = None,
                     empty: Any = None) -> M | None:
    path = root / name
    if not path.is_file():
        return model()
    parsed = parse_yaml(_read_text(path, name, out), name, out)
    if parsed is None:
        return None
    data, lines = parsed
    if data is None:
        data = {}
    if list_key and isinstance(data, dict) and data.get(list_key, 0) is None:
        data[list_key] = [] if empty is None else empty  # `rules:` with no entries is an empty list
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        _validation_problems(exc, model, lines, name, out)
        result = None
    if model is RulesFile:
        _check_rules(data, lines, name, out)
    return result


def _check_rules(data: Any, lines: LineMap, name: str, out: _Collector) -> None:
    """Conditions, regexes, teams and unique names of every rule that parses (even when others do not)."""
    raw_rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(raw_rules, list):
        return
    first_line: dict[str, int | None] = {}
    for index, raw in enumerate(raw_rules):
        try:
            rule = RuleConfig.model_validate(raw)
        except ValidationError:
            continue  # already reported with its line
        here = line_of(lines, ("rules", index, "name"))
        if rule.name in first_line:
            out.add(name, here, f"rule name {rule.name!r} is used twice (first on line {first_line[rule.name]})")
        first_line.setdefault(rule.name, here)
        for loc, message in rule_problems(rule):
            out.add(name, line_of(lines, ("rules", index, *loc)), f"rule {rule.name!r}: {message}")


def _read_text(path: Path, name: str, out: _Collector) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        out.add(name, None, f"not UTF-8 text: {exc}")
        return ""


# --- kb/*.md ---------------------------------------------------------------------------------------------


def _load_articles(root: Path, areas: AreasFile | None, out: _Collector) -> list[Article]:
    articles: list[Article] = []
    known_areas = {a.id for a in areas.areas} if areas else None
    for path in sorted((root / KB_DIR).glob("*.md")):
        name = f"{KB_DIR}/{path.name}"
        text = _read_text(path, name, out)
        match = _FRONT_MATTER.match(text)
        meta: Any = {}
        lines: LineMap = {}
        body = text
        if match:
            parsed = parse_yaml(match.group(1), name, out, first_line=2)
            if parsed is None:
                continue
            meta, lines = parsed
            meta = {} if meta is None else meta
            body = text[match.end():]
        if not isinstance(meta, dict):
            out.add(name, 2, "front matter must be a mapping (title, url, area, questions)")
            continue
        if "title" not in meta:
            heading = re.search(r"^#\s+(.+)$", body, re.M)
            if heading is None:
                out.add(name, 1, "missing title: add `title:` to the front matter (or a `# Heading`)")
                continue
            meta = {**meta, "title": heading.group(1).strip()}
        try:
            article = Article.model_validate({**meta, "id": path.stem, "body": body.strip()})
        except ValidationError as exc:
            _validation_problems(exc, Article, lines, name, out)
            continue
        if article.area is not None and known_areas is not None and article.area not in known_areas:
            hint = difflib.get_close_matches(article.area, sorted(known_areas), n=1)
            out.add(name, line_of(lines, ("area",)), f"area {article.area!r} is not in areas.yaml"
                    + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        articles.append(article)
    return articles


# --- accounts.csv ----------------------------------------------------------------------------------------


def _load_accounts(root: Path, out: _Collector) -> list[AccountRow]:
    path = root / ACCOUNTS_FILE
    if not path.is_file():
        return []
    text = _read_text(path, ACCOUNTS_FILE, out)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        return []
    columns = [h.strip().lower() for h in header]
    if "account_id" not in columns:
        out.add(ACCOUNTS_FILE, 1, f"missing column 'account_id' (columns: {', '.join(ACCOUNT_COLUMNS)}, ...)")
        return []
    rows: list[AccountRow] = []
    seen: dict[str, int] = {}
    line = reader.line_num
    for values in reader:
        start, line = line + 1, reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(columns):
            out.add(ACCOUNTS_FILE, start, f"{len(values)} values but {len(columns)} columns")
            continue
        record = {c: v.strip() for c, v in zip(columns, values)}
        row = _account_row(record, start, out)
        if row is None:
            continue
        if row.account_id in seen:
            out.add(ACCOUNTS_FILE, start, f"account_id {row.account_id!r} already on line {seen[row.account_id]}")
            continue
        seen[row.account_id] = start
        rows.append(row)
    return rows


def _account_row(record: dict[str, str], line: int, out: _Collector) -> AccountRow | None:
    if not record.get("account_id"):
        out.add(ACCOUNTS_FILE, line, "account_id is empty")
        return None
    fields: dict[str, Any] = {c: (record.get(c) or None) for c in ACCOUNT_COLUMNS if c in record}
    if fields.get("arr") is not None:
        cleaned = fields["arr"].replace(",", "").replace("_", "").lstrip("$€£")
        try:
            fields["arr"] = float(cleaned)
        except ValueError:
            out.add(ACCOUNTS_FILE, line, f"arr {fields['arr']!r} is not a number")
            return None
    fields["attributes"] = {c: v for c, v in record.items() if c not in ACCOUNT_COLUMNS and c and v}
    return AccountRow.model_validate(fields)
