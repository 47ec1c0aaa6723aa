"""Name resolution for tests: a resolver that answers from a table and never asks a real DNS server."""

from __future__ import annotations

import ipaddress
import socket
import threading

# A public address (example.com's): names tests use resolve here unless a test says otherwise.
PUBLIC = "93.184.215.14"


class FakeDNS:
    """Answers ``answers[name]``, else ``default`` (None: the name does not resolve); records what was asked.

    Injected as ``Settings.resolver`` (a boundary the tests own, like the clock); tests change answers
    between policy creation and delivery to play DNS rebinding.
    """

    def __init__(self, answers: dict[str, list[str]] | None = None, default: list[str] | None = None) -> None:
        self.answers = dict(answers or {})
        self.default = [PUBLIC] if default is None else default
        self.asked: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        with self._lock:
            self.asked.append(host)
            found = self.answers.get(host, self.default)
        if not found:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(a) for a in found]


# Every in-process test app resolves through this unless a test injects its own: no test asks real DNS.
DEFAULT = FakeDNS({"localhost": ["127.0.0.1", "::1"]})
