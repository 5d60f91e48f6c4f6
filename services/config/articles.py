"""kb/*.md: knowledge-base articles (YAML front matter + markdown body; the file stem is the article id)."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from services.config.models import AreasFile, Article
from services.config.reading import ProblemCollector, read_text
from services.config.yaml_lines import LineMap, line_of, parse_yaml, validation_problems

KB_DIR = "kb"
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n?", re.S | re.M)


def load_articles(root: Path, areas: AreasFile | None, out: ProblemCollector) -> list[Article]:
    articles: list[Article] = []
    known_areas = {a.id for a in areas.areas} if areas else None
    for path in sorted((root / KB_DIR).glob("*.md")):
        name = f"{KB_DIR}/{path.name}"
        text = read_text(path, name, out)
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
            validation_problems(exc, Article, lines, name, out)
            continue
        if article.area is not None and known_areas is not None and article.area not in known_areas:
            hint = difflib.get_close_matches(article.area, sorted(known_areas), n=1)
            out.add(name, line_of(lines, ("area",)), f"area {article.area!r} is not in areas.yaml"
                    + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        articles.append(article)
    return articles
