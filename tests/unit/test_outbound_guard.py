"""The SSRF guard: scheme, configured hosts, odd IP spellings, and the resolved address (checked at connect time
by the guarded transport, with an injected resolver: no network)."""

from __future__ import annotations

import ipaddress

import pytest

from services.outbound.client import OutboundClient, OutboundRequest
from services.outbound.errors import Refused
from services.outbound.guard import AllowList, check_url, ip_literal, is_blocked, pick_address
from services.outbound.transport import GuardedBackend

pytestmark = pytest.mark.unit

HOSTS = frozenset({"acme.zendesk.com", "hooks.slack.com", "jira.intranet", "127.0.0.1", "::1", "0.0.0.0",
                   "169.254.169.254", "metadata.google.internal", "rebind.example"})
NONE = AllowList.parse("")


@pytest.mark.parametrize("url", [
    "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.0.0.1/", "http://0x7f000001/", "http://127.1/",
    "https://2130706433/api", "https://017700000001/",
])
def test_decimal_octal_and_hex_ip_spellings_are_refused(url: str) -> None:
    with pytest.raises(Refused, match="non-canonical"):
        check_url(url, HOSTS | {url.split("/")[2]}, AllowList.parse("127.0.0.0/8"))  # even when allowed


def test_https_to_a_configured_host_passes() -> None:
    target = check_url("https://acme.zendesk.com/api/v2/tickets/1.json", HOSTS, NONE)
    assert (target.scheme, target.host, target.port) == ("https", "acme.zendesk.com", 443)


@pytest.mark.parametrize("url, why", [
    ("https://evil.example/x", "not a configured"),
    ("http://acme.zendesk.com/x", "https only"),
    ("ftp://acme.zendesk.com/x", "not allowed"),
    ("https://user:pw@acme.zendesk.com/x", "credentials"),
    ("http://127.0.0.1:9/x", "https only"),
])
def test_urls_refused_before_any_connection(url: str, why: str) -> None:
    with pytest.raises(Refused, match=why):
        check_url(url, HOSTS, NONE)


def test_http_is_allowed_only_for_an_allowed_host_or_cidr() -> None:
    assert check_url("http://127.0.0.1:9/x", HOSTS, AllowList.parse("127.0.0.1")).scheme == "http"
    assert check_url("http://127.0.0.1:9/x", HOSTS, AllowList.parse("127.0.0.0/8")).port == 9
    assert check_url("http://jira.intranet/x", HOSTS, AllowList.parse("jira.intranet, 10.0.0.0/8")).host == "jira.intranet"
    with pytest.raises(Refused):
        check_url("http://jira.intranet/x", HOSTS, AllowList.parse("10.0.0.0/8"))


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "0.0.0.0", "::", "169.254.169.254", "fd00:ec2::254",
                                     "10.1.2.3", "192.168.0.1", "172.16.5.5", "224.0.0.1", "ff02::1", "fe80::1",
                                     "::ffff:127.0.0.1", "100.64.0.1"])
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert is_blocked(ipaddress.ip_address(address))
    with pytest.raises(Refused, match="non-public"):
        pick_address("some.host", [ipaddress.ip_address(address)], NONE)


def test_public_addresses_pass_and_allow_list_by_host_or_cidr() -> None:
    assert not is_blocked(ipaddress.ip_address("93.184.216.34"))
    assert pick_address("h", [ipaddress.ip_address("93.184.216.34")], NONE) == ipaddress.ip_address("93.184.216.34")
    ten = ipaddress.ip_address("10.1.2.3")
    assert pick_address("jira.intranet", [ten], AllowList.parse("jira.intranet")) == ten  # by host
    assert pick_address("other", [ten], AllowList.parse("10.0.0.0/8")) == ten  # by CIDR
    with pytest.raises(Refused):
        pick_address("other", [ten], AllowList.parse("10.2.0.0/16"))


def test_a_name_that_also_resolves_to_a_private_address_is_refused() -> None:
    with pytest.raises(Refused):
        pick_address("h", [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("127.0.0.1")], NONE)


def test_ip_literal_reads_canonical_forms_only() -> None:
    assert ip_literal("127.0.0.1") == ipaddress.ip_address("127.0.0.1")
    assert ip_literal("[::1]") == ipaddress.ip_address("::1")
    assert ip_literal("acme.zendesk.com") is None
    with pytest.raises(Refused):
        ip_literal("0177.0.0.1")


def resolver(answer: str):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list:  # type: ignore[type-arg]
        calls.append(host)
        return [ipaddress.ip_address(answer)]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


async def test_a_dns_name_resolving_to_loopback_is_refused_at_connect_time() -> None:
    resolve = resolver("127.0.0.1")
    backend = GuardedBackend(NONE, resolve)
    with pytest.raises(Refused, match="rebind.example resolves to 127.0.0.1"):
        await backend.connect_tcp("rebind.example", 443)
    assert resolve.calls == ["rebind.example"]  # resolved once


@pytest.mark.parametrize("url", ["https://127.0.0.1/x", "https://[::1]/x", "https://0.0.0.0/x",
                                 "https://169.254.169.254/latest/meta-data/", "https://rebind.example/x",
                                 "https://metadata.google.internal/x"])
async def test_the_client_refuses_non_public_targets_without_connecting(url: str) -> None:
    client = OutboundClient(HOSTS, NONE, resolve=resolver("169.254.169.254"))
    try:
        with pytest.raises(Refused):
            await client.send(OutboundRequest(kind="test", method="POST", url=url, body={"a": 1}))
    finally:
        await client.aclose()
