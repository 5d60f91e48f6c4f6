"""An httpx transport that resolves each host once, checks the address with the guard, and connects to that
very address (no second lookup an attacker's DNS could answer differently). TLS still verifies the
certificate against the host name and sends it as SNI: httpcore passes the origin's host to `start_tls`."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Awaitable, Callable, Iterable

import httpcore
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream
from httpcore._backends.auto import AutoBackend

from services.outbound.guard import AllowList, IPAddress, ip_literal, pick_address

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


async def system_resolve(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in seen:
            seen.append(address)
    return seen


class GuardedBackend(AsyncNetworkBackend):
    """httpcore network backend: resolve, check, connect to the checked address."""

    def __init__(self, allow: AllowList, resolve: Resolver = system_resolve) -> None:
        self.allow = allow
        self.resolve = resolve
        self.inner = AutoBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Iterable[httpcore._backends.base.SOCKET_OPTION] | None = None,  # type: ignore[name-defined]
    ) -> AsyncNetworkStream:
        literal = ip_literal(host)
        addresses = [literal] if literal is not None else await self.resolve(host, port)
        address = pick_address(host, addresses, self.allow)
        return await self.inner.connect_tcp(str(address), port, timeout, local_address, socket_options)

    async def connect_unix_socket(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise httpcore.ConnectError("unix sockets are not an outbound target")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, allow: AllowList, resolve: Resolver = system_resolve, max_connections: int = 100) -> None:
        super().__init__(trust_env=False)  # no proxy from the environment: it would bypass the address check
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=20,
            keepalive_expiry=30.0,
            network_backend=GuardedBackend(allow, resolve),
        )
