"""Socket activity of the test process, seen through an audit hook: proof that a refused delivery never connected.

While a test watches (the ``watch`` fixture in tests/conftest.py), every ``socket.connect`` and
``socket.getaddrinfo`` is recorded, and anything that would leave loopback is refused, not sent:
even a broken guard cannot send test traffic off the machine.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Watch:
    """Socket activity seen while a test watches; anything that would leave loopback is refused, not sent."""

    active: bool = False
    connects: list[str] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)
    endpoints: list[tuple[str, int]] = field(default_factory=list)


WATCH = Watch()


def _is_loopback(host: str) -> bool:
    address = ipaddress.ip_address(host.partition("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not WATCH.active:
        return
    if event == "socket.connect" and isinstance(args[1], tuple):
        host = str(args[1][0])
        WATCH.connects.append(host)
        WATCH.endpoints.append((host, int(args[1][1])))
        if not _is_loopback(host):
            raise ConnectionRefusedError(f"the test refused a connect off loopback, to {host}")
    elif event == "socket.getaddrinfo" and args[0] is not None:
        host = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
        WATCH.lookups.append(host)
        try:
            ipaddress.ip_address(host.partition("%")[0])
        except ValueError:
            if host != "localhost":
                raise socket.gaierror(socket.EAI_NONAME, f"the test refused a DNS lookup of {host}") from None


_installed = False


@contextmanager
def watching() -> Iterator[Watch]:
    """Record (and keep on loopback) the process's connects and lookups within the block."""
    global _installed
    if not _installed:
        # Audit hooks cannot be removed: one per process, recording only while a block is active.
        sys.addaudithook(_audit)
        _installed = True
    WATCH.connects.clear()
    WATCH.lookups.clear()
    WATCH.endpoints.clear()
    WATCH.active = True
    try:
        yield WATCH
    finally:
        WATCH.active = False
