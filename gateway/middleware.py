"""Request ids, the JSON access log and client addresses: pure ASGI, around everything else."""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import re
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

from services.core.logging import ACCESS_LOGGER, request_id_var, user_id_var

access_logger = logging.getLogger(ACCESS_LOGGER)

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_RAW = REQUEST_ID_HEADER.encode()
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    # Pages and API alike: everything this origin serves runs under the strict policy.
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
}
_SECURITY_RAW = tuple((name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items())
RawHeaders = Sequence[tuple[bytes, bytes]]


def add_headers(
    message: HTTPResponseStartEvent, replace: RawHeaders, defaults: RawHeaders = ()
) -> None:
    """Set ``replace`` and add each of ``defaults`` the response does not have yet, on an
    ``http.response.start`` message, in one pass over its headers (``MutableScopeHeaders``
    scans them once per header set: ~0.05 ms a request for the edge's eleven)."""
    headers = list(message.get("headers") or ())
    present = {bytes(name).lower() for name, _ in headers}
    replaced = {name for name, _ in replace}
    if not present.isdisjoint(replaced):
        headers = [h for h in headers if bytes(h[0]).lower() not in replaced]
    headers.extend(replace)
    headers.extend(h for h in defaults if h[0] not in present)
    message["headers"] = headers


# Headers an inner edge layer (the rate limiter) wants on the response, in the request's state:
# set with the request id, in the same pass over the response's headers.
EDGE_HEADERS = "edge_headers"

# Accept a caller's id only if it is short and plain, so it cannot forge log content.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


TrustedProxies = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def trusted_networks(entries: list[str]) -> TrustedProxies:
    """Operator-given proxy addresses or networks ("127.0.0.1", "172.16.0.0/12")."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


@lru_cache(maxsize=4096)  # peers repeat (keep-alive, a proxy in front): parse each once
def _is_trusted(address: str, trusted: TrustedProxies) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_ip(scope: Scope, trusted_proxies: TrustedProxies) -> str:
    """The caller's address; X-Forwarded-For counts only when the peer is a trusted proxy."""
    peer = scope.get("client")
    peer_ip = peer[0] if peer else "unknown"
    if _is_trusted(peer_ip, trusted_proxies):
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-for":
                candidate = value.decode("latin-1").split(",")[-1].strip()
                try:
                    return str(ipaddress.ip_address(candidate))
                except ValueError:
                    break
    return str(peer_ip)


# A request id only has to be unique, not unguessable: 128 bits from a per-process generator
# seeded from the OS (a uuid4 per request, an OS call and an object, was 3 % of a cached read's
# CPU). Not a counter: ids must not tell a client how much traffic the gateway serves.
_ids = random.Random()  # identifies requests, protects nothing
os.register_at_fork(after_in_child=_ids.seed)  # a forked worker must not repeat its parent's


def new_request_id() -> str:
    return f"{_ids.getrandbits(128):032x}"


def incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == _REQUEST_ID_RAW:
            candidate = value.decode("latin-1")
            if _SANE_REQUEST_ID.match(candidate):
                return candidate
            break
    return new_request_id()


class RequestContextMiddleware:
    """Binds the request id, echoes it, and writes one access-log line per request."""

    def __init__(self, app: ASGIApp, trusted_proxies: TrustedProxies) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_ip"] = client_ip(scope, self.trusted_proxies)
        rid_token = request_id_var.set(request_id)
        uid_token = user_id_var.set(None)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                add_headers(
                    message,
                    ((_REQUEST_ID_RAW, request_id.encode()), *state.get(EDGE_HEADERS, ())),
                    _SECURITY_RAW,
                )
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access_logger.isEnabledFor(logging.INFO):
                # The record made directly: ``info()`` would also look up its caller's frame.
                access_logger.handle(
                    access_logger.makeRecord(
                        access_logger.name,
                        logging.INFO,
                        __file__,
                        0,
                        "request",
                        (),
                        None,
                        extra={
                            "method": scope.get("method"),
                            "route": scope.get("path_template") or "<unmatched>",
                            "path": scope.get("path"),
                            "status": status,
                            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                            "client_ip": state["client_ip"],
                            "user_id": state.get("user_id"),
                        },
                    )
                )
            request_id_var.reset(rid_token)
            user_id_var.reset(uid_token)
