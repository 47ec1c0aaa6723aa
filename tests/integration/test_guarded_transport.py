"""The connect-time SSRF guard on real loopback servers: the refused never get a socket, the allowed arrive."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme
from urllib3.util.connection import HAS_IPV6

from app.netguard import BlockedAddress, IPAddress, parse_networks
from jobs.transport import GuardedAdapter
from tests.support.connects import Watch
from tests.support.sinks import Sink

NAME = "hooks.example.test"


class Resolver:
    """Answers each lookup with the next of ``answers`` (the last one repeats), recording the names asked."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, host: str) -> list[IPAddress]:
        self.calls.append(host)
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        return [ipaddress.ip_address(a) for a in answer]


class NoSuchName:
    def __call__(self, host: str) -> list[IPAddress]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def guarded_session(allowed: str = "", resolver: Any = None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    adapter = GuardedAdapter(parse_networks(allowed), resolver=resolver)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def port_of(sink: Sink) -> int:
    return int(sink.server.server_address[1])


def post(session: requests.Session, url: str, **kwargs: Any) -> requests.Response:
    return session.post(url, data=b'{"n":1}', timeout=(5, 5), allow_redirects=False, **kwargs)


def test_an_allowed_loopback_target_receives_the_post(sink: Sink, watch: Watch) -> None:
    response = post(guarded_session("127.0.0.0/8"), sink.url)
    assert response.status_code == 200
    assert [r.body for r in sink.received] == [b'{"n":1}']
    assert watch.connects == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("host", "address", "rule"),
    [
        ("127.0.0.1", "127.0.0.1", "loopback (127.0.0.0/8)"),
        ("2130706433", "127.0.0.1", "loopback (127.0.0.0/8)"),
        ("0x7f.1", "127.0.0.1", "loopback (127.0.0.0/8)"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1", "loopback (127.0.0.0/8) via IPv4-mapped ::ffff:0:0/96"),
        (NAME, "127.0.0.1", "loopback (127.0.0.0/8)"),
        ("localhost", None, None),
    ],
)
def test_a_loopback_target_is_refused_before_any_socket_connects(
    sink: Sink, watch: Watch, host: str, address: str | None, rule: str | None
) -> None:
    session = guarded_session(resolver=Resolver(["127.0.0.1"]) if host == NAME else None)
    with pytest.raises(BlockedAddress) as refused:
        post(session, f"http://{host}:{port_of(sink)}/hook")
    assert type(refused.value) is BlockedAddress  # as raised, not wrapped in a requests exception
    if address is not None:
        assert (refused.value.address, refused.value.rule) == (ipaddress.ip_address(address), rule)
    else:  # localhost: whatever the hosts file says, it is loopback
        assert refused.value.rule in ("loopback (127.0.0.0/8)", "loopback (::1/128)")
    assert watch.connects == []
    assert sink.received == []


def test_an_ipv6_loopback_literal_is_refused_when_only_ipv4_loopback_is_allowed(sink: Sink, watch: Watch) -> None:
    with pytest.raises(BlockedAddress) as refused:
        post(guarded_session("127.0.0.0/8"), f"http://[::1]:{port_of(sink)}/hook")
    assert (refused.value.address, refused.value.rule) == (ipaddress.ip_address("::1"), "loopback (::1/128)")
    assert watch.connects == []


@pytest.mark.skipif(not HAS_IPV6, reason="needs IPv6 sockets for the IPv4-mapped connect")
def test_an_ipv4_mapped_literal_reaches_an_allowed_ipv4_network(sink: Sink, watch: Watch) -> None:
    response = post(guarded_session("127.0.0.0/8"), f"http://[::ffff:127.0.0.1]:{port_of(sink)}/hook")
    assert response.status_code == 200
    assert [ipaddress.ip_address(host) for host in watch.connects] == [ipaddress.ip_address("::ffff:127.0.0.1")]


def test_the_name_is_resolved_once_per_connection_and_that_answer_is_the_one_connected(
    sink: Sink, watch: Watch
) -> None:
    # DNS rebinding: a public answer for the check, loopback for the connect. The public address is the one
    # connected to (the test's audit hook refuses it, as nothing may leave loopback), and the next connection's
    # lookup, now answering loopback, is refused.
    resolver = Resolver(["93.184.215.14"], ["127.0.0.1"])
    session = guarded_session(resolver=resolver)
    url = f"http://{NAME}:{port_of(sink)}/hook"
    with pytest.raises(requests.exceptions.ConnectionError, match="refused a connect off loopback"):
        post(session, url)
    assert watch.connects == ["93.184.215.14"]
    with pytest.raises(BlockedAddress):
        post(session, url)
    assert resolver.calls == [NAME, NAME]
    assert watch.connects == ["93.184.215.14"]
    assert watch.lookups == []
    assert sink.received == []


def test_refused_answers_are_skipped_and_only_allowed_ones_connected(sink: Sink, watch: Watch) -> None:
    resolver = Resolver(["10.0.0.1", "127.0.0.1"])
    response = post(guarded_session("127.0.0.0/8", resolver), f"http://{NAME}:{port_of(sink)}/hook")
    assert response.status_code == 200
    assert watch.connects == ["127.0.0.1"]
    assert resolver.calls == [NAME]


def test_a_refused_connect_falls_back_to_the_next_allowed_address(sink: Sink, watch: Watch) -> None:
    # The sink listens on 127.0.0.1 only, so 127.0.0.2 refuses the connection.
    session = guarded_session("127.0.0.0/8", Resolver(["127.0.0.2", "127.0.0.1"]))
    assert post(session, f"http://{NAME}:{port_of(sink)}/hook").status_code == 200
    assert watch.connects == ["127.0.0.2", "127.0.0.1"]


def test_keep_alive_reuses_the_connection_without_resolving_again(sink: Sink, watch: Watch) -> None:
    resolver = Resolver(["127.0.0.1"])
    session = guarded_session("127.0.0.0/8", resolver)
    url = f"http://{NAME}:{port_of(sink)}/hook"
    assert [post(session, url).status_code for _ in range(3)] == [200, 200, 200]
    assert len(sink.received) == 3
    assert resolver.calls == [NAME]
    assert watch.connects == ["127.0.0.1"]


def tls_sink(directory: Path, certified_name: str, server_names: list[str | None]) -> tuple[Sink, Path]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(certified_name).configure_cert(context)
    context.sni_callback = lambda _socket, name, _context: server_names.append(name)
    bundle = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return Sink(tls=context), bundle


def test_https_to_a_name_uses_the_name_for_sni_the_certificate_and_host(tmp_path: Path, watch: Watch) -> None:
    server_names: list[str | None] = []
    sink, bundle = tls_sink(tmp_path, NAME, server_names)
    try:
        session = guarded_session("127.0.0.0/8", Resolver(["127.0.0.1"]))
        response = post(session, f"https://{NAME}:{port_of(sink)}/hook", verify=str(bundle))
        assert response.status_code == 200
        assert sink.received[0].headers["host"] == f"{NAME}:{port_of(sink)}"
        assert server_names == [NAME]
        assert watch.connects == ["127.0.0.1"]
    finally:
        sink.close()


def test_https_fails_when_the_certificate_names_another_host(tmp_path: Path, watch: Watch) -> None:
    sink, bundle = tls_sink(tmp_path, "other.example.test", [])
    try:
        session = guarded_session("127.0.0.0/8", Resolver(["127.0.0.1"]))
        with pytest.raises(requests.exceptions.SSLError):
            post(session, f"https://{NAME}:{port_of(sink)}/hook", verify=str(bundle))
        assert sink.received == []
    finally:
        sink.close()


def test_a_name_that_does_not_resolve_fails_as_urllib3_reports_it(watch: Watch) -> None:
    with pytest.raises(requests.exceptions.ConnectionError) as failed:
        post(guarded_session(resolver=NoSuchName()), f"http://{NAME}/hook")
    assert "NameResolutionError" in repr(failed.value)
    assert watch.connects == []


def test_a_proxy_is_refused_rather_than_left_to_choose_the_address(sink: Sink, watch: Watch) -> None:
    proxy = f"http://127.0.0.1:{port_of(sink)}"
    with pytest.raises(requests.exceptions.InvalidProxyURL):
        post(guarded_session("127.0.0.0/8"), "http://93.184.215.14/hook", proxies={"http": proxy})
    assert watch.connects == []
