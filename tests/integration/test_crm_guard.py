"""CRM lookups go through the outbound SSRF guard: a base URL the guard refuses fails when the lookup is
configured, a host name that resolves to a non-public address is refused when the first lookup connects, and in
neither case does anything reach the address. The "address" is a local listener that counts connections (TCP,
before any HTTP or TLS); a resolver is injected so that a public-looking name can answer with its address."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import replace
from datetime import UTC, datetime
from typing import AsyncIterator

import pytest
import structlog

from schemas.item import Item, Person
from services.common.settings import Settings
from services.enrich.breaker import CircuitBreaker
from services.enrich.crm import CRM_DEFAULTS, CrmConfigError, CrmResolver, HubSpotCompanies, crm_lookup_from_settings
from services.enrich.crm.lookup import CrmUnavailable
from services.enrich.matching import candidates
from services.outbound.guard import AllowList, IPAddress

pytestmark = pytest.mark.integration

TOKEN = "pat-na1-secret-token-0123456789"
ONE_ATTEMPT = replace(CRM_DEFAULTS, attempts=1)


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts (and closes them)."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def start(self) -> "Listener":
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self


@pytest.fixture(autouse=True)
def _plain_logging() -> None:
    structlog.reset_defaults()  # as in test_crm_lookup: an earlier test may have left a closed stream configured


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    served = await Listener().start()
    yield served
    assert served.server is not None
    served.server.close()
    await served.server.wait_closed()


def resolving_to(answer: str):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        calls.append(host)
        return [ipaddress.ip_address(answer)]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def settings_for(base_url: str, allow: str = "") -> Settings:
    return Settings(crm_kind="hubspot", crm_base_url=base_url, crm_token_env="HUBSPOT_TOKEN", outbound_allow=allow)


@pytest.mark.parametrize("url, why", [
    ("http://169.254.169.254", "https only"),
    ("https://169.254.169.254", "169.254.169.254 resolves to 169.254.169.254, a non-public address"),
    ("https://10.1.2.3", "non-public"),
    ("https://[fd00:ec2::254]", "non-public"),
    ("https://0x7f.0.0.1", "non-canonical"),
])
def test_a_base_url_the_guard_refuses_fails_at_configuration(url: str, why: str) -> None:
    with pytest.raises(CrmConfigError, match=f"refused by the outbound guard: .*{why}"):
        crm_lookup_from_settings(settings_for(url), environ={"HUBSPOT_TOKEN": TOKEN})


@pytest.mark.parametrize("scheme, why", [("http", "https only"), ("https", "non-public")])
async def test_a_loopback_base_url_is_refused_unless_allow_listed(listener: Listener, scheme: str, why: str) -> None:
    url = f"{scheme}://127.0.0.1:{listener.port}"
    with pytest.raises(CrmConfigError, match=why):
        crm_lookup_from_settings(settings_for(url), environ={"HUBSPOT_TOKEN": TOKEN})
    assert listener.connections == 0
    # the same URL with SWITCHBOARD_OUTBOUND_ALLOW=127.0.0.1 (what tests set) is accepted
    lookup = crm_lookup_from_settings(settings_for(url, allow="127.0.0.1"), environ={"HUBSPOT_TOKEN": TOKEN})
    assert lookup is not None
    await lookup.aclose()


@pytest.mark.parametrize("answer", ["127.0.0.1", "169.254.169.254", "10.0.0.7", "::1"])
async def test_a_name_resolving_to_a_non_public_address_is_refused_and_nothing_is_sent(
    listener: Listener, answer: str
) -> None:
    resolve = resolving_to(answer)
    lookup = HubSpotCompanies(f"https://crm.example:{listener.port}", TOKEN, ONE_ATTEMPT, resolve=resolve)
    with pytest.raises(CrmUnavailable, match=f"refused by the outbound guard: crm.example resolves to {answer}"):
        await lookup.by_domain("acme.com")
    assert resolve.calls == ["crm.example"] and listener.connections == 0

    # through the resolver: the item flows on without an account, the failure says why, the breaker counts it
    res = CrmResolver(lookup, CircuitBreaker(1, 30.0))
    it = Item(id="i1", source="src", kind="zendesk", event_type="ticket.created", delivery_id="d1",
              received_at=datetime.now(UTC), text="help", person=Person(email="pat@acme.com"))
    assert await res.resolve(it, candidates(it)) is None
    assert "non-public address" in (res.stats.last_error or "") and res.breaker.state == "open"
    assert listener.connections == 0
    await res.aclose()


async def test_the_listener_does_see_a_connection_the_guard_lets_through(listener: Listener) -> None:
    """The control for the test above: allow-listed by name, the same set-up reaches the listener (which closes
    the connection, so the lookup fails), so zero connections there means the guard stopped them."""
    lookup = HubSpotCompanies(f"https://crm.example:{listener.port}", TOKEN, ONE_ATTEMPT,
                              allow=AllowList.parse("crm.example"), resolve=resolving_to("127.0.0.1"))
    with pytest.raises(CrmUnavailable):
        await lookup.by_domain("acme.com")
    assert listener.connections == 1
    await lookup.aclose()
