"""`switchboard config publish DIR`, `config versions`, `config rollback V`: ship a config change to running
workers without a restart (contract 8). Publishing runs `check` first; workers switch within ~1 s."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.cli.options import DataOpt, JsonOpt, NatsOpt, run_against_instance, settings_from
from services.common.broker import connect_briefly
from services.common.settings import Settings
from services.common.streams import config_bucket
from services.config.errors import ConfigError
from services.config.loader import load_config
from services.config.versions import UnknownVersion, current_version, list_versions, publish, read_folder, rollback

config_app = typer.Typer(help="Config versions in NATS: publish a folder, list versions, roll back.", no_args_is_help=True)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


async def _with_bucket(settings: Settings, action):  # type: ignore[no-untyped-def]
    nc = await connect_briefly(settings)
    try:
        return await action(await config_bucket(nc.jetstream(), settings))
    finally:
        await nc.close()


def publish_cmd(
    directory: Annotated[Path, typer.Argument(help="The config folder to publish.", exists=True, file_okay=False)],
    nats: NatsOpt = None,
    data: DataOpt = None,
) -> None:
    """Check DIR, store it as a new config version in NATS and make it current: running enrich, route and
    deliver workers switch to it within seconds, without a restart. Secrets stay in the environment.

    The loop: edit → `switchboard check` → `rules test` → `rules backtest --config DIR` → `config publish DIR`
    (→ `config rollback V` if needed).
    """
    try:
        load_config(directory)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(str(problem), style="red", markup=False, soft_wrap=True)
        err.print("not published: fix the problems above (switchboard check).", style="red")
        raise typer.Exit(1) from None
    version = read_folder(directory, by="switchboard config publish")
    previous, changed = run_against_instance(
        lambda s: _with_bucket(s, lambda kv: publish(kv, version)), settings_from(nats_url=nats, data=data)
    )
    if not changed:
        out.print(f"{version.version} is already the current config version: nothing to do.")
        return
    out.print(f"published config version {version.version} ({len(version.files)} files) — it is now current "
              f"(was {previous or 'none'}). Roll back with `switchboard config rollback {previous}`." if previous
              else f"published config version {version.version} ({len(version.files)} files) — it is now current.")


def versions_cmd(as_json: JsonOpt = False, nats: NatsOpt = None, data: DataOpt = None) -> None:
    """Every published config version, oldest first; the current one is marked.

    Example: `switchboard config versions`, then `switchboard config rollback VERSION` to go back to one.
    """

    async def read(kv):  # type: ignore[no-untyped-def]
        return await list_versions(kv), await current_version(kv)

    versions, current = run_against_instance(lambda s: _with_bucket(s, read), settings_from(nats_url=nats, data=data))
    if as_json:
        import json

        for v in versions:
            typer.echo(json.dumps({"version": v.version, "published_at": v.published_at.isoformat(), "by": v.by,
                                   "source": v.source, "files": len(v.files), "current": v.version == current}))
        return
    if not versions:
        out.print("no config published yet: `switchboard up` publishes its --config folder, or `switchboard config publish DIR`.")
        return
    table = Table(title="config versions", expand=True)
    for col in ("", "version", "published", "by", "from folder", "files"):
        table.add_column(col, overflow="fold")
    for v in versions:
        table.add_row("→" if v.version == current else "", v.version, f"{v.published_at:%Y-%m-%d %H:%M:%S}", v.by,
                      v.source, str(len(v.files)), style="bold" if v.version == current else None)
    out.print(table, markup=False)


def rollback_cmd(
    version: Annotated[str, typer.Argument(help="A version from `switchboard config versions`.")],
    nats: NatsOpt = None,
    data: DataOpt = None,
) -> None:
    """Make an earlier published version current again; workers switch within seconds."""
    try:
        previous = run_against_instance(lambda s: _with_bucket(s, lambda kv: rollback(kv, version)),
                                        settings_from(nats_url=nats, data=data))
    except UnknownVersion as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    out.print(f"config version {version} is current again (was {previous or 'none'}).")


def register(app: typer.Typer) -> None:
    config_app.command("publish")(publish_cmd)
    config_app.command("versions")(versions_cmd)
    config_app.command("rollback")(rollback_cmd)
    app.add_typer(config_app, name="config", rich_help_panel="Configure")
