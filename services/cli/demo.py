"""`switchboard demo`: send the bundled, correctly signed sample webhooks to a running instance and
say where each went (team queue, answer, drop, record or dead letter); meanwhile local DEMO fakes of the tools
(services/demo/fake_tools.py, 127.0.0.1:8099) receive what deliver sends back, and the demo shows it."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from services.cli.trace import read_trace
from services.cli.options import ConfigOpt, DataOpt, NatsOpt, settings_from
from services.common.broker import NoBrokerFound
from services.common.feedback_tokens import SECRET_ENV, feedback_url
from services.config.loader import load_config
from services.common.settings import Settings
from services.config.models import Config, SourceConfig
from services.demo.fake_tools import DemoFakeTools, Received
from services.demo.signing import signed_request

console = Console()
SAMPLES = Path("examples/samples")
DEMO_ENV = Path("examples/demo.env")
NATIVE_SCRIPT = "native-demo.jsonl"  # several native messages: each lands somewhere different


def env_values(names: list[str], fallback: dict[str, str]) -> list[str]:
    return [os.environ.get(n) or fallback.get(n, "") for n in names if os.environ.get(n) or fallback.get(n)]


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                values[k.strip()] = v.strip().strip("\"'")
    return values


def sample_bodies(source: SourceConfig, samples: Path) -> list[bytes]:
    """The sample payloads for a source: the kind's sample file, plus the native demo script for `standard`."""
    bodies: list[bytes] = []
    for path in sorted(samples.glob(f"{source.kind}.*")):
        bodies.append(path.read_bytes())
    if source.kind == "standard" and (samples / NATIVE_SCRIPT).exists():
        for line in (samples / NATIVE_SCRIPT).read_text().splitlines():
            if line.strip():
                bodies.append(json.dumps(json.loads(line)).encode())
    return bodies


def accepted_ids(resp: httpx.Response) -> list[str]:
    """Item ids from the reply: the JSON body, or the X-Switchboard-Ids header (Salesforce gets SOAP XML)."""
    header = resp.headers.get("x-switchboard-ids")
    if header:
        return [i.strip() for i in header.split(",") if i.strip()]
    try:
        body = resp.json()
    except ValueError:
        return []
    return list(body.get("ids", [])) if isinstance(body, dict) else []


def _where(steps: list[tuple[str, str, dict]]) -> tuple[str, str]:  # type: ignore[type-arg]
    for step, subject, body in reversed(steps):
        if step == "dead-lettered":
            return "dead letter", body.get("reason", "")
        if step in ("queued", "answered", "dropped", "recorded"):
            d = body.get("decision") or {}
            target = {"queued": f"queue {d.get('team')}", "answered": f"answer: {(body.get('answer') or {}).get('article')}"}
            return target.get(step, step), f"{d.get('rule') or 'built-in'}: {d.get('reason', '')}"
    return "in flight", ""


def demo(
    url: Annotated[str, typer.Option("--url", help="The running instance's base URL.")] = "http://127.0.0.1:8000",
    config: ConfigOpt = None,
    samples: Annotated[Path, typer.Option("--samples", help="Folder of sample payloads, one file per kind.")] = SAMPLES,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for every item to land.")] = 20.0,
    fakes: Annotated[bool, typer.Option("--fakes/--no-fakes", help="Run the DEMO fake tools that deliveries go to.")] = True,
    fake_port: Annotated[int, typer.Option("--fake-port", help="Port of the DEMO fake tools (sources.yaml reply: URLs).")] = 8099,
    deliveries_wait: Annotated[float, typer.Option("--deliveries-wait", help="Seconds to wait for deliveries.")] = 10.0,
    nats: NatsOpt = None,
    data: DataOpt = None,
) -> None:
    """Send one correctly signed sample per configured source (and the native demo script) to a running
    instance, then show where each item went.

    Start the instance first: `make run` (or `switchboard up`). Secrets are read from the environment,
    falling back to the demo values in examples/demo.env.
    """
    settings = settings_from(config=config, nats_url=nats, data=data)
    cfg = load_config(settings.config)
    fallback = read_env_file(DEMO_ENV)
    tools = start_fakes(fake_port) if fakes else None
    try:
        answered = _send_and_show(url, cfg, samples, fallback, settings, wait)
        if tools is not None:
            show_deliveries(wait_for_deliveries(tools, len(answered), deliveries_wait))
        show_feedback_link(url, answered, fallback)
    finally:
        if tools is not None:
            tools.stop()


def _send_and_show(
    url: str, cfg: Config, samples: Path, fallback: dict[str, str], settings: Settings, wait: float
) -> list[str]:
    """Send the samples, print where each went; return the ids answered into a tool with `reply:`."""
    sent: list[tuple[str, str, int, list[str]]] = []
    answered: list[str] = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for source in cfg.sources:
            secrets = env_values(source.secrets, fallback)
            tokens = env_values(source.tokens, fallback)
            for i, body in enumerate(sample_bodies(source, samples)):
                delivery = f"demo-{source.name}-{i}-{int(time.time() * 1000)}"
                try:
                    headers, payload, path = signed_request(source, secrets, tokens, body, time.time(), delivery)
                except ValueError as exc:
                    console.print(f"[yellow]skip {escape(source.name)}: {escape(str(exc))}[/yellow]")
                    continue
                try:
                    resp = client.post(path, content=payload, headers=headers)
                except httpx.HTTPError as exc:
                    typer.echo(f"cannot reach {url}: {exc} — is `make run` running?", err=True)
                    raise typer.Exit(2) from None
                ids = accepted_ids(resp)
                sent.append((source.name, source.kind, resp.status_code, ids))
    try:
        outcomes = asyncio.run(_wait_for(settings, [i for *_, ids in sent for i in ids], wait))
    except NoBrokerFound as exc:
        typer.echo(f"sent, but cannot read the streams: {exc}", err=True)
        outcomes = {}
    table = Table(title="switchboard demo", expand=True)
    for col in ("source", "status", "item", "went to", "why"):
        table.add_column(col, overflow="fold")
    for name, kind, status, ids in sent:
        if not ids:
            table.add_row(f"{name} ({kind})", str(status), "-", "-", "")
        for item in ids:
            where, why = outcomes.get(item, ("in flight", ""))
            table.add_row(*map(escape, (f"{name} ({kind})", str(status), item, where, why)))
            source = cfg.source(name)
            if where.startswith("answer") and source is not None and source.reply is not None:
                answered.append(item)
    console.print(table)
    console.print("Read a queue with `switchboard inbox TEAM`, answers with `switchboard answers`, one item with `switchboard trace ID`.")
    console.print("Similar feedback from several accounts shares a theme: `switchboard themes` (ARR affected, each account once).")
    return answered


async def _wait_for(settings, ids: list[str], wait: float) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    outcomes: dict[str, tuple[str, str]] = {}
    deadline = time.monotonic() + wait
    while True:
        for item in ids:
            if item not in outcomes or outcomes[item][0] == "in flight":
                outcomes[item] = _where(await read_trace(settings, item))
        if all(o[0] != "in flight" for o in outcomes.values()) or time.monotonic() > deadline:
            return outcomes
        await asyncio.sleep(0.5)


def start_fakes(port: int) -> DemoFakeTools | None:
    try:
        tools = DemoFakeTools(port).start()
    except OSError as exc:
        console.print(f"[yellow]demo fake tools not started on 127.0.0.1:{port} ({exc.strerror}): another demo running?[/yellow]")
        return None
    console.print(f"DEMO fake tools (not the real Zendesk, Intercom, Freshdesk or Slack) listening on {tools.url}")
    return tools


def wait_for_deliveries(tools: DemoFakeTools, expected: int, wait: float, quiet: float = 1.5) -> list[Received]:
    """What the fakes received: wait (at most `wait` s) for `expected` requests, then for a quiet spell."""
    deadline = time.monotonic() + (wait if expected else min(wait, 3.0))
    count, changed = -1, time.monotonic()
    while time.monotonic() < deadline:
        received = tools.received
        if len(received) != count:
            count, changed = len(received), time.monotonic()
        if count >= expected and count > 0 and time.monotonic() - changed >= quiet:
            break
        time.sleep(0.2)
    return tools.received


def show_deliveries(received: list[Received]) -> None:
    if not received:
        console.print(
            "[yellow]The demo fake tools received nothing yet — is deliver running? (`switchboard up` runs it, "
            "or `switchboard deliver` alone; answers wait in SB_ANSWERS until it posts them, and the fakes stop "
            "with the demo.)[/yellow]"
        )
        return
    table = Table(title="what each (fake) tool received", expand=True)
    for col in ("tool", "request", "auth", "says"):
        table.add_column(col, overflow="fold")
    for r in received:
        auth = r.auth or ("webhook-signature" if r.signed else "-")
        table.add_row(*map(escape, (r.tool, f"{r.method} {r.path}", auth, r.summary)))  # what tools got is data
    console.print(table)


def show_feedback_link(url: str, answered: list[str], fallback: dict[str, str]) -> None:
    """Close the loop by hand: the "not helpful" link of one answer (docs/feedback.md)."""
    secret = os.environ.get(SECRET_ENV) or fallback.get(SECRET_ENV)
    if not answered or not secret:
        return
    link = feedback_url(url, answered[0], "not_helpful", {SECRET_ENV: secret})
    console.print(f"Did this help? Open {link} and press the button: the question lands in its team's queue "
                  f"(`switchboard trace {answered[0]}`).")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Try it")(demo)
