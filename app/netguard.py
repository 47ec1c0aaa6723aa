"""Which addresses a webhook delivery may reach: literal parsing, resolution and the deny table (stdlib only)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], list[IPAddress]]

_net = ipaddress.ip_network

# Checked in order, so a narrower range that sits inside a wider one comes first (broadcast before reserved,
# benchmarking and Teredo before the IETF block) and the message names the rule that really applies.
_DENIED: tuple[tuple[IPNetwork, str], ...] = (
    (_net("0.0.0.0/8"), "unspecified"),
    (_net("10.0.0.0/8"), "private"),
    (_net("100.64.0.0/10"), "shared/CGNAT"),
    (_net("127.0.0.0/8"), "loopback"),
    (_net("169.254.0.0/16"), "link-local"),
    (_net("172.16.0.0/12"), "private"),
    (_net("192.0.0.0/24"), "IETF protocol assignments"),
    (_net("192.0.2.0/24"), "documentation"),
    (_net("192.168.0.0/16"), "private"),
    (_net("198.18.0.0/15"), "benchmarking"),
    (_net("198.51.100.0/24"), "documentation"),
    (_net("203.0.113.0/24"), "documentation"),
    (_net("224.0.0.0/4"), "multicast"),
    (_net("255.255.255.255/32"), "broadcast"),
    (_net("240.0.0.0/4"), "reserved"),
    (_net("::/128"), "unspecified"),
    (_net("::1/128"), "loopback"),
    (_net("64:ff9b:1::/48"), "NAT64 local-use"),
    (_net("100::/64"), "discard-only"),
    (_net("2001:2::/48"), "benchmarking"),
    (_net("2001::/32"), "Teredo"),
    (_net("2001::/23"), "IETF protocol assignments"),
    (_net("2001:db8::/32"), "documentation"),
    # Newer than the is_global tables of the Pythons we run on (RFC 9637, RFC 9602).
    (_net("3fff::/20"), "documentation"),
    (_net("5f00::/16"), "SRv6 SIDs"),
    (_net("fc00::/7"), "unique local"),
    (_net("fe80::/10"), "link-local"),
    (_net("fec0::/10"), "site-local"),
    (_net("ff00::/8"), "multicast"),
)

_IPV4_MAPPED = _net("::ffff:0:0/96")
_IPV4_COMPATIBLE = _net("::/96")
_NAT64 = _net("64:ff9b::/96")
_SIX_TO_FOUR = _net("2002::/16")

_DIGITS = {8: frozenset("01234567"), 10: frozenset("0123456789"), 16: frozenset("0123456789abcdefABCDEF")}


class BlockedAddress(Exception):
    """A delivery was refused before any connect: ``address`` is covered by ``rule``.

    Deliberately not an OSError: urllib3 and requests would wrap it as a connection failure and retry it.
    """

    def __init__(self, address: IPAddress, rule: str) -> None:
        super().__init__(address, rule)
        self.address = address
        self.rule = rule

    def __str__(self) -> str:
        return (
            f"{self.address} is {self.rule}; deliveries there are refused"
            " unless DOCKHOOK_ALLOWED_TARGET_NETWORKS allows it"
        )


def parse_networks(raw: str) -> tuple[IPNetwork, ...]:
    """Networks from a comma-separated list ("127.0.0.0/8, ::1/128"); a bare address is a /32 or /128.

    Empty items are skipped, so "" and a trailing comma are fine. Raises ValueError quoting the bad item
    for anything that is not a network, including one with host bits set ("10.1.2.3/24").
    """
    networks: list[IPNetwork] = []
    for item in raw.split(","):
        part = item.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part))
        except ValueError as exc:
            raise ValueError(f"{part!r} is not an IP network: {exc}") from None
    return tuple(networks)


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` denotes when it is an IP literal in any notation the system resolver accepts, else None.

    ``host`` is a URL's host name as urlsplit gives it (brackets removed). IPv4 follows glibc's inet_aton:
    1 to 4 parts, each decimal, 0x-hex or 0-octal, the last filling the remaining bytes ("127.1",
    "2130706433", "0x7f.0.0.1", "0177.0.0.1"). IPv6 may embed a dotted quad and carry a zone id
    ("fe80::1%eth0", "fe80::1%25eth0"), which is dropped. A numeric form may end in one dot ("127.0.0.1.").
    """
    if not host.isascii():
        # Full-width digits and ideographic dots fold to ASCII under IDNA, and "１２７。０。０。１" would reach
        # getaddrinfo as "127.0.0.1": parse what the resolver would be given, not what the author typed.
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            return None
    # glibc's getaddrinfo hands "127.0.0.1." to DNS (inet_aton refuses the trailing dot) and a resolver could
    # answer anything for it. Taking it as the literal, as URL parsers do, keeps the verdict independent of DNS.
    return _inet_aton(host.removesuffix("."))


def _inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """glibc inet_aton, exact form (no trailing characters) as getaddrinfo uses it.

    Anything glibc refuses (a part out of range such as "256.1.1.1" or "0x1ffffffff", "08", more than 4 parts,
    an empty part) is None: getaddrinfo then looks the text up as a DNS name, and whatever that answers is
    checked like any other resolved address.
    """
    parts = text.split(".")
    if len(parts) > 4:
        return None
    values: list[int] = []
    for part in parts:
        value = _c_number(part)
        if value is None:
            return None
        values.append(value)
    *leading, last = values
    if any(value > 0xFF for value in leading) or last >= 1 << (8 * (4 - len(leading))):
        return None
    number = 0
    for value in leading:
        number = number << 8 | value
    return ipaddress.IPv4Address(number << (8 * (4 - len(leading))) | last)


def _c_number(part: str) -> int | None:
    """One inet_aton part: strtoul(base 0) of ASCII digits only (int() would also take "_", spaces and "٣")."""
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
    elif part.startswith("0"):
        digits, base = part, 8
    else:
        digits, base = part, 10
    if not digits or not set(digits) <= _DIGITS[base]:
        return None
    return int(digits, base)


def denial(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """None when a delivery may connect to ``address``; otherwise the rule refusing it, e.g. "loopback (127.0.0.0/8)".

    Non-public ranges are refused unless a network in ``allowed`` covers the address. IPv6 forms that designate
    an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are judged by that IPv4 address, and are allowed
    when ``allowed`` covers either the IPv6 address or the IPv4 one.
    """
    if _covered(address, allowed):
        return None
    embedded = _embedded_ipv4(address)
    if embedded is None:
        return _rule(address)
    form, ipv4 = embedded
    if _covered(ipv4, allowed):
        return None
    rule = _rule(ipv4)
    return None if rule is None else f"{rule} via {form}"


def _covered(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in networks)


def _rule(address: IPAddress) -> str | None:
    for network, name in _DENIED:
        if address in network:
            return f"{name} ({network})"
    if not address.is_global:
        return "not globally routable"
    return None


def _embedded_ipv4(address: IPAddress) -> tuple[str, ipaddress.IPv4Address] | None:
    """(form, IPv4 address) when ``address`` is an IPv6 form that designates an IPv4 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _IPV4_MAPPED:
        return f"IPv4-mapped {_IPV4_MAPPED}", low32
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are IPv6's own
        return f"IPv4-compatible {_IPV4_COMPATIBLE}", low32
    if address in _NAT64:
        return f"NAT64 {_NAT64}", low32
    if address in _SIX_TO_FOUR:
        return f"6to4 {_SIX_TO_FOUR}", ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)
    return None


def system_resolver(host: str) -> list[IPAddress]:
    """The addresses getaddrinfo gives for ``host`` (TCP), each once, in its order, zone ids dropped.

    Raises socket.gaierror when the name does not resolve.
    """
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonname, sockaddr in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def resolve(host: str, resolver: Resolver | None = None) -> list[IPAddress]:
    """[the literal] when ``host`` is an IP literal (no resolver is called), else ``resolver(host)``.

    ``resolver`` defaults to system_resolver; its exceptions (socket.gaierror) propagate.
    """
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    return (resolver or system_resolver)(host)
