"""Config files name environment variables; they never hold a secret's value."""

from __future__ import annotations

import re

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def env_names(names: list[str]) -> list[str]:
    """`secrets`/`tokens` name environment variables; a pasted secret value must not sit in the config."""
    for index, name in enumerate(names):
        if ENV_NAME_RE.match(name) and not name.lower().startswith("whsec_"):
            continue
        looks_like_a_name = len(name) <= 40 and name.upper() == name and re.fullmatch(r"[A-Z0-9_.-]+", name)
        shown = repr(name) if looks_like_a_name else f"entry {index + 1} (not shown: it may be a secret)"
        raise ValueError(
            f"{shown} is not an environment variable name (letters, digits, _): "
            "secrets live in the environment; name the variable here"
        )
    return names
