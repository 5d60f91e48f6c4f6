"""`switchboard`: the command line. Each command group lives in its own module and registers itself here."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="switchboard",
    help=(
        "Product-ops switchboard: webhooks in, verified and enriched, answered from the knowledge base "
        "or routed to the right PM team's queue on NATS JetStream.\n\n"
        "Start everything with `switchboard up`, then send the samples with `switchboard demo` "
        "and read a queue with `switchboard inbox TEAM`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

# Modules under services.cli that define `register(app)`. Order = order in --help.
COMMAND_MODULES = [
    "services.cli.serve",  # up, ingest, enrich, route
    "services.cli.check",  # check
    "services.cli.inspect",  # inbox, answers, trace
    "services.cli.demo",  # demo
    "services.cli.judgement",  # classify, kb ask, kb calibrate, areas calibrate
    "services.cli.accounts",  # accounts import, accounts show
    "services.cli.dlq",  # dlq list, dlq show, dlq replay
    "services.cli.rules",  # rules test, rules backtest
    "services.cli.publish",  # config publish, config versions, config rollback
    "services.cli.web",  # web (the PM inbox)
    "services.cli.digest",  # digest
    "services.cli.kb_gaps",  # kb gaps
    "services.cli.themes",  # themes, themes rename, themes merge
]

for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a command group not built yet must not break the others
        if exc.name != _name:
            raise
        continue
    _module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
