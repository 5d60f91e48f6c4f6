"""The account directory on a real nats-server: `switchboard accounts import` / `show` through the CLI, the
create-only seed, and matching (id, external id, domain, parent domain) against the KV bucket."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from typer.testing import CliRunner

from schemas.item import AccountRef, AccountUpdate, Item, Person
from services.cli.main import app
from services.common import names
from services.common.embedded import EmbeddedNats
from services.common.settings import Settings
from services.common.streams import accounts_bucket
from services.config.models import AccountRow
from services.enrich.accounts import AccountDirectory

pytestmark = pytest.mark.integration

runner = CliRunner()

CSV = """account_id,name,domain,arr,plan,owner,external_id,region
acc_acme,Acme Inc,https://www.Acme.com/,"$120,000",enterprise,dana@example.com,0015e00000ACME01,EMEA
acc_globex,Globex,globex.com,48000,business,marcus@example.com,,NA
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _cli(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def _show(url: str, query: str) -> dict | None:  # type: ignore[type-arg]
    result = _cli("accounts", "show", query, "--json", "--nats", url)
    if result.exit_code == 1:
        return None
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def _keys(url: str) -> set[str]:
    async def go() -> set[str]:
        nc = await nats.connect(url)
        try:
            kv = await accounts_bucket(nc.jetstream(), Settings())
            try:
                return set(await kv.keys())
            except Exception:  # noqa: BLE001 - no keys yet
                return set()
        finally:
            await nc.close()

    return asyncio.run(go())


def test_import_then_show(nats_server: EmbeddedNats, tmp_path: Path) -> None:
    path = _write(tmp_path, "accounts.csv", CSV)
    result = _cli("accounts", "import", str(path), "--nats", nats_server.url)
    assert result.exit_code == 0, result.output
    assert "2 accounts: 2 created, 0 updated, 0 unchanged" in result.stdout

    by_id = _show(nats_server.url, "acc_acme")
    assert by_id is not None
    assert by_id["found_by"] == "id"
    assert by_id["domain"] == "acme.com"  # normalised from https://www.Acme.com/
    assert by_id["arr"] == 120000.0
    assert by_id["attributes"] == {"region": "EMEA", "external_id": "0015e00000ACME01"}
    assert _show(nats_server.url, "ACME.com")["found_by"] == "domain"  # type: ignore[index]
    assert _show(nats_server.url, "pat@acme.com")["id"] == "acc_acme"  # type: ignore[index]
    assert _show(nats_server.url, "0015e00000ACME01")["found_by"] == "external_id"  # type: ignore[index]
    assert _show(nats_server.url, "nobody.example") is None

    human = _cli("accounts", "show", "globex.com", "--nats", nats_server.url)
    assert human.exit_code == 0 and "Globex" in human.stdout and "$48,000" in human.stdout


def test_reimport_merges_and_moves_pointers(nats_server: EmbeddedNats, tmp_path: Path) -> None:
    first = _write(tmp_path, "a.csv", CSV)
    assert _cli("accounts", "import", str(first), "--nats", nats_server.url).exit_code == 0
    # acme moves to acme.io, its ARR cell is empty (kept), the plan changes; globex is the same again
    second = _write(
        tmp_path,
        "b.csv",
        "account_id,name,domain,arr,plan,owner,tier\n"
        "acc_acme,,acme.io,,strategic,,gold\n"
        "acc_globex,Globex,globex.com,48000,business,marcus@example.com\n",
    )
    result = _cli("accounts", "import", str(second), "--nats", nats_server.url)
    assert result.exit_code == 0, result.output
    assert "2 accounts: 0 created, 1 updated, 1 unchanged" in result.stdout

    acme = _show(nats_server.url, "acc_acme")
    assert acme is not None
    assert (acme["name"], acme["domain"], acme["arr"], acme["plan"]) == ("Acme Inc", "acme.io", 120000.0, "strategic")
    assert acme["attributes"]["tier"] == "gold" and acme["attributes"]["region"] == "EMEA"
    assert _show(nats_server.url, "acme.io")["id"] == "acc_acme"  # type: ignore[index]
    assert _show(nats_server.url, "acme.com") is None  # the old domain no longer points at it
    assert names.domain_key("acme.com") not in _keys(nats_server.url)


def test_bad_file_reports_lines_and_writes_nothing(nats_server: EmbeddedNats, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "bad.csv",
        "account_id,name,domain,arr\n"
        "acc_ok,Fine,fine.com,10\n"
        ",No id,noid.com,5\n"
        "acc_money,Money,money.com,lots\n"
        "acc_ok,Again,again.com,1\n"
        "acc_wide,Wide,wide.com,1,extra\n",
    )
    result = _cli("accounts", "import", str(path), "--nats", nats_server.url)
    assert result.exit_code == 1
    err = result.stderr
    assert f"{path}:3: account_id is empty" in err
    assert f"{path}:4: arr 'lots' is not a number" in err
    assert f"{path}:5: account_id 'acc_ok' already on line 2" in err
    assert f"{path}:6: 5 values but 4 columns" in err
    assert "nothing imported" in err
    assert not _keys(nats_server.url)

    missing = _write(tmp_path, "nocol.csv", "id,name\nx,y\n")
    result = _cli("accounts", "import", str(missing), "--nats", nats_server.url)
    assert result.exit_code == 1 and f"{missing}:1: missing column 'account_id'" in result.stderr


def test_import_without_a_running_instance(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.csv", CSV)
    result = _cli("accounts", "import", str(path), "--data", str(tmp_path / "nothing-here"))
    assert result.exit_code == 2
    assert "no running Switchboard found" in result.stderr
    dry = _cli("accounts", "import", str(path), "--dry-run", "--data", str(tmp_path / "nothing-here"))
    assert dry.exit_code == 0 and "2 accounts, no problems" in dry.stdout


def _item(**fields) -> Item:  # type: ignore[no-untyped-def]
    return Item(id="i1", source="s", kind="standard", event_type="t", delivery_id="d",
                received_at=datetime.now(UTC), text="hello", **fields)


async def test_seed_is_create_only_and_match_records_how(nc) -> None:  # type: ignore[no-untyped-def]
    directory = AccountDirectory(await accounts_bucket(nc.jetstream(), Settings()))
    rows = [
        AccountRow(account_id="acc_acme", name="Acme", domain="acme.com", arr=100.0, external_id="SF-1"),
        AccountRow(account_id="acc_initech", name="Initech", domain="initech.co.uk"),
    ]
    assert await directory.seed(rows) == 2
    await directory.apply(AccountUpdate(id="acc_acme", arr=999.0))  # a CRM event since
    assert await directory.seed(rows) == 0  # a restart's seed does not undo it
    assert (await directory.get("acc_acme")).arr == 999.0  # type: ignore[union-attr]

    async def how(**fields) -> tuple[str | None, str | None]:  # type: ignore[no-untyped-def]
        account = await directory.match(_item(**fields))
        return (account.id, account.matched_by) if account else (None, None)

    assert await how(account_hint=AccountRef(id="acc_acme")) == ("acc_acme", "id")
    assert await how(account_hint=AccountRef(id="unknown", external_id="SF-1")) == ("acc_acme", "external_id")
    assert await how(person=Person(email="Pat@ACME.com")) == ("acc_acme", "domain")
    assert await how(person=Person(email="pat@eu.acme.com")) == ("acc_acme", "domain")  # parent domain
    assert await how(person=Person(email="a@x.initech.co.uk")) == ("acc_initech", "domain")
    assert await how(person=Person(email="pat@gmail.com")) == (None, None)
    assert await how(person=Person(email="pat@other.com")) == (None, None)
    assert await how() == (None, None)


async def test_crm_update_under_the_crms_own_id_updates_the_existing_account(nc) -> None:
    """A Salesforce Account event names the account by its `001…` id (our external_id), a HubSpot one by
    domain: both must update the directory's account, not fork a second one."""
    from schemas.item import AccountUpdate
    from services.common.settings import Settings
    from services.common.streams import accounts_bucket
    from services.config.models import AccountRow
    from services.enrich.accounts import AccountDirectory

    directory = AccountDirectory(await accounts_bucket(nc.jetstream(), Settings()))
    await directory.seed([AccountRow(account_id="acc_stark", name="Stark", domain="starkmfg.com", arr=185000,
                                     external_id="0015e00000STRK07")])
    updated = await directory.apply(AccountUpdate(id="0015e00000STRK07", arr=200000))
    assert updated.id == "acc_stark" and updated.arr == 200000 and updated.name == "Stark"
    by_domain = await directory.apply(AccountUpdate(id="hs-9876", domain="STARKMFG.com", plan="enterprise"))
    assert by_domain.id == "acc_stark" and by_domain.plan == "enterprise" and by_domain.arr == 200000
    again = await directory.apply(AccountUpdate(id="hs-9876", owner="dana@example.com"))  # no domain this time
    assert again.id == "acc_stark" and again.owner == "dana@example.com"
    assert await directory.get("0015e00000STRK07") is None and await directory.get("hs-9876") is None
