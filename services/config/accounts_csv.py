"""accounts.csv: the config folder's account directory seed, and the row parser `switchboard accounts import`
shares (arr '$1,200', extra columns as attributes)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from services.config.models import AccountRow
from services.config.reading import ProblemCollector, read_text

ACCOUNTS_FILE = "accounts.csv"
ACCOUNT_COLUMNS = ("account_id", "name", "domain", "arr", "plan", "owner", "external_id")


def load_accounts(root: Path, out: ProblemCollector) -> list[AccountRow]:
    path = root / ACCOUNTS_FILE
    if not path.is_file():
        return []
    text = read_text(path, ACCOUNTS_FILE, out)
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
        row = parse_account_row(record, start, out)
        if row is None:
            continue
        if row.account_id in seen:
            out.add(ACCOUNTS_FILE, start, f"account_id {row.account_id!r} already on line {seen[row.account_id]}")
            continue
        seen[row.account_id] = start
        rows.append(row)
    return rows


def parse_account_row(record: dict[str, str], line: int, out: ProblemCollector) -> AccountRow | None:
    """One CSV record (column -> stripped cell) as an AccountRow, or None after adding the problem at `line`."""
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
