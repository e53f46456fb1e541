"""Outbound URL safety: only public http(s) hosts, unless an operator allows private ones."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from services.core.errors import FieldError, InvalidInput


class UnsafeTarget(InvalidInput):
    code = "unsafe_target"


def _refused(address: str) -> bool:
    """Anything not globally routable: private, loopback, link-local, shared (100.64/10), …"""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 wrapped in IPv6 (mapped, 6to4, Teredo) is judged by the IPv4 inside.
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None:
            return not inner.is_global
    return not ip.is_global or ip.is_multicast


async def check_url(url: str, allow_private: bool, field: str = "target") -> None:
    """Refuse non-http(s) URLs, and hosts that resolve to private, loopback or link-local
    addresses (every address the name resolves to is checked)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(
            "The URL is malformed", field_errors=[FieldError(field, "not a valid URL")]
        ) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget(
            "Only http(s) URLs with a host are accepted",
            field_errors=[FieldError(field, "must be an http(s) URL")],
        )
    if parts.username or parts.password:
        raise UnsafeTarget(
            "Credentials in the URL are not accepted",
            field_errors=[FieldError(field, "remove user:password@")],
        )
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname,
            port or (443 if parts.scheme == "https" else 80),
            type=socket.SOCK_STREAM,
        )
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise UnsafeTarget(
            f"The host {parts.hostname!r} does not resolve",
            field_errors=[FieldError(field, "host does not resolve")],
        ) from exc
    if any(_refused(str(info[4][0])) for info in infos):
        raise UnsafeTarget(
            "The URL points at a private, loopback or link-local address",
            field_errors=[FieldError(field, "private and loopback addresses are refused")],
        )


async def check_host(host: str | None, allow_private: bool, field: str = "target") -> None:
    """The same address rule for a bare host name (Apprise URLs of self-hosted services)."""
    if not host:
        return
    await check_url(f"https://{host}/", allow_private, field)
