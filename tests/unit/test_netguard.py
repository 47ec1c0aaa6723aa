"""The SSRF rules: which addresses a delivery may reach, IP literals in every notation, the allow-list, resolution."""

from __future__ import annotations

import ipaddress
import pickle
import platform
import socket
from urllib.parse import urlsplit

import pytest

from app import netguard
from app.netguard import BlockedAddress, IPAddress, denial, literal_address, parse_networks, resolve, system_resolver


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback (127.0.0.0/8)"),
        ("127.255.255.254", "loopback (127.0.0.0/8)"),
        ("::1", "loopback (::1/128)"),
        ("0.0.0.0", "unspecified (0.0.0.0/8)"),
        ("0.1.2.3", "unspecified (0.0.0.0/8)"),
        ("::", "unspecified (::/128)"),
        ("169.254.169.254", "link-local (169.254.0.0/16)"),
        ("fe80::1", "link-local (fe80::/10)"),
        ("10.0.0.1", "private (10.0.0.0/8)"),
        ("172.16.0.1", "private (172.16.0.0/12)"),
        ("172.31.255.255", "private (172.16.0.0/12)"),
        ("192.168.1.1", "private (192.168.0.0/16)"),
        ("100.64.0.1", "shared/CGNAT (100.64.0.0/10)"),
        ("100.127.255.255", "shared/CGNAT (100.64.0.0/10)"),
        ("fd00::1", "unique local (fc00::/7)"),
        ("fc00::1", "unique local (fc00::/7)"),
        ("224.0.0.1", "multicast (224.0.0.0/4)"),
        ("239.255.255.250", "multicast (224.0.0.0/4)"),
        ("ff02::1", "multicast (ff00::/8)"),
        ("255.255.255.255", "broadcast (255.255.255.255/32)"),
        ("198.18.0.1", "benchmarking (198.18.0.0/15)"),
        ("198.19.255.255", "benchmarking (198.18.0.0/15)"),
        ("2001:2::1", "benchmarking (2001:2::/48)"),
        ("192.0.2.1", "documentation (192.0.2.0/24)"),
        ("198.51.100.1", "documentation (198.51.100.0/24)"),
        ("203.0.113.1", "documentation (203.0.113.0/24)"),
        ("2001:db8::1", "documentation (2001:db8::/32)"),
        ("3fff::1", "documentation (3fff::/20)"),
        ("192.0.0.8", "IETF protocol assignments (192.0.0.0/24)"),
        ("2001:1::1", "IETF protocol assignments (2001::/23)"),
        ("2001::1", "Teredo (2001::/32)"),
        ("240.0.0.1", "reserved (240.0.0.0/4)"),
        ("254.255.255.255", "reserved (240.0.0.0/4)"),
        ("fec0::1", "site-local (fec0::/10)"),
        ("100::1", "discard-only (100::/64)"),
        ("64:ff9b:1::a00:1", "NAT64 local-use (64:ff9b:1::/48)"),
        ("5f00::1", "SRv6 SIDs (5f00::/16)"),
    ],
)
def test_non_public_addresses_are_refused_naming_their_rule(address: str, rule: str) -> None:
    assert denial(ip(address)) == rule


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("::ffff:169.254.169.254", "link-local (169.254.0.0/16) via IPv4-mapped ::ffff:0:0/96"),
        ("::ffff:7f00:1", "loopback (127.0.0.0/8) via IPv4-mapped ::ffff:0:0/96"),
        ("::ffff:10.0.0.1", "private (10.0.0.0/8) via IPv4-mapped ::ffff:0:0/96"),
        ("::127.0.0.1", "loopback (127.0.0.0/8) via IPv4-compatible ::/96"),
        ("::2", "unspecified (0.0.0.0/8) via IPv4-compatible ::/96"),
        ("64:ff9b::a00:1", "private (10.0.0.0/8) via NAT64 64:ff9b::/96"),
        ("64:ff9b::169.254.169.254", "link-local (169.254.0.0/16) via NAT64 64:ff9b::/96"),
        ("2002:a00:1::", "private (10.0.0.0/8) via 6to4 2002::/16"),
        ("2002:7f00:1::1", "loopback (127.0.0.0/8) via 6to4 2002::/16"),
    ],
)
def test_ipv6_forms_embedding_an_ipv4_address_are_judged_by_it(address: str, rule: str) -> None:
    assert denial(ip(address)) == rule


@pytest.mark.parametrize(
    "address",
    [
        "93.184.215.14",
        "1.1.1.1",
        "8.8.8.8",
        "2606:4700::1111",
        "2a00:1450:4001::1",
        "::ffff:1.1.1.1",
        "2002:0101:0101::1",
        "64:ff9b::808:808",
        "::1.1.1.1",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert denial(ip(address)) is None


def test_the_catch_all_refuses_what_is_not_globally_routable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netguard, "_DENIED", ())
    assert denial(ip("10.0.0.1")) == "not globally routable"
    assert denial(ip("::ffff:10.0.0.1")) == "not globally routable via IPv4-mapped ::ffff:0:0/96"
    assert denial(ip("1.1.1.1")) is None


@pytest.mark.parametrize(
    ("allowed", "address", "rule"),
    [
        ("10.1.2.0/24", "10.1.2.9", None),
        ("10.1.2.0/24", "10.1.2.0", None),
        ("10.1.2.0/24", "10.1.2.255", None),
        ("10.1.2.0/24", "10.1.3.1", "private (10.0.0.0/8)"),
        ("10.1.2.0/24", "10.1.1.255", "private (10.0.0.0/8)"),
        ("10.1.2.0/24", "::ffff:10.1.2.9", None),
        ("10.1.2.0/24", "::ffff:10.1.3.1", "private (10.0.0.0/8) via IPv4-mapped ::ffff:0:0/96"),
        ("127.0.0.0/8", "127.0.0.1", None),
        ("127.0.0.0/8", "::ffff:127.0.0.1", None),
        ("127.0.0.0/8", "2002:7f00:1::", None),
        ("127.0.0.0/8", "64:ff9b::7f00:1", None),
        ("127.0.0.0/8", "::1", "loopback (::1/128)"),
        ("127.0.0.0/8", "169.254.169.254", "link-local (169.254.0.0/16)"),
        ("::1", "::1", None),
        ("::1", "127.0.0.1", "loopback (127.0.0.0/8)"),
        ("fd00::/8", "fd00::1", None),
        ("fd00::/8", "fc00::1", "unique local (fc00::/7)"),
        ("::ffff:0:0/96", "::ffff:10.0.0.1", None),
        ("127.0.0.0/8, ::1/128", "::1", None),
    ],
)
def test_the_allow_list_opens_exactly_its_networks(allowed: str, address: str, rule: str | None) -> None:
    assert denial(ip(address), parse_networks(allowed)) == rule


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("0x7f.0x0.0x0.0x1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0x0.1", "127.0.0.1"),
        ("0xa9.254.0251.0xfe", "169.254.169.254"),
        ("0", "0.0.0.0"),
        ("4294967295", "255.255.255.255"),
        ("1.16777215", "1.255.255.255"),
        ("1.2.65535", "1.2.255.255"),
        ("127.0.0.1.", "127.0.0.1"),
        ("127.1.", "127.0.0.1"),
        ("１２７.０.０.１", "127.0.0.1"),
        ("127。0。0。1", "127.0.0.1"),
        ("::1", "::1"),
        ("::ffff:169.254.169.254", "::ffff:169.254.169.254"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
        ("::127.0.0.1", "::7f00:1"),
        ("fd00::1", "fd00::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("fe80::1%25eth0", "fe80::1"),
    ],
)
def test_literals_in_every_resolver_notation_are_recognised(host: str, address: str) -> None:
    found = literal_address(host)
    assert found == ip(address)
    assert found is not None and getattr(found, "scope_id", None) is None


@pytest.mark.parametrize(
    "host",
    [
        "hooks.example.test",
        "localhost",
        "example.com",
        "1.1.1.1.example.com",
        "0x7f.example",
        "",
        "256.1.1.1",
        "1.256.1.1",
        "0x1ffffffff",
        "4294967296",
        "1.16777216",
        "1.2.65536",
        "1.2.3.256",
        "08.0.0.1",
        "0x",
        "0x.1",
        "0x7g",
        "1e1",
        "1.2.3.4.5",
        "127..1",
        ".127.0.0.1",
        "127.0.0.1..",
        "127.0.0.1 x",
        " 127.0.0.1",
        "1_0.0.0.1",
        "١٢٧.٠.٠.١",
        "::1.",
        "::ffff:1.2.3.04",
        "fe80::1::2",
    ],
)
def test_anything_else_is_a_host_name(host: str) -> None:
    assert literal_address(host) is None


GLIBC_ACCEPTS = [
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "10.1",
    "2130706433",
    "0x7f000001",
    "0X7F000001",
    "0x7f.0x0.0x0.0x1",
    "0177.0.0.1",
    "017700000001",
    "0x7f.1",
    "0177.0x0.1",
    "0xa9.254.0251.0xfe",
    "0",
    "4294967295",
    "1.16777215",
    "1.2.65535",
]
GLIBC_REFUSES = ["256.1.1.1", "0x1ffffffff", "4294967296", "1.16777216", "08.0.0.1", "0x", "1.2.3.4.5", "127..1"]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the reference is glibc's inet_aton")
@pytest.mark.parametrize("host", GLIBC_ACCEPTS + GLIBC_REFUSES)
def test_the_ipv4_parser_agrees_with_glibc_inet_aton(host: str) -> None:
    try:
        expected: IPAddress | None = ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        expected = None
    assert (host in GLIBC_ACCEPTS) == (expected is not None)
    assert literal_address(host) == expected


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://2130706433/", "loopback (127.0.0.0/8)"),
        ("http://0x7f000001:8080/", "loopback (127.0.0.0/8)"),
        ("http://0177.0.0.1/", "loopback (127.0.0.0/8)"),
        ("http://127.1/", "loopback (127.0.0.0/8)"),
        (
            "http://[::ffff:169.254.169.254]/latest/meta-data",
            "link-local (169.254.0.0/16) via IPv4-mapped ::ffff:0:0/96",
        ),
        ("http://[fd00::1]:8080/", "unique local (fc00::/7)"),
        ("http://[::ffff:7f00:1]/", "loopback (127.0.0.0/8) via IPv4-mapped ::ffff:0:0/96"),
        ("http://[64:ff9b::a00:1]/", "private (10.0.0.0/8) via NAT64 64:ff9b::/96"),
        ("http://[2002:a00:1::]/", "private (10.0.0.0/8) via 6to4 2002::/16"),
        ("http://[::127.0.0.1]/", "loopback (127.0.0.0/8) via IPv4-compatible ::/96"),
        ("http://[fe80::1%25eth0]/", "link-local (fe80::/10)"),
        ("HTTP://[FE80::1]/", "link-local (fe80::/10)"),
    ],
)
def test_literal_target_urls_are_refused(url: str, rule: str) -> None:
    host = urlsplit(url).hostname
    assert host is not None
    address = literal_address(host)
    assert address is not None
    assert denial(address) == rule


@pytest.mark.parametrize(
    ("raw", "networks"),
    [
        ("", ()),
        ("   ", ()),
        ("127.0.0.0/8, ::1/128,10.1.2.0/24", ("127.0.0.0/8", "::1/128", "10.1.2.0/24")),
        ("10.0.0.5", ("10.0.0.5/32",)),
        ("fd00::5", ("fd00::5/128",)),
        ("10.0.0.0/8,", ("10.0.0.0/8",)),
    ],
)
def test_parse_networks_reads_a_comma_separated_list(raw: str, networks: tuple[str, ...]) -> None:
    assert parse_networks(raw) == tuple(ipaddress.ip_network(n) for n in networks)


@pytest.mark.parametrize(
    ("raw", "bad"),
    [
        ("10.1.2.3/24", "'10.1.2.3/24'"),
        ("127.0.0.0/8, banana", "'banana'"),
        ("10.0.0.0/33", "'10.0.0.0/33'"),
        ("300.0.0.0/8", "'300.0.0.0/8'"),
        ("::1/64", "'::1/64'"),
    ],
)
def test_parse_networks_refuses_a_bad_item_quoting_it(raw: str, bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        parse_networks(raw)


class RecordingResolver:
    def __init__(self, *answer: str) -> None:
        self.answer = [ip(a) for a in answer]
        self.calls: list[str] = []

    def __call__(self, host: str) -> list[IPAddress]:
        self.calls.append(host)
        return list(self.answer)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "2130706433", "::1", "fe80::1%eth0", "127.0.0.1."])
def test_resolve_answers_a_literal_without_asking_the_resolver(host: str) -> None:
    resolver = RecordingResolver("93.184.215.14")
    assert resolve(host, resolver) == [literal_address(host)]
    assert resolver.calls == []


def test_resolve_asks_the_resolver_for_a_name() -> None:
    resolver = RecordingResolver("10.0.0.1", "127.0.0.1")
    assert resolve("hooks.example.test", resolver) == [ip("10.0.0.1"), ip("127.0.0.1")]
    assert resolver.calls == ["hooks.example.test"]


def test_the_system_resolver_reads_localhost_from_the_hosts_file() -> None:
    addresses = system_resolver("localhost")
    assert ip("127.0.0.1") in addresses or ip("::1") in addresses
    assert len(addresses) == len(set(addresses))


def test_the_system_resolver_drops_zone_ids() -> None:
    assert system_resolver("fe80::1%lo") == [ip("fe80::1")]


def test_the_system_resolver_lets_a_resolution_failure_through() -> None:
    # An unknown zone fails inside getaddrinfo's numeric parsing: no DNS query leaves the machine.
    with pytest.raises(socket.gaierror):
        system_resolver("fe80::1%nosuchif0")


def test_blocked_address_names_address_rule_and_setting_and_is_not_an_oserror() -> None:
    exc = BlockedAddress(ip("169.254.169.254"), "link-local (169.254.0.0/16)")
    assert str(exc) == (
        "169.254.169.254 is link-local (169.254.0.0/16); deliveries there are refused"
        " unless DOCKHOOK_ALLOWED_TARGET_NETWORKS allows it"
    )
    assert not isinstance(exc, OSError)
    copy = pickle.loads(pickle.dumps(exc))
    assert (copy.address, copy.rule, str(copy)) == (exc.address, exc.rule, str(exc))
