"""lookup_keys / candidates: which directory keys identify an item's account, in which order (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.item import Account, AccountRef, AccountUpdate, Item, Person
from services.config.models import AccountRow
from services.enrich.accounts import account_from_row, clean_domain, merge, update_from_row
from services.enrich.matching import candidates, lookup_keys, normalize_domain, parent_domains

pytestmark = pytest.mark.unit


def item(email: str | None = None, **hint: str) -> Item:
    return Item(
        id="i1", source="s", kind="standard", event_type="t", delivery_id="d", received_at=datetime.now(UTC),
        person=Person(email=email) if email is not None else None,
        account_hint=AccountRef(**hint) if hint else None,
    )


def test_order_id_then_external_id_then_domain() -> None:
    keys = lookup_keys(item("pat@acme.com", id="acc_1", external_id="0015e00000ACME01"))
    assert keys == [("id", "id.acc_1"), ("external_id", "ext.0015e00000ACME01"), ("domain", "domain.acme.com")]


@pytest.mark.parametrize("email", ["pat@gmail.com", "pat@GMAIL.COM", "x@outlook.com", "y@yahoo.co.uk", "z@proton.me"])
def test_free_mail_never_identifies_an_account(email: str) -> None:
    assert lookup_keys(item(email)) == []


def test_free_mail_hint_domain_is_ignored_too() -> None:
    assert lookup_keys(item("pat@gmail.com", domain="gmail.com")) == []


def test_uppercase_and_trailing_dot_domains_are_lowercased() -> None:
    assert lookup_keys(item("Pat@ACME.COM.")) == [("domain", "domain.acme.com")]
    assert lookup_keys(item(domain="https://WWW.Acme.com/pricing")) == [("domain", "domain.acme.com")]


def test_subdomain_falls_back_to_its_parent_after_the_exact_domain() -> None:
    # Decision: eu.acme.com → acme.com. The exact domain is tried first (an account may own eu.acme.com),
    # then each parent down to the registrable domain; never a bare suffix.
    assert lookup_keys(item("pat@a.eu.acme.com")) == [
        ("domain", "domain.a.eu.acme.com"),
        ("domain", "domain.eu.acme.com"),
        ("domain", "domain.acme.com"),
    ]
    assert [c.parent for c in candidates(item("pat@eu.acme.com"))] == [False, True]


def test_parents_stop_at_the_registrable_domain() -> None:
    assert parent_domains("acme.com") == []
    assert parent_domains("eu.acme.com") == ["acme.com"]
    assert parent_domains("eu.acme.co.uk") == ["acme.co.uk"]
    assert parent_domains("acme.co.uk") == []
    assert lookup_keys(item("pat@acme.co.uk")) == [("domain", "domain.acme.co.uk")]


def test_exact_domains_come_before_any_parent() -> None:
    keys = lookup_keys(item("pat@eu.acme.com", domain="initech.io"))
    assert keys == [("domain", "domain.eu.acme.com"), ("domain", "domain.initech.io"), ("domain", "domain.acme.com")]


def test_hint_domain_same_as_email_domain_is_tried_once() -> None:
    assert lookup_keys(item("pat@acme.com", domain="ACME.com")) == [("domain", "domain.acme.com")]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"email": ""},
        {"email": "no-at-sign"},
        {"email": "trailing@"},
        {"email": "pat@localhost"},  # not a domain that can stand for an account
        {"email": "pat@com"},
        {"email": None, "id": "  "},
        {"email": None, "domain": "co.uk"},
    ],
)
def test_missing_or_unusable_data_gives_no_keys(kwargs: dict) -> None:  # type: ignore[type-arg]
    email = kwargs.pop("email", None)
    assert lookup_keys(item(email, **kwargs)) == []


def test_ids_are_kv_safe() -> None:
    keys = lookup_keys(item(id="acme corp/1", external_id="ext*1"))
    assert keys == [("id", "id.acme=20corp=2f1"), ("external_id", "ext.ext=2a1")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.com", "acme.com"),
        ("https://www.Acme.com/x?y=1", "acme.com"),
        ("http://acme.com:8080", "acme.com"),
        ("ops@Acme.com", "acme.com"),
        ("acme.com.", "acme.com"),
        ("acme", None),
        ("", None),
        (None, None),
        ("acme..com", None),
        ("ac me.com", None),
    ],
)
def test_normalize_domain(raw: str | None, expected: str | None) -> None:
    assert normalize_domain(raw) == expected


def test_rows_and_updates_keep_clean_domains() -> None:
    row = AccountRow(account_id="a", domain="https://www.Acme.com/", external_id="X1", attributes={"tier": "gold"})
    assert account_from_row(row).domain == "acme.com"
    assert account_from_row(row).attributes == {"tier": "gold", "external_id": "X1"}
    assert update_from_row(row).domain == "acme.com"
    assert clean_domain("intranet") == "intranet"  # not a public domain: kept as given, lower-cased


def test_merge_changes_only_what_the_update_carries() -> None:
    existing = Account(id="a", name="Acme", domain="acme.com", arr=10.0, attributes={"x": "1"}, matched_by="id")
    merged = merge(existing, AccountUpdate(id="a", arr=20.0, domain="WWW.ACME.IO", attributes={"y": "2"}))
    assert merged == Account(id="a", name="Acme", domain="acme.io", arr=20.0, attributes={"x": "1", "y": "2"})
