"""Egress policy: the one place that decides whether Shelfwatch may connect somewhere a seller
chose (webhook, Slack-compatible webhook, Apprise URL), and the pinned HTTP connection that
goes to exactly the address that was checked.

Why one module: the check and the connection must agree. A check that resolves a name and a
client that resolves it again can be split by DNS rebinding (public the first time, 127.0.0.1
the second); so ``post`` resolves once, checks every address, and connects to the checked
address with the original name only in the Host header and TLS SNI (certificates are still
verified against the name).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

from services.core.errors import FieldError, InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses the name resolves to; injectable so tests can stand in for DNS.
Resolver = Callable[[str, int], Awaitable[list[str]]]


class UnsafeTarget(InvalidInput):
    code = "unsafe_target"


# inet_aton() and most URL parsers accept 1-4 dot-separated parts, each decimal, octal (leading
# 0) or hex (0x): "2130706433", "0x7f.1", "0177.0.0.1", "127.1" are all 127.0.0.1.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.I)
_CANONICAL_V4 = re.compile(
    r"^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$"
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_V4_COMPAT = ipaddress.ip_network("::/96")

# Apprise schemes whose destination Apprise fixes to a public hosted service: the URL carries
# tokens, never a host, so a seller cannot point them anywhere else. Self-hosted schemes
# (ntfy://host, gotify://host, json://, mailto:// …) would need a pinned connection Apprise
# cannot make; sellers use the signed "webhook" kind for their own receivers instead.
APPRISE_SCHEMES: frozenset[str] = frozenset(
    {"discord", "tgram", "slack", "pover", "pbul", "msteams"}
)
# Apprise URL arguments that substitute the host it connects to (mailto's ?smtp=, …).
_HOST_ARGUMENTS: frozenset[str] = frozenset(
    {"smtp", "host", "hostname", "server", "url", "base_url", "baseurl", "proxy", "endpoint"}
)


def refused_address(address: str | IPAddress) -> bool:
    """True for anything not globally routable: private, loopback, link-local, CGNAT
    (100.64/10), multicast, reserved, unspecified — also when wrapped in an IPv6 form
    (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo), judged by the IPv4 inside."""
    ip = ipaddress.ip_address(str(address).split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return True
        inner: ipaddress.IPv4Address | None = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip.teredo:
            inner = ip.teredo[1]
        if inner is None and (ip in _NAT64 or (ip in _V4_COMPAT and int(ip) > 1)):
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return refused_address(inner)
    return (
        not ip.is_global
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_private
    )


def _fail(message: str, hint: str, field: str) -> UnsafeTarget:
    return UnsafeTarget(message, field_errors=[FieldError(field, hint)])


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked destination: the name asked for and the one address to connect to."""

    host: str
    port: int
    address: str


async def _system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class EgressPolicy:
    """``allow_private`` is the operator's switch for local receivers (tests, a LAN ntfy …);
    it lifts the address rule only, never the URL-shape rules or the pinning."""

    def __init__(self, allow_private: bool, resolver: Resolver | None = None) -> None:
        self.allow_private = allow_private
        self.resolver = resolver or _system_resolver

    def _host_literal(self, host: str, field: str) -> IPAddress | None:
        """The address a host spells directly, refusing every non-canonical numeric form."""
        if host.startswith("[") or ":" in host:
            try:
                return ipaddress.IPv6Address(host.strip("[]").split("%", 1)[0])
            except ValueError as exc:
                raise _fail("The host is not a valid address", "invalid IPv6", field) from exc
        if _NUMERIC_HOST.match(host):
            if not _CANONICAL_V4.match(host):
                # A resolver would read it as an address; we refuse to guess which one.
                raise _fail(
                    "Numeric hosts must be written as a dotted-quad IPv4 address",
                    "hex, octal and dotless addresses are refused",
                    field,
                )
            return ipaddress.IPv4Address(host)
        return None

    async def check(self, host: str | None, port: int, field: str = "target") -> Destination:
        """Resolve ``host`` once and return the address to connect to, or refuse."""
        if not host:
            raise _fail("The URL has no host", "a host is required", field)
        name = host.rstrip(".").lower()
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise _fail("The host name is not valid", "invalid host name", field) from exc
        literal = self._host_literal(name, field)
        if literal is not None:
            addresses = [str(literal)]
        else:
            if "." not in name or not all(name.split(".")):
                # Single-label names resolve through search domains to internal hosts.
                raise _fail(
                    "The host must be a fully qualified domain name",
                    "single-label host names are refused",
                    field,
                )
            try:
                addresses = await self.resolver(name, port)
            except (OSError, UnicodeError, ValueError) as exc:
                raise _fail(
                    f"The host {name!r} does not resolve", "host does not resolve", field
                ) from exc
            if not addresses:
                raise _fail(f"The host {name!r} does not resolve", "host does not resolve", field)
        if not self.allow_private and any(refused_address(a) for a in addresses):
            raise _fail(
                "The URL points at a private, loopback or otherwise non-public address",
                "private and loopback addresses are refused",
                field,
            )
        return Destination(host=name, port=port, address=addresses[0])

    async def check_url(self, url: str, field: str = "target") -> Destination:
        """An http(s) URL without credentials whose host passes ``check``."""
        try:
            parts = urlsplit(url)
            port = parts.port
            host = parts.hostname
        except ValueError as exc:
            raise _fail("The URL is malformed", "not a valid URL", field) from exc
        if parts.scheme not in ("http", "https") or not host:
            raise _fail(
                "Only http(s) URLs with a host are accepted", "must be an http(s) URL", field
            )
        if parts.username or parts.password:
            raise _fail("Credentials in the URL are not accepted", "remove user:password@", field)
        return await self.check(host, port or (443 if parts.scheme == "https" else 80), field)

    def check_apprise(self, url: str, field: str = "target") -> None:
        """Only allow-listed hosted-service schemes, and no argument that swaps the host."""
        scheme, _, _rest = url.partition("://")
        if not _rest or scheme.lower() not in APPRISE_SCHEMES:
            raise _fail(
                "This Apprise service is not supported",
                "use one of " + ", ".join(f"{s}://" for s in sorted(APPRISE_SCHEMES)),
                field,
            )
        try:
            query = urlsplit(url).query
        except ValueError as exc:
            raise _fail("The URL is malformed", "not a valid URL", field) from exc
        for key, _value in parse_qsl(query, keep_blank_values=True):
            if key.lower() in _HOST_ARGUMENTS:
                raise _fail(
                    f"The URL argument {key!r} is not accepted",
                    "arguments that choose a server are refused",
                    field,
                )

    async def post(
        self, url: str, *, content: bytes, headers: Mapping[str, str], timeout_s: float
    ) -> httpx.Response:
        """POST to the checked address only: one resolution, no redirects, no proxies."""
        destination = await self.check_url(url)
        parts = urlsplit(url)
        address = destination.address
        netloc = f"[{address}]" if ":" in address else address
        pinned = urlunsplit(
            (parts.scheme, f"{netloc}:{destination.port}", parts.path or "/", parts.query, "")
        )
        default_port = 443 if parts.scheme == "https" else 80
        host_header = destination.host
        if destination.port != default_port:
            host_header += f":{destination.port}"
        if ":" in destination.host:  # an IPv6 literal keeps its brackets in Host
            host_header = f"[{destination.host.strip('[]')}]" + host_header.removeprefix(
                destination.host
            )
        # trust_env=False: an environment proxy would resolve the name itself.
        async with httpx.AsyncClient(
            timeout=timeout_s, follow_redirects=False, trust_env=False
        ) as client:
            return await client.post(
                pinned,
                content=content,
                headers={**headers, "Host": host_header},
                extensions={"sni_hostname": destination.host.strip("[]")},
            )
