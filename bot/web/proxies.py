"""Which `X-Forwarded-*` headers to believe: only those set by a proxy listed in `server.trusted_proxies`.

Anyone can send `X-Forwarded-Proto: https` or `X-Forwarded-For: 10.0.0.1`; believing them from
the open internet would let a client choose its own address (dodging a per-address limit) or
make the console mark cookies Secure on a plain-HTTP hop. So the headers count only when the
TCP peer is one of our own proxies.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> list[Network]:
    """IPs and CIDR networks (`10.0.0.5`, `10.0.0.0/8`, `::1`); a bad entry is a ValueError naming it."""
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {entry!r}") from None
    return networks


def _address(raw: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address((raw or "").strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


class TrustedProxies:
    def __init__(self, entries: Iterable[str]) -> None:
        self.networks = parse_networks(entries)

    def trusts(self, raw: str | None) -> bool:
        addr = _address(raw)
        return addr is not None and any(addr in net for net in self.networks)

    def client_ip(self, request: web.BaseRequest) -> str:
        """The peer's address or, behind our proxies, the last hop in X-Forwarded-For that is not one."""
        peer = request.remote or ""
        if not self.trusts(peer):
            return peer
        hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
        for hop in reversed([h for h in hops if h]):
            if not self.trusts(hop):
                addr = _address(hop)
                return str(addr) if addr is not None else peer
        return peer

    def is_https(self, request: web.BaseRequest) -> bool:
        """TLS to us, or a trusted proxy saying the client's hop was TLS."""
        if request.secure:
            return True
        if not self.trusts(request.remote):
            return False
        # The last value is the one our proxy set; earlier ones may be the client's own.
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[-1].strip().lower()
        return proto == "https"
