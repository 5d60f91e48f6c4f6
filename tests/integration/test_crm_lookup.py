"""On-miss CRM lookups against a LOCAL fake of the HubSpot and Salesforce REST APIs (a real Starlette app served
by uvicorn on a loopback port, in a thread) and a real nats-server for the directory. No mocks: requests are
counted server-side. Clocks are injected where a test needs time to pass (cache TTL, breaker cool-down).
The lookups go through the outbound guard like deliveries do: the fake is reached because 127.0.0.1 is on the
allow list (`ALLOW`, what SWITCHBOARD_OUTBOUND_ALLOW says in tests), never by a loophole in the CRM's own code."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Iterator

import pytest
import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from schemas.item import AccountRef, Item, Person
from services.common.embedded import free_port
from services.common.settings import Settings
from services.common.streams import accounts_bucket
from services.enrich.accounts import AccountDirectory
from services.enrich.breaker import CircuitBreaker
from services.enrich.crm import (
    CRM_DEFAULTS,
    CrmConfigError,
    CrmResolver,
    HubSpotCompanies,
    SalesforceAccounts,
    TtlCache,
    crm_lookup_from_settings,
    crm_resolver_from_settings,
)
from services.outbound.client import OutboundSettings
from services.outbound.guard import AllowList

pytestmark = pytest.mark.integration

TOKEN = "pat-na1-secret-token-0123456789"
ALLOW = AllowList.parse("127.0.0.1")  # the fake CRM's address, allowed like deliver's tests allow their fakes
SF_VERSION = "v61.0"


# --- the fake CRM ----------------------------------------------------------------------------------------


@dataclass
class FakeCrm:
    """What the fake answers. `fail_next` 5xx answers first, then normal ones; `mode` overrides everything."""

    companies: dict[str, dict[str, Any]] = field(default_factory=dict)  # HubSpot id → properties
    sf_accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # Salesforce Id → fields
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, query or body)
    fail_next: int = 0
    fail_status: int = 500
    mode: str = "ok"  # ok | 500 | 429 | hang | redirect | 401
    retry_after: str = "1"
    hang_s: float = 3.0
    redirect_to: str = ""

    def count(self, path_part: str = "") -> int:
        return sum(1 for _, path, _ in self.requests if path_part in path)


def hubspot_company(company_id: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": company_id,
        "properties": {"hs_object_id": company_id, "createdate": "2024-01-05T10:00:00Z",
                       "hs_lastmodifieddate": "2025-03-01T12:00:00Z", **props},
        "createdAt": "2024-01-05T10:00:00Z",
        "updatedAt": "2025-03-01T12:00:00Z",
        "archived": False,
    }


def sf_record(record: dict[str, Any]) -> dict[str, Any]:
    return {"attributes": {"type": "Account", "url": f"/services/data/{SF_VERSION}/sobjects/Account/{record['Id']}"},
            **record}


def unescape_soql(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def make_app(state: FakeCrm) -> Starlette:
    async def gate(request: Request) -> Response | None:
        body = (await request.body()).decode()
        state.requests.append((request.method, request.url.path, body or request.url.query))
        if request.headers.get("authorization") != f"Bearer {TOKEN}" or state.mode == "401":
            return JSONResponse({"status": "error", "message": "Authentication credentials not found.",
                                 "category": "INVALID_AUTHENTICATION"}, status_code=401)
        if state.mode == "hang":
            await asyncio.sleep(state.hang_s)
        if state.mode == "redirect":
            return RedirectResponse(state.redirect_to, status_code=302)
        if state.mode == "429":
            return JSONResponse({"status": "error", "message": "You have reached your secondly limit.",
                                 "errorType": "RATE_LIMIT", "policyName": "SECONDLY"},
                                status_code=429, headers={"Retry-After": state.retry_after})
        if state.mode == "500" or state.fail_next > 0:
            state.fail_next = max(0, state.fail_next - 1)
            return JSONResponse({"status": "error", "message": "internal error"}, status_code=state.fail_status)
        return None

    async def hs_get(request: Request) -> Response:
        if (stop := await gate(request)) is not None:
            return stop
        company_id = request.path_params["id"]
        if company_id not in state.companies:
            return JSONResponse({"status": "error", "message": "resource not found", "category": "OBJECT_NOT_FOUND",
                                 "correlationId": "3b1c"}, status_code=404)
        return JSONResponse(hubspot_company(company_id, state.companies[company_id]))

    async def hs_search(request: Request) -> Response:
        if (stop := await gate(request)) is not None:
            return stop
        body = await request.json()
        results = []
        for company_id in sorted(state.companies, key=int):
            props = state.companies[company_id]
            for group in body.get("filterGroups", []):
                if all(f["operator"] == "EQ" and str(props.get(f["propertyName"], "")).lower() == f["value"].lower()
                       for f in group["filters"]):
                    results.append(hubspot_company(company_id, props))
                    break
        return JSONResponse({"total": len(results), "results": results[: body.get("limit", 10)]})

    async def sf_get(request: Request) -> Response:
        if (stop := await gate(request)) is not None:
            return stop
        record = state.sf_accounts.get(request.path_params["id"])
        if record is None:
            return JSONResponse([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}],
                                status_code=404)
        return JSONResponse(sf_record(record))

    async def sf_query(request: Request) -> Response:
        if (stop := await gate(request)) is not None:
            return stop
        q = request.query_params["q"]
        match = re.search(r"WHERE Website LIKE '%((?:[^'\\]|\\.)*)%'", q)
        if not match:
            return JSONResponse([{"errorCode": "MALFORMED_QUERY", "message": "unexpected token"}], status_code=400)
        needle = unescape_soql(match.group(1)).lower()
        records = [sf_record(r) for r in state.sf_accounts.values() if needle in str(r.get("Website", "")).lower()]
        return JSONResponse({"totalSize": len(records), "done": True, "records": records})

    return Starlette(routes=[
        Route("/crm/v3/objects/companies/search", hs_search, methods=["POST"]),
        Route("/crm/v3/objects/companies/{id}", hs_get, methods=["GET"]),
        Route(f"/services/data/{SF_VERSION}/sobjects/Account/{{id}}", sf_get, methods=["GET"]),
        Route(f"/services/data/{SF_VERSION}/query", sf_query, methods=["GET"]),
    ])


class Served:
    """A uvicorn server in a thread on a free loopback port."""

    def __init__(self, state: FakeCrm) -> None:
        self.state = state
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(make_app(state), host="127.0.0.1", port=self.port, log_level="error",
                                lifespan="off", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "Served":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake CRM did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _plain_logging() -> None:
    """An earlier test may have configured structlog to print into a stream that is closed by now (the
    runner binds sys.stderr at configure time); log to the current stdout instead."""
    structlog.reset_defaults()


@pytest.fixture
def crm() -> Iterator[Served]:
    served = Served(FakeCrm()).start()
    yield served
    served.stop()


# --- helpers ---------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fast_policy(**overrides: float) -> OutboundSettings:
    """The CRM's settings of the shared client with short waits; `budget_s` is also the hard deadline, as
    crm_outbound_settings makes it."""
    values: dict[str, Any] = {"connect_timeout_s": 0.5, "read_timeout_s": 0.5, "budget_s": 2.0, "attempts": 3,
                              "max_retry_after_s": 1.0, "backoff_base_s": 0.01, "backoff_max_s": 0.05}
    values.update(overrides)
    return replace(CRM_DEFAULTS, deadline_s=values["budget_s"], **values)


def resolver(lookup: Any, clock: Clock, failures: int = 3, cooldown: float = 30.0) -> CrmResolver:
    return CrmResolver(lookup, CircuitBreaker(failures, cooldown, clock), TtlCache(100, clock),
                       hit_ttl_s=600, miss_ttl_s=300)


def item(email: str | None = None, kind: str = "zendesk", **hint: str) -> Item:
    return Item(id="i1", source="src", kind=kind, event_type="ticket.created", delivery_id="d1",
                received_at=datetime.now(UTC), text="help",
                person=Person(email=email) if email else None, account_hint=AccountRef(**hint) if hint else None)


async def directory_with(nc: Any, res: CrmResolver | None) -> AccountDirectory:
    return AccountDirectory(await accounts_bucket(nc.jetstream(), Settings()), crm=res)


# --- HubSpot ---------------------------------------------------------------------------------------------


async def test_hubspot_hit_by_domain_is_written_back(nc: Any, crm: Served) -> None:
    crm.state.companies["501"] = {"name": "Acme Inc", "domain": "www.acme.com", "annualrevenue": "250000",
                                  "plan": "enterprise", "hubspot_owner_id": "77"}
    crm.state.companies["502"] = {"name": "Not Acme", "domain": "notacme.com"}
    clock = Clock()
    directory = await directory_with(nc, resolver(HubSpotCompanies(crm.url, TOKEN, fast_policy(), allow=ALLOW), clock))

    account = await directory.match(item("pat@ACME.com"))
    assert account is not None
    assert (account.id, account.name, account.domain, account.arr, account.plan, account.owner, account.matched_by) == (
        "501", "Acme Inc", "acme.com", 250000.0, "enterprise", "77", "crm")
    assert crm.state.count("/search") == 1
    stored = await directory.get("501")
    assert stored is not None and stored.domain == "acme.com" and stored.attributes["crm"] == "hubspot"

    again = await directory.match(item("someone.else@acme.com"))  # now the directory knows it
    assert again is not None and (again.id, again.matched_by) == ("501", "domain")
    assert crm.state.count() == 1
    await directory.crm.aclose()  # type: ignore[union-attr]


async def test_hubspot_by_id_only_for_hubspot_items(nc: Any, crm: Served) -> None:
    crm.state.companies["42"] = {"name": "Initech", "domain": "initech.io"}
    directory = await directory_with(nc, resolver(HubSpotCompanies(crm.url, TOKEN, fast_policy(), allow=ALLOW), Clock()))
    # a Zendesk organisation id that happens to be numeric must not be taken for a HubSpot company id
    assert await directory.match(item(kind="zendesk", id="42")) is None
    assert crm.state.count() == 0
    account = await directory.match(item(kind="hubspot", id="42"))
    assert account is not None and (account.id, account.matched_by) == ("42", "crm")
    assert crm.state.requests[-1][0:2] == ("GET", "/crm/v3/objects/companies/42")
    await directory.crm.aclose()  # type: ignore[union-attr]


async def test_miss_is_negative_cached(nc: Any, crm: Served) -> None:
    clock = Clock()
    directory = await directory_with(nc, resolver(HubSpotCompanies(crm.url, TOKEN, fast_policy(), allow=ALLOW), clock))
    for _ in range(5):  # a hot unknown domain
        assert await directory.match(item("x@unknown-co.com")) is None
    assert crm.state.count("/search") == 1
    assert await directory.match(item("x@gmail.com")) is None  # free mail is never looked up
    assert crm.state.count() == 1
    clock.now += 301  # negative TTL passed
    assert await directory.match(item("x@unknown-co.com")) is None
    assert crm.state.count("/search") == 2
    await directory.crm.aclose()  # type: ignore[union-attr]


async def test_5xx_then_success_is_retried(nc: Any, crm: Served) -> None:
    crm.state.companies["7"] = {"name": "Globex", "domain": "globex.com"}
    crm.state.fail_next = 2
    directory = await directory_with(nc, resolver(HubSpotCompanies(crm.url, TOKEN, fast_policy(), allow=ALLOW), Clock()))
    account = await directory.match(item("a@globex.com"))
    assert account is not None and account.matched_by == "crm"
    assert crm.state.count("/search") == 3
    await directory.crm.aclose()  # type: ignore[union-attr]


async def test_429_honours_retry_after(nc: Any, crm: Served) -> None:
    crm.state.companies["7"] = {"name": "Globex", "domain": "globex.com"}
    lookup = HubSpotCompanies(crm.url, TOKEN, fast_policy(), allow=ALLOW)
    crm.state.mode, crm.state.retry_after = "429", "0.3"

    async def heal() -> None:
        await asyncio.sleep(0.1)
        crm.state.mode = "ok"

    started = time.monotonic()
    account, _ = await asyncio.gather(lookup.by_domain("globex.com"), heal())
    elapsed = time.monotonic() - started
    assert account is not None and account.id == "7"
    assert crm.state.count("/search") == 2
    assert elapsed >= 0.3  # waited as told, not the 10 ms backoff

    # a Retry-After longer than the limit gives up at once instead of stalling the stage
    crm.state.mode, crm.state.retry_after = "429", "60"
    res = resolver(lookup, Clock())
    started = time.monotonic()
    assert await res.resolve(item("b@initech.io"), (await _cands(item("b@initech.io")))) is None
    assert time.monotonic() - started < 30  # did not sleep the 60 s it was told (loose: a loaded machine is slow)
    assert crm.state.count("/search") == 3 and res.stats.failures == 1
    await lookup.aclose()


async def _cands(it: Item) -> list[Any]:
    from services.enrich.matching import candidates

    return candidates(it)


async def test_repeated_failures_open_the_breaker_until_the_cooldown(nc: Any, crm: Served) -> None:
    crm.state.companies["9"] = {"name": "Umbrella", "domain": "umbrella.org"}
    crm.state.mode = "500"
    clock = Clock()
    res = resolver(HubSpotCompanies(crm.url, TOKEN, fast_policy(attempts=2), allow=ALLOW), clock, failures=2, cooldown=30)
    directory = await directory_with(nc, res)

    assert await directory.match(item("a@one.com")) is None
    assert await directory.match(item("a@two.com")) is None
    assert crm.state.count() == 4  # two lookups, two attempts each
    assert res.breaker.state == "open"

    started = time.monotonic()
    for n in range(20):  # open: no requests, no waiting; the items flow on without an account
        assert await directory.match(item(f"a@other{n}.com")) is None
    assert time.monotonic() - started < 5  # no 20 x (2 attempts + back-off); the request count below is exact
    assert crm.state.count() == 4 and res.stats.skipped_open == 20

    crm.state.mode = "ok"
    clock.now += 29
    assert await directory.match(item("a@umbrella.org")) is None
    assert crm.state.count() == 4
    clock.now += 1  # cool-down over: one probe goes out, succeeds, and closes the breaker
    account = await directory.match(item("a@umbrella.org"))
    assert account is not None and account.matched_by == "crm"
    assert crm.state.count() == 5 and res.breaker.state == "closed"
    await res.aclose()


async def test_timeout_is_honoured(nc: Any, crm: Served) -> None:
    crm.state.mode, crm.state.hang_s = "hang", 20.0  # far beyond every bound below: only a timeout ends a call
    res = resolver(HubSpotCompanies(crm.url, TOKEN, fast_policy(read_timeout_s=0.2, attempts=1), allow=ALLOW), Clock())
    directory = await directory_with(nc, res)
    started = time.monotonic()
    assert await directory.match(item("a@slow.com")) is None
    assert time.monotonic() - started < 10  # the 0.2 s timeout, not the 20 s hang (loose for a loaded machine)
    assert res.stats.failures == 1 and "ReadTimeout" in (res.stats.last_error or "")

    # the budget caps the whole lookup, retries included
    slow = fast_policy(read_timeout_s=2.0, attempts=10, budget_s=0.5)
    res2 = resolver(HubSpotCompanies(crm.url, TOKEN, slow, allow=ALLOW), Clock())
    started = time.monotonic()
    assert await res2.resolve(item("a@slower.com"), await _cands(item("a@slower.com"))) is None
    assert time.monotonic() - started < 10  # the 0.5 s budget, not 10 attempts x 2 s (= 20 s)
    assert "no answer within 0.5s" in (res2.stats.last_error or "")
    await res.aclose()
    await res2.aclose()


async def test_crm_down_fails_fast(nc: Any, crm: Served) -> None:
    lookup = HubSpotCompanies(crm.url, TOKEN, fast_policy(), allow=ALLOW)
    crm.stop()
    res = resolver(lookup, Clock(), failures=1)
    directory = await directory_with(nc, res)
    started = time.monotonic()
    assert await directory.match(item("a@acme.com")) is None
    assert time.monotonic() - started < 5  # refused at once: no connect timeout to sit through
    assert "ConnectError" in (res.stats.last_error or "") and res.breaker.state == "open"
    await res.aclose()


async def test_redirects_are_not_followed(nc: Any, crm: Served) -> None:
    elsewhere = Served(FakeCrm()).start()
    try:
        elsewhere.state.companies["1"] = {"name": "Evil", "domain": "acme.com"}
        crm.state.mode, crm.state.redirect_to = "redirect", f"{elsewhere.url}/crm/v3/objects/companies/search"
        res = resolver(HubSpotCompanies(crm.url, TOKEN, fast_policy(), allow=ALLOW), Clock())
        directory = await directory_with(nc, res)
        assert await directory.match(item("a@acme.com")) is None
        assert elsewhere.state.requests == []
        assert "302 redirect" in (res.stats.last_error or "") and "not followed" in (res.stats.last_error or "")
        await res.aclose()
    finally:
        elsewhere.stop()


async def test_bad_token_is_a_failure_and_never_shown(nc: Any, crm: Served, capsys: pytest.CaptureFixture[str]) -> None:
    crm.state.mode = "401"
    lookup = HubSpotCompanies(crm.url, TOKEN, fast_policy(), allow=ALLOW)
    res = resolver(lookup, Clock())
    directory = await directory_with(nc, res)
    assert await directory.match(item("a@acme.com")) is None
    assert crm.state.count() == 1  # not retried
    assert (res.stats.last_error or "").startswith("hubspot: 401 ")
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err + repr(lookup) + repr(res.stats)
    await res.aclose()


# --- Salesforce ------------------------------------------------------------------------------------------


async def test_salesforce_by_domain_and_id(nc: Any, crm: Served) -> None:
    crm.state.sf_accounts["001Ax000001AAAAAA1"] = {"Id": "001Ax000001AAAAAA1", "Name": "Not Acme",
                                                    "Website": "https://notacme.com", "AnnualRevenue": 1.0}
    crm.state.sf_accounts["001Ax000002BBBBBB2"] = {"Id": "001Ax000002BBBBBB2", "Name": "Acme Inc",
                                                    "Website": "http://www.acme.com/", "AnnualRevenue": 120000.0,
                                                    "Type": "Customer - Direct", "OwnerId": "005Ax0000001xyz"}
    crm.state.sf_accounts["001Ax000003CCCCCC3"] = {"Id": "001Ax000003CCCCCC3", "Name": "Initech",
                                                    "Website": "initech.io"}
    lookup = SalesforceAccounts(crm.url, TOKEN, fast_policy(), api_version=SF_VERSION, allow=ALLOW)
    res = resolver(lookup, Clock())
    directory = await directory_with(nc, res)

    account = await directory.match(item("pat@acme.com"))
    assert account is not None
    assert (account.id, account.name, account.domain, account.arr, account.plan, account.owner, account.matched_by) == (
        "001Ax000002BBBBBB2", "Acme Inc", "acme.com", 120000.0, "Customer - Direct", "005Ax0000001xyz", "crm")
    _, path, query = crm.state.requests[-1]
    assert path.endswith("/query") and "LIKE" in query

    # a Salesforce Account id is recognisable whichever tool passed it on
    by_id = await directory.match(item(kind="zendesk", id="001Ax000003CCCCCC3"))
    assert by_id is not None and (by_id.id, by_id.matched_by) == ("001Ax000003CCCCCC3", "crm")
    assert crm.state.requests[-1][1] == f"/services/data/{SF_VERSION}/sobjects/Account/001Ax000003CCCCCC3"

    before = crm.state.count()
    assert await directory.match(item(kind="zendesk", id="12345")) is None  # not a Salesforce Account id
    assert await directory.match(item(kind="zendesk", id="001Ax000009ZZZZZZ9")) is None  # 404 → miss
    assert crm.state.count() == before + 1
    await res.aclose()


async def test_salesforce_query_is_escaped(crm: Served) -> None:
    lookup = SalesforceAccounts(crm.url, TOKEN, fast_policy(), api_version=SF_VERSION, allow=ALLOW)
    query = lookup.domain_query("x' OR Name LIKE '%")
    assert "LIKE '%x\\' OR Name LIKE \\'\\%%'" in query
    crm.state.sf_accounts["001Ax000002BBBBBB2"] = {"Id": "001Ax000002BBBBBB2", "Name": "A", "Website": "a_b.com"}
    # `_` is a LIKE wildcard: escaped, it matches only itself (the fake server unescapes like Salesforce)
    assert await lookup.by_domain("a_b.com") is not None
    await lookup.aclose()


# --- settings --------------------------------------------------------------------------------------------


def test_settings_off_by_default_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("SWITCHBOARD_CRM_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("SWITCHBOARD_OUTBOUND_ALLOW", raising=False)
    assert crm_resolver_from_settings(Settings()) is None

    monkeypatch.setenv("SWITCHBOARD_CRM_KIND", "hubspot")
    monkeypatch.setenv("SWITCHBOARD_CRM_BASE_URL", "http://api.hubapi.com")
    monkeypatch.setenv("SWITCHBOARD_CRM_TOKEN_ENV", "HUBSPOT_TOKEN")
    env = {"HUBSPOT_TOKEN": TOKEN}
    with pytest.raises(CrmConfigError, match="https only"):
        crm_lookup_from_settings(Settings(), environ=env)
    monkeypatch.setenv("SWITCHBOARD_CRM_BASE_URL", "https://169.254.169.254")  # the guard's rules, at start-up
    with pytest.raises(CrmConfigError, match="non-public"):
        crm_lookup_from_settings(Settings(), environ=env)
    monkeypatch.setenv("SWITCHBOARD_CRM_BASE_URL", "https://api.hubapi.com")
    with pytest.raises(CrmConfigError, match="HUBSPOT_TOKEN"):
        crm_lookup_from_settings(Settings(), environ={})
    monkeypatch.setenv("SWITCHBOARD_CRM_TOKEN_ENV", TOKEN)  # someone pasted the token itself
    with pytest.raises(CrmConfigError) as refused:
        crm_lookup_from_settings(Settings(), environ=env)
    assert TOKEN not in str(refused.value)
    monkeypatch.setenv("SWITCHBOARD_CRM_TOKEN_ENV", "HUBSPOT_TOKEN")
    monkeypatch.setenv("SWITCHBOARD_CRM_BREAKER_FAILURES", "7")
    res = crm_resolver_from_settings(Settings(), environ=env)
    assert res is not None and res.kind == "hubspot" and res.breaker.failure_threshold == 7
    asyncio.run(res.aclose())
