"""A requests adapter whose every new connection goes only to addresses app.netguard allows (the SSRF guard)."""

from __future__ import annotations

import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from requests.adapters import DEFAULT_POOLBLOCK, HTTPAdapter
from requests.exceptions import InvalidProxyURL
from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, LocationParseError, NameResolutionError, NewConnectionError
from urllib3.util.connection import _TYPE_SOCKET_OPTIONS

from app import netguard
from app.netguard import BlockedAddress, IPAddress, IPNetwork, Resolver


@dataclass(frozen=True)
class _Guard:
    allowed: tuple[IPNetwork, ...]
    resolver: Resolver | None


class GuardedHTTPConnection(HTTPConnection):
    """An HTTP connection whose socket goes to a checked address of its host (see _guarded_socket)."""

    def __init__(self, *args: Any, guard: _Guard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard = guard

    def _new_conn(self) -> socket.socket:
        return _guarded_socket(self, self._guard)


class GuardedHTTPSConnection(HTTPSConnection):
    """An HTTPS connection whose socket goes to a checked address; SNI and the certificate check use the host name."""

    def __init__(self, *args: Any, guard: _Guard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard = guard

    def _new_conn(self) -> socket.socket:
        return _guarded_socket(self, self._guard)


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class _GuardedPoolManager(PoolManager):
    """Hands every pool it creates the guard, which the pool passes on to each connection it opens."""

    def __init__(self, guard: _Guard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_classes_by_scheme = {"http": _GuardedHTTPConnectionPool, "https": _GuardedHTTPSConnectionPool}
        self._guard = guard

    def _new_pool(
        self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None
    ) -> HTTPConnectionPool:
        # Added here, not to connection_pool_kw: every key there becomes part of the pool key, whose fields are fixed.
        context = dict(self.connection_pool_kw if request_context is None else request_context)
        context["guard"] = self._guard
        return super()._new_pool(scheme, host, port, context)


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter that connects only to addresses netguard.denial lets through.

    Each new connection resolves its host once (netguard.resolve with ``resolver``), and connects to the
    addresses that ``allowed`` and the public-address rules permit, in order; the TLS server name, the
    certificate check and the Host header still use the URL's host name. When no address is permitted
    it raises netguard.BlockedAddress (first refused address) before creating a socket; that exception
    leaves ``Session.send`` as it is, unwrapped. A name that does not resolve fails as in plain urllib3
    (NameResolutionError inside requests' ConnectionError). Proxies are refused (InvalidProxyURL): through
    one, the proxy and not this guard would choose the address connected to.
    """

    __attrs__ = [*HTTPAdapter.__attrs__, "_guard"]

    def __init__(self, allowed: Sequence[IPNetwork] = (), resolver: Resolver | None = None, **kwargs: Any) -> None:
        self._guard = _Guard(tuple(allowed), resolver)  # before super().__init__, which builds the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = DEFAULT_POOLBLOCK, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager = _GuardedPoolManager(
            self._guard, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise InvalidProxyURL(f"deliveries do not go through proxies (got {proxy!r}): the guard could not check them")


def _guarded_socket(conn: HTTPConnection, guard: _Guard) -> socket.socket:
    """urllib3's HTTPConnection._new_conn, except that the address comes from one resolution and is checked first."""
    host = conn._dns_host.strip("[]")  # keeps a trailing dot, which matters to DNS (see HTTPConnection.host)
    try:
        host.encode("idna")
    except UnicodeError:
        raise LocationParseError(f"'{host}', label empty or too long") from None
    try:
        addresses = netguard.resolve(host, guard.resolver)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    permitted: list[IPAddress] = []
    refused: BlockedAddress | None = None
    for address in addresses:
        rule = netguard.denial(address, guard.allowed)
        if rule is None:
            permitted.append(address)
        elif refused is None:
            refused = BlockedAddress(address, rule)
    if refused is not None and not permitted:
        raise refused
    try:
        sock = _connect_first(permitted, conn.port, conn.timeout, conn.source_address, conn.socket_options)
    except TimeoutError as exc:
        raise ConnectTimeoutError(
            conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})"
        ) from exc
    except OSError as exc:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc
    sys.audit("http.client.connect", conn, conn.host, conn.port)
    return sock


def _connect_first(
    addresses: list[IPAddress],
    port: int,
    timeout: float | None,
    source_address: tuple[str, int] | None,
    options: _TYPE_SOCKET_OPTIONS | None,
) -> socket.socket:
    """A socket connected to the first of ``addresses`` that accepts, as urllib3's create_connection does for DNS."""
    error: OSError = OSError("the resolver returned no addresses")
    for address in addresses:
        sock = None
        try:
            sock = socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET, socket.SOCK_STREAM)
            for option in options or ():
                sock.setsockopt(*option)
            sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect((str(address), port))
            return sock
        except OSError as exc:
            error = exc
            if sock is not None:
                sock.close()
    raise error
