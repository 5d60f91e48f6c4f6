"""`switchboard check`: validate a config folder and summarise it."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from services.config.errors import ConfigError
from services.config.loader import load_config
from services.config.models import Config

DEFAULT_CONFIG = "examples/config"
CONFIG_ENV = "SWITCHBOARD_CONFIG"


def default_config_dir() -> Path:
    """`$SWITCHBOARD_CONFIG`, else ./examples/config (the bundled example)."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def missing_secrets(config: Config) -> list[tuple[str, str]]:
    """(source, env var) for every secret or token variable a source names that is not set."""
    return [
        (s.name, var) for s in config.sources for var in [*s.secrets, *s.tokens] if not os.environ.get(var)
    ]


def check(
    config: Path = typer.Option(
        None,
        "--config",
        "-c",
        help=f"Config folder. Default: ${CONFIG_ENV}, else ./{DEFAULT_CONFIG}.",
        show_default=False,
    ),
) -> None:
    """Validate the config folder: sources, areas, rules, KB articles, accounts.

    Prints every problem as FILE:LINE: MESSAGE and exits 1, or prints a summary and exits 0.
    Secret variables a source names but that are not set are warnings, not errors.

    Examples:

        switchboard check

        switchboard check --config ./my-config

        SWITCHBOARD_CONFIG=/etc/switchboard switchboard check
    """
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False)
    directory = config or default_config_dir()
    try:
        loaded = load_config(directory)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(str(problem), style="red", markup=False, soft_wrap=True)
        err.print(f"\n{len(exc.problems)} problem(s) in {directory}", style="red")
        raise typer.Exit(1) from None
    _print_summary(out, loaded)
    for source, var in missing_secrets(loaded):
        err.print(
            f"warning: source {source}: environment variable {var} is not set (see examples/demo.env)",
            style="yellow", markup=False, soft_wrap=True,
        )
    out.print(f"[green]ok[/] {directory} (config version {loaded.version})")


def _print_summary(console: Console, config: Config) -> None:
    kinds = Counter(s.kind for s in config.sources)
    table = Table(title=f"Config {config.directory}", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("details")
    table.add_row(
        f"{len(config.sources)} sources",
        ", ".join(f"{s.name} ({s.kind})" for s in config.sources) or "-",
    )
    table.add_row("source kinds", ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())) or "-")
    table.add_row(
        f"{len(config.areas.areas)} areas",
        "\n".join(f"{a.id} -> {a.team} ({len(a.examples)} examples)" for a in config.areas.areas) or "-",
    )
    table.add_row(
        f"{len(config.rules)} rules",
        "\n".join(f"{i}. {r.name} -> {_action_text(r)}" for i, r in enumerate(config.rules, 1)) or "-",
    )
    table.add_row(f"{len(config.articles)} articles", ", ".join(a.id for a in config.articles) or "-")
    table.add_row(f"{len(config.accounts)} accounts", "")
    table.add_row("KB threshold", f"{config.thresholds.kb:.2f}")
    table.add_row("config version", config.version)
    console.print(table)


def _action_text(rule) -> str:  # type: ignore[no-untyped-def]
    if rule.route is not None:
        return f"route {rule.route.team} ({rule.route.priority})"
    if rule.answer is not None:
        threshold = rule.answer.min_confidence
        return "answer" + (f" (min {threshold:.2f})" if threshold is not None else " (calibrated threshold)")
    return f"drop ({rule.drop.reason})"


def register(app: typer.Typer) -> None:
    """Add `check` to the CLI."""
    app.command("check")(check)
