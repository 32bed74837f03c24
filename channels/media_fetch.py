"""The media download every adapter shares: every hop checked for host, scheme, port and the address dialled.

A provider's webhook (or its redirect) names the URL we fetch, so each hop is a chance to
make us call something inside our network. The host, scheme and port are checked before each
request; the address is checked by the connector's resolver, so the address checked is the
address connected to (a name cannot answer one address to a check and another to the connect).
Loopback is refused like any private address unless `allow_loopback` is set, which only tests
against local fake providers do.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from bot.messages import MediaRefused
from channels.base import MediaStore

REDIRECTS = (301, 302, 303, 307, 308)
DEFAULT_PORTS = {"https": 443, "http": 80}


def address_allowed(address: str, *, allow_loopback: bool) -> bool:
    """Public unicast addresses only; loopback (and nothing else private) when explicitly allowed."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return allow_loopback
    return ip.is_global and not ip.is_multicast


class GuardedResolver(AbstractResolver):
    """The system resolver, refusing a name any of whose addresses is private, reserved or link-local."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self.allow_loopback = allow_loopback
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        bad = [r["host"] for r in found if not address_allowed(r["host"], allow_loopback=self.allow_loopback)]
        if bad:
            raise MediaRefused(f"refusing media host {host!r}: it resolves to non-public {bad[0]}")
        return found

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True, slots=True)
class FetchRules:
    """Where one provider's media may come from, every redirect hop included."""

    hosts: frozenset[str]
    schemes: frozenset[str] = frozenset({"https"})
    ports: frozenset[int] = frozenset({443})
    allow_loopback: bool = False
    max_redirects: int = 3

    @classmethod
    def for_provider(cls, hosts: Iterable[str], base_url: str, *, allow_loopback: bool = False) -> FetchRules:
        """`hosts` on https/443; http (port 80) only when the configured API base is http; plus its port."""
        base = urlsplit(base_url)
        schemes = {"https"} | ({base.scheme} if base.scheme in DEFAULT_PORTS else set())
        ports = {DEFAULT_PORTS[s] for s in schemes}
        try:
            if base.port is not None:
                ports.add(base.port)
        except ValueError:
            pass
        host_set = frozenset(h.lower().rstrip(".") for h in hosts if h)
        return cls(host_set, frozenset(schemes), frozenset(ports), allow_loopback)

    def check(self, url: str) -> None:
        """Raise MediaRefused unless `url` names an allowed scheme, host and port (and no credentials)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise MediaRefused("refusing malformed media URL") from None
        if parts.scheme not in self.schemes or not parts.hostname:
            raise MediaRefused(f"refusing media URL with scheme {parts.scheme!r}")
        if parts.username is not None or parts.password is not None:
            raise MediaRefused("refusing media URL with credentials in it")
        host = parts.hostname.lower().rstrip(".")
        if host not in self.hosts:
            raise MediaRefused(f"refusing media from host {host!r}")
        if (port if port is not None else DEFAULT_PORTS[parts.scheme]) not in self.ports:
            raise MediaRefused(f"refusing media from port {port} of {host!r}")
        if _is_ip_literal(host) and not address_allowed(host, allow_loopback=self.allow_loopback):
            # The connector never asks the resolver about literal addresses: check them here.
            raise MediaRefused(f"refusing media from non-public address {host!r}")


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class MediaFetcher:
    """One adapter's media downloads: its rules, and a session whose resolver enforces them."""

    def __init__(self, rules: FetchRules) -> None:
        self.rules = rules
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._http is None:
            resolver = GuardedResolver(allow_loopback=self.rules.allow_loopback)
            connector = aiohttp.TCPConnector(resolver=resolver)
            self._http = aiohttp.ClientSession(connector=connector, trust_env=False)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def fetch(
        self, url: str, store: MediaStore, *, first_hop_headers: dict[str, str] | None = None
    ) -> tuple[str, Path, int, str]:
        """GET `url`, following redirects by hand; credentials (`first_hop_headers`) go to the first hop only.

        Returns (sha256, path, size, content type as the server declared it).
        """
        if self._http is None:
            raise RuntimeError("media fetcher not started")
        current: str = url
        headers: dict[str, Any] | None = first_hop_headers
        for _hop in range(self.rules.max_redirects + 1):
            self.rules.check(current)
            async with self._http.get(
                current, headers=headers, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=60)
            ) as resp:
                if resp.status in REDIRECTS:
                    location = resp.headers.get("Location", "")
                    if not location:
                        raise MediaRefused("redirect without a Location")
                    try:
                        current = str(resp.url.join(URL(location)))
                    except ValueError:
                        raise MediaRefused("redirect to a malformed Location") from None
                    headers = None
                    continue
                if resp.status != 200:
                    raise MediaRefused(f"media fetch answered HTTP {resp.status}")
                chunks = resp.content.iter_chunked(65536)
                sha, path, size = await store.save_stream(chunks, resp.content_length)
                return sha, path, size, resp.headers.get("Content-Type", "application/octet-stream")
        raise MediaRefused("too many redirects")
