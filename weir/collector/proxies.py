"""The reader's address behind proxies the operator trusts, and only those.

In: the TCP peer's address and the request's forwarding header. Out: the client's address
(a normalised `ipaddress` object), or None when it cannot be known, and an outcome name the
collector counts.

A forwarding header is read only when the peer is inside a trusted range: anyone else can
write any `X-Forwarded-For` they like, so an untrusted peer's header is ignored (and
counted) and the peer is the client. From a trusted peer the header's hops are read from
the right (each proxy appends the address it saw), skipping trusted addresses; the first
untrusted hop is the client. A hop that is not an address (`unknown`, an obfuscated
identifier, garbage) ends the walk with no client: a guess would be a wrong country and a
wrong visitor. When every hop is trusted, the left-most is the client.

One header is read, the one the operator names: reading both `X-Forwarded-For` and
`Forwarded` would let a client forge the one its proxy does not set.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from weir.usage import UsageError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Named ranges an operator can trust by name (docs/collector.md says when each applies).
PRESETS: dict[str, tuple[str, ...]] = {
    "loopback": ("127.0.0.0/8", "::1/128"),  # nginx or another proxy on the same machine
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"),  # a proxy on a private network
    # Cloud Run's front end reaches the container from link-local addresses and sets
    # X-Forwarded-For to the address it saw.
    "cloud-run": ("169.254.0.0/16", "fe80::/10"),
    # Google Cloud's external Application Load Balancers and health checks (Google Front Ends).
    "google-lb": ("35.191.0.0/16", "130.211.0.0/22"),
}
HEADERS = ("x-forwarded-for", "forwarded")


def parse_networks(specs: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs, single addresses or preset names -> networks; ValueError names what is not one."""
    networks: list[Network] = []
    for spec in specs:
        spec = spec.strip()
        for part in PRESETS.get(spec, (spec,)):
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                names = ", ".join(PRESETS)
                raise UsageError(f"{spec!r} is neither an address, a CIDR range nor a preset ({names})") from None
    return tuple(networks)


def parse_address(text: str) -> Address | None:
    """One hop as a proxy writes it: `a.b.c.d`, `a.b.c.d:port`, `v6`, `[v6]` or `[v6]:port`
    (quotes allowed, as in `Forwarded`) -> the address, IPv4-mapped IPv6 as IPv4; None if it is
    not an address."""
    text = text.strip().strip('"').strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or (text[end + 1 :] and not re.fullmatch(r":\d{1,5}", text[end + 1 :])):
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # IPv4 with a port; a bare IPv6 has two or more colons
        text, port = text.split(":")
        if not port.isdigit():
            return None
    try:
        address = ipaddress.ip_address(text.split("%")[0])  # a zone index names no host
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


_FOR = re.compile(r'(?:^|;)\s*for\s*=\s*("[^"]*"|[^;,\s]*)', re.IGNORECASE)


def forwarded_hops(values: list[str], header: str) -> list[str] | None:
    """The hops of every instance of the header, left to right; None when the proxy's
    `Forwarded` element has no `for=` (then no client can be read from it)."""
    joined = ",".join(values)
    if header == "x-forwarded-for":
        return [hop for hop in (h.strip() for h in joined.split(",")) if hop]
    hops = []
    for element in _split_elements(joined):
        match = _FOR.search(element)
        if match is None:
            return None
        hops.append(match.group(1))
    return hops


def _split_elements(value: str) -> list[str]:
    """`Forwarded` elements, split on commas outside quoted strings."""
    elements: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            elements.append("".join(current))
            current = []
        else:
            current.append(char)
    elements.append("".join(current))
    return [e for e in elements if e.strip()]


@dataclass(frozen=True)
class ClientAddresses:
    """Which peers to believe, and which header they set."""

    trusted: tuple[Network, ...] = ()
    header: str = "x-forwarded-for"

    def __post_init__(self) -> None:
        if self.header not in HEADERS:
            raise UsageError(f"proxy header {self.header!r} is not one of {', '.join(HEADERS)}")

    def is_trusted(self, address: Address) -> bool:
        return any(address in network for network in self.trusted)

    def client(self, peer: str | None, header_values: list[str]) -> tuple[Address | None, str]:
        """(the client's address or None, outcome): outcome is `direct` (no header, the peer is
        the client), `untrusted_peer` (a header from a peer not trusted: ignored), `forwarded`
        (read from the header), or `invalid_header` (a trusted proxy's header names no client)."""
        address = parse_address(peer) if peer else None
        if address is None:
            return None, "direct"
        if not self.trusted or not self.is_trusted(address):
            return address, ("untrusted_peer" if header_values else "direct")
        if not header_values:
            return address, "direct"  # the proxy itself, or a trusted host calling directly
        hops = forwarded_hops(header_values, self.header)
        if not hops:
            return None, "invalid_header"
        for hop in reversed(hops):
            hop_address = parse_address(hop)
            if hop_address is None:
                return None, "invalid_header"
            if not self.is_trusted(hop_address):
                return hop_address, "forwarded"
        return parse_address(hops[0]), "forwarded"
