"""The SSRF guard (pure): which URLs and which resolved addresses an outbound call may reach.

- Scheme: https only; `http://` only for a host (or an address in a CIDR) listed in SWITCHBOARD_OUTBOUND_ALLOW.
- Host: only hosts Switchboard was configured to call (each source's `reply.url`, each team's Slack webhook,
  `hooks.slack.com` for Slack response URLs).
- IP literals must be written canonically: `2130706433`, `0177.0.0.1`, `0x7f.1` (which C resolvers read as
  127.0.0.1) are refused outright.
- Address: every address the name resolves to is checked, and the connection goes to the checked one
  (transport.py): no loopback, private, link-local, multicast, unspecified, reserved or cloud metadata
  address unless the host, or a CIDR holding the address, is in the allow list.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.outbound.errors import Refused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SLACK_RESPONSE_HOST = "hooks.slack.com"
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


@dataclass(frozen=True)
class AllowList:
    """SWITCHBOARD_OUTBOUND_ALLOW: comma-separated host names, addresses and CIDRs."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> "AllowList":
        hosts: set[str] = set()
        networks = []
        for part in (p.strip().lower() for p in (text or "").split(",")):
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part.strip("[]"), strict=False))
            except ValueError:
                hosts.add(part)
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str, address: IPAddress | None = None) -> bool:
        if host.lower() in self.hosts:
            return True
        if address is None:
            literal = ip_literal(host)
            address = literal
        return address is not None and any(address in net for net in self.networks if net.version == address.version)


def ip_literal(host: str) -> IPAddress | None:
    """The address a canonical IP literal names; None for a host name. Refused: non-canonical spellings."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    try:
        socket.inet_aton(bare)  # accepts 2130706433, 0177.0.0.1, 0x7f.1, 127.1 ...
    except OSError:
        return None
    raise Refused(f"{host!r} is a non-canonical IP address spelling: refused")


def is_blocked(address: IPAddress) -> bool:
    """Not a public unicast address (loopback, private, link-local, multicast, unspecified, metadata...)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address in METADATA
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or not address.is_global
    )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def check_url(url: str, configured_hosts: frozenset[str], allow: AllowList) -> Target:
    """Refuse a URL before any connection: scheme, configured host, IP spelling. Raises Refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not host:
        raise Refused("URL without a host")
    if parts.username or parts.password:
        raise Refused("URL with credentials in it")
    literal = ip_literal(host)  # raises on 2130706433 / 0177.0.0.1
    if scheme not in ("https", "http"):
        raise Refused(f"scheme {scheme!r} is not allowed (https only)")
    if scheme == "http" and not allow.allows(host, literal):
        raise Refused(f"http:// to {host} refused: https only (list the host in SWITCHBOARD_OUTBOUND_ALLOW)")
    if host not in configured_hosts:
        raise Refused(f"host {host} is not a configured reply, notify or Slack host")
    return Target(scheme, host, port or (443 if scheme == "https" else 80))


def check_address(host: str, address: IPAddress, allow: AllowList) -> None:
    """Refuse a resolved address that is not public, unless the host or a CIDR holding it is allowed."""
    if is_blocked(address) and not allow.allows(host, address):
        raise Refused(f"{host} resolves to {address}, a non-public address (not in SWITCHBOARD_OUTBOUND_ALLOW)")


def pick_address(host: str, addresses: list[IPAddress], allow: AllowList) -> IPAddress:
    """The address to connect to: every resolved address must pass (a name that also resolves to a private
    address is refused as a whole, so DNS answer order cannot be used to sneak one in)."""
    if not addresses:
        raise Refused(f"{host} did not resolve")
    for address in addresses:
        check_address(host, address, allow)
    return addresses[0]
