"""Read a config folder (contract 3) into a validated `Config`, or raise `ConfigError` with file:line problems.

Files (all optional; an empty file is valid):
    sources.yaml   areas.yaml   rules.yaml   intents.yaml   calibration.yaml   teams.yaml   users.yaml
    accounts.csv   kb/*.md (YAML front matter + markdown body; the file stem is the article id)

YAML is composed into nodes first so every value's line is known; pydantic errors are mapped back to the
nearest line of the path they name. Problems from every file are collected before raising.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from services.config.accounts_csv import ACCOUNTS_FILE, load_accounts
from services.config.articles import KB_DIR, load_articles
from services.config.errors import ConfigError, ConfigProblem
from services.config.models import (
    AreasFile,
    Config,
    IntentsFile,
    RuleConfig,
    RulesFile,
    SourcesFile,
    TeamsFile,
    Thresholds,
    UsersFile,
)
from services.config.reading import ProblemCollector, read_text
from services.config.yaml_lines import LineMap, line_of, parse_yaml, validation_problems
from services.route.rules import rule_problems

__all__ = ["ConfigError", "config_version", "line_of", "load_config", "parse_yaml", "save_thresholds"]

YAML_FILES = (
    "sources.yaml", "areas.yaml", "rules.yaml", "intents.yaml", "calibration.yaml", "teams.yaml", "users.yaml",
)
CALIBRATION_FILE = "calibration.yaml"

M = TypeVar("M", bound=BaseModel)


def load_config(directory: str | Path) -> Config:
    """Load and validate the config folder; raise ConfigError listing every problem (file:line: message)."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError([ConfigProblem(str(root), None, "config folder not found")])
    out = ProblemCollector(root)
    for name in YAML_FILES:
        alias = Path(name).with_suffix(".yml").name
        if (root / alias).is_file():
            out.add(alias, None, f"Switchboard reads {name}, not {alias}: rename it (or merge it into {name})")
    sources = _load_yaml_model(root, "sources.yaml", SourcesFile, out, list_key="sources")
    areas = _load_yaml_model(root, "areas.yaml", AreasFile, out, list_key="areas")
    rules = _load_yaml_model(root, "rules.yaml", RulesFile, out, list_key="rules")
    intents = _load_yaml_model(root, "intents.yaml", IntentsFile, out, list_key="intents", empty={})
    thresholds = _load_yaml_model(root, CALIBRATION_FILE, Thresholds, out)
    teams = _load_yaml_model(root, "teams.yaml", TeamsFile, out, list_key="teams")
    users = _load_yaml_model(root, "users.yaml", UsersFile, out, list_key="users")
    articles = load_articles(root, areas, out)
    accounts = load_accounts(root, out)
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
        teams=teams or TeamsFile(),
        users=users.users if users else [],
        version=config_version(root),
    )


def config_version(directory: str | Path) -> str:
    """Short sha256 over the config files (relative path + bytes, sorted by path): stamped on every decision."""
    root = Path(directory)
    digest = hashlib.sha256()
    for path in config_files(root):
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


def config_files(root: Path) -> list[Path]:
    files = [root / n for n in (*YAML_FILES, ACCOUNTS_FILE)] + sorted((root / KB_DIR).glob("*.md"))
    return sorted((p for p in files if p.is_file()), key=lambda p: p.relative_to(root).as_posix())


def _load_yaml_model(root: Path, name: str, model: type[M], out: ProblemCollector, list_key: str | None = None,
                     empty: Any = None) -> M | None:
    path = root / name
    if not path.is_file():
        return model()
    parsed = parse_yaml(read_text(path, name, out), name, out)
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
        validation_problems(exc, model, lines, name, out)
        result = None
    if model is RulesFile:
        _check_rules(data, lines, name, out)
    return result


def _check_rules(data: Any, lines: LineMap, name: str, out: ProblemCollector) -> None:
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
