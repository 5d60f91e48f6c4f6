"""Reading a config folder's files while collecting problems: every file's problems carry its display path."""

from __future__ import annotations

from pathlib import Path

from services.config.errors import ConfigProblem


class ProblemCollector:
    """Problems found so far, with the display path of each file."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.problems: list[ConfigProblem] = []

    def add(self, name: str, line: int | None, message: str) -> None:
        self.problems.append(ConfigProblem(str(self.directory / name), line, message))


def read_text(path: Path, name: str, out: ProblemCollector) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        out.add(name, None, f"not UTF-8 text: {exc}")
        return ""
