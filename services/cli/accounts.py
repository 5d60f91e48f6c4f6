"""`switchboard accounts import FILE.csv` and `switchboard accounts show ID|DOMAIN|EMAIL`: feed and read the
account directory (NATS KV bucket sb_accounts) of a running instance."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from schemas.item import Account
from services.cli.options import DataOpt, JsonOpt, NatsOpt, run_against_instance, settings_from
from services.common.broker import connect_briefly
from services.common.settings import Settings
from services.common.streams import accounts_bucket
from services.config.accounts_csv import ACCOUNT_COLUMNS, parse_account_row
from services.config.models import AccountRow
from services.enrich.accounts import AccountDirectory, clean_domain, update_from_row

console = Console(stderr=True)
out = Console()

accounts_app = typer.Typer(
    help="The account directory (NATS KV bucket sb_accounts): import accounts.csv files, look accounts up.",
    no_args_is_help=True,
)


# --- reading the CSV -------------------------------------------------------------------------------------


@dataclass
class CsvProblem:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


@dataclass
class ParsedCsv:
    rows: list[AccountRow] = field(default_factory=list)
    problems: list[CsvProblem] = field(default_factory=list)
    warnings: list[CsvProblem] = field(default_factory=list)


class _Problems:
    """Quacks like the config loader's collector, so its row parsing (arr '$1,200', attributes) is reused."""

    def __init__(self, path: str, into: list[CsvProblem]) -> None:
        self.path = path
        self.into = into

    def add(self, name: str, line: int | None, message: str) -> None:
        self.into.append(CsvProblem(self.path, line, message))


def parse_accounts_csv(text: str, path: str) -> ParsedCsv:
    """accounts.csv columns (account_id,name,domain,arr,plan,owner[,external_id], more → attributes), with
    file:line problems. Same rules as the config folder's accounts.csv (services.config.accounts_csv)."""
    parsed = ParsedCsv()
    problems = _Problems(path, parsed.problems)
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        problems.add(path, 1, f"not CSV: {exc}")
        return parsed
    if not header or not any(h.strip() for h in header):
        problems.add(path, 1, "no header row (expected account_id,name,domain,arr,plan,owner,...)")
        return parsed
    columns = [h.strip().lower() for h in header]
    if "account_id" not in columns:
        problems.add(path, 1, f"missing column 'account_id' (columns: {', '.join(ACCOUNT_COLUMNS)}, ...)")
        return parsed
    dupes = {c for c in columns if c and columns.count(c) > 1}
    if dupes:
        problems.add(path, 1, f"columns named twice: {', '.join(sorted(dupes))}")
        return parsed
    seen: dict[str, int] = {}
    domains: dict[str, tuple[str, int]] = {}
    line = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.add(path, reader.line_num, f"not CSV: {exc}")
            return parsed
        start, line = line + 1, reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(columns):
            problems.add(path, start, f"{len(values)} values but {len(columns)} columns")
            continue
        record = {c: v.strip() for c, v in zip(columns, values)}
        try:
            row = parse_account_row(record, start, problems)  # type: ignore[arg-type]
        except ValueError as exc:  # pydantic: a value of the wrong shape
            problems.add(path, start, str(exc).splitlines()[0])
            continue
        if row is None:
            continue
        if row.account_id in seen:
            problems.add(path, start, f"account_id {row.account_id!r} already on line {seen[row.account_id]}")
            continue
        seen[row.account_id] = start
        domain = clean_domain(row.domain)
        if domain and domain in domains and domains[domain][0] != row.account_id:
            other, other_line = domains[domain]
            parsed.warnings.append(CsvProblem(path, start, f"domain {domain} is also account {other!r}'s (line "
                                              f"{other_line}); items from {domain} will match {row.account_id!r}"))
        if domain:
            domains[domain] = (row.account_id, start)
        parsed.rows.append(row)
    return parsed


def read_accounts_csv(path: Path) -> ParsedCsv:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        return ParsedCsv(problems=[CsvProblem(str(path), None, f"not UTF-8 text: {exc}")])
    except OSError as exc:
        return ParsedCsv(problems=[CsvProblem(str(path), None, f"cannot read: {exc.strerror or exc}")])
    return parse_accounts_csv(text, str(path))


# --- talking to the instance -----------------------------------------------------------------------------


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


async def import_rows(settings: Settings, rows: list[AccountRow], progress: Progress | None = None) -> ImportSummary:
    """Merge the rows into the directory: filled cells replace the stored values, empty cells keep them."""
    nc = await connect_briefly(settings)
    summary = ImportSummary()
    try:
        directory = AccountDirectory(await accounts_bucket(nc.jetstream(), settings))
        task = progress.add_task("importing", total=len(rows)) if progress else None
        for row in rows:
            _, outcome = await directory.upsert(update_from_row(row))
            setattr(summary, outcome, getattr(summary, outcome) + 1)
            if progress is not None and task is not None:
                progress.advance(task)
    finally:
        await nc.close()
    return summary


async def find_account(settings: Settings, query: str) -> tuple[Account, str] | None:
    nc = await connect_briefly(settings)
    try:
        directory = AccountDirectory(await accounts_bucket(nc.jetstream(), settings))
        found = await directory.find(query)
    finally:
        await nc.close()
    return (found.account, found.how) if found else None


# --- commands --------------------------------------------------------------------------------------------


@accounts_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A CSV file: account_id,name,domain,arr,plan,owner[,external_id,...].")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the file only; write nothing.")] = False,
    nats: NatsOpt = None,
    data: DataOpt = None,
) -> None:
    """Import accounts into a running instance's directory, merging into the entries already there.

    Cells that are filled replace the stored values; empty cells keep them; extra columns become attributes.
    Nothing is written when the file has errors (printed as file:line: message, exit 1).

    Example: `switchboard accounts import examples/config/accounts.csv`, then `switchboard accounts show starkmfg.com`.
    """
    parsed = read_accounts_csv(file)
    for problem in parsed.problems:
        typer.echo(str(problem), err=True)
    if parsed.problems:
        typer.echo(f"{len(parsed.problems)} problem(s): nothing imported", err=True)
        raise typer.Exit(1)
    for warning in parsed.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if dry_run:
        typer.echo(f"{file}: {len(parsed.rows)} accounts, no problems (dry run: nothing written)")
        return
    settings = settings_from(nats_url=nats, data=data)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        summary = run_against_instance(lambda s: import_rows(s, parsed.rows, progress), settings)
    typer.echo(
        f"{file}: {summary.total} accounts: {summary.created} created, {summary.updated} updated, "
        f"{summary.unchanged} unchanged"
    )


@accounts_app.command("show")
def show(
    query: Annotated[str, typer.Argument(help="An account id, external id, domain (acme.com) or e-mail address.")],
    as_json: JsonOpt = False,
    nats: NatsOpt = None,
    data: DataOpt = None,
) -> None:
    """One account from the directory, found by id, external id, then domain. Exit 1 when none matches.

    Example: `switchboard accounts show starkmfg.com` (or an account id, or `--json`).
    """
    settings = settings_from(nats_url=nats, data=data)
    found = run_against_instance(lambda s: find_account(s, query), settings)
    if found is None:
        typer.echo(f"no account matches {query!r}", err=True)
        raise typer.Exit(1)
    account, how = found
    if as_json:
        typer.echo(json.dumps({**account.model_dump(exclude={"matched_by"}), "found_by": how}))
        return
    table = Table(title=f"{account.name or account.id} (found by {how})", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name in ("id", "name", "domain", "arr", "plan", "owner"):
        value = getattr(account, name)
        table.add_row(name, "" if value is None else (f"${value:,.0f}" if name == "arr" else str(value)))
    for key, value in sorted(account.attributes.items()):
        table.add_row(key, value)
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(accounts_app, name="accounts")
