"""The egress policy as a seller-attacker meets it: every spelling of an internal address is
refused at channel creation AND at send time, and no connection ever reaches a local listener;
connections are pinned to the checked address; redirects are not followed; stored errors do
not tell an open port from a closed one."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from services.alerts.models import NotificationChannel
from services.alerts.senders import Message, Sender, SendFailed
from services.core.egress import EgressPolicy
from services.core.embedded import free_port
from services.core.settings import Settings
from tests.integration.alerts.conftest import Receiver

AuthHeaders = dict[str, str]
MakeSeller = Callable[..., Awaitable[AuthHeaders]]


@dataclass
class Listener:
    port: int
    accepted: list[str] = field(default_factory=list)


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A bare TCP listener on loopback that records every connection it accepts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    state = Listener(port=sock.getsockname()[1])
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, peer = sock.accept()
            except OSError:
                continue
            state.accepted.append(str(peer))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield state
    stop.set()
    thread.join()
    sock.close()


def webhook_forms(port: int) -> list[str]:
    """Every way we know to spell "this machine" (or another non-public host) in a URL."""
    return [
        f"http://127.0.0.1:{port}/h",
        f"http://2130706433:{port}/h",  # dotless decimal
        f"http://0x7f000001:{port}/h",  # hex
        f"http://0x7f.0.0.1:{port}/h",  # hex part
        f"http://0177.0.0.1:{port}/h",  # octal
        f"http://017700000001:{port}/h",  # octal dotless
        f"http://127.1:{port}/h",  # short form
        f"http://127.0.0.1.:{port}/h",  # trailing dot
        f"http://0.0.0.0:{port}/h",
        f"http://0:{port}/h",
        f"http://[::1]:{port}/h",
        f"http://[::]:{port}/h",
        f"http://[::ffff:127.0.0.1]:{port}/h",  # IPv4-mapped
        f"http://[::127.0.0.1]:{port}/h",  # IPv4-compatible
        f"http://[64:ff9b::7f00:1]:{port}/h",  # NAT64
        f"http://[64:ff9b:1::a00:1]:{port}/h",  # local-use NAT64
        f"http://[2002:7f00:1::]:{port}/h",  # 6to4
        f"http://[fe80::1]:{port}/h",
        f"http://[fc00::1]:{port}/h",
        f"http://localhost:{port}/h",
        f"http://LocalHost.:{port}/h",
        f"http://intranet:{port}/h",  # single label
        "http://10.0.0.1/h",
        "http://172.16.0.1/h",
        "http://192.168.0.1/h",
        "http://100.64.0.1/h",  # CGNAT
        "http://169.254.169.254/latest/meta-data",
        "http://224.0.0.1/h",  # multicast
        "http://240.0.0.1/h",  # reserved
        "http://255.255.255.255/h",
        "http://198.18.0.1/h",  # benchmarking range
    ]


def apprise_forms(port: int) -> list[str]:
    return [
        f"ntfy://127.0.0.1:{port}/topic",
        f"gotify://127.0.0.1:{port}/token",
        f"json://127.0.0.1:{port}/hook",
        f"mailto://user:pass@example.com?smtp=127.0.0.1&port={port}",
        f"mailtos://example.com:{port}?to=a@example.com",
        f"discord://1234/abcd?url=http://127.0.0.1:{port}/",
        f"tgram://123456:abcdef/123?host=127.0.0.1:{port}",
        f"mmost://127.0.0.1:{port}/token",
        f"xml://2130706433:{port}/",
    ]


async def test_every_form_is_refused_at_creation(
    client: httpx.AsyncClient, make_seller: MakeSeller, listener: Listener
) -> None:
    auth = await make_seller()
    cases = [("webhook", t) for t in webhook_forms(listener.port)]
    cases += [("slack", t) for t in webhook_forms(listener.port)[:8]]
    cases += [("apprise", t) for t in apprise_forms(listener.port)]
    for kind, target in cases:
        r = await client.post(
            "/api/v1/channels", headers=auth, json={"name": "x", "kind": kind, "target": target}
        )
        assert r.status_code == 422, (kind, target, r.text)
        assert r.json()["code"] == "unsafe_target", (kind, target, r.text)
    assert listener.accepted == []


def _channel(kind: str, target: str) -> NotificationChannel:
    return NotificationChannel(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        name="x",
        kind=kind,
        target=target,
        signing_secret="s",
        min_severity="info",
        mode="instant",
        is_active=True,
    )


MESSAGE = Message(delivery_id="d1", kind="test", title="t", text="x", payload={"a": 1})


async def test_every_form_is_refused_at_send_time(settings: Settings, listener: Listener) -> None:
    """A channel stored before the policy tightened still cannot reach an internal host."""
    sender = Sender(settings.alerts.model_copy(update={"allow_private_targets": False}))
    cases = [("webhook", t) for t in webhook_forms(listener.port)]
    cases += [("slack", t) for t in webhook_forms(listener.port)[:8]]
    cases += [("apprise", t) for t in apprise_forms(listener.port)]
    for kind, target in cases:
        with pytest.raises(SendFailed) as failed:
            await sender.send(_channel(kind, target), MESSAGE)
        assert failed.value.transient is False, (kind, target)
    assert listener.accepted == []


async def test_connection_is_pinned_to_the_checked_address(
    settings: Settings, receiver: Receiver
) -> None:
    """The name is resolved once, by the policy; the client connects to that address and
    sends the name only as Host. (The name does not exist in real DNS: a second lookup by the
    HTTP client would fail.)"""
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    lookups: list[str] = []

    async def resolver(host: str, _port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    alerts = settings.alerts.model_copy(update={"allow_private_targets": True})
    sender = Sender(alerts, EgressPolicy(True, resolver))
    target = f"http://rebind.shelfwatch.invalid:{port}/hook"
    assert await sender.send(_channel("webhook", target), MESSAGE) == 200
    assert lookups == ["rebind.shelfwatch.invalid"]
    assert receiver.requests[0]["headers"]["host"] == f"rebind.shelfwatch.invalid:{port}"

    # Without the operator switch, a name resolving to loopback is refused before connecting.
    strict = Sender(settings.alerts, EgressPolicy(False, resolver))
    with pytest.raises(SendFailed):
        await strict.send(_channel("webhook", target), MESSAGE)
    assert len(receiver.requests) == 1


async def test_redirects_are_not_followed(settings: Settings, listener: Listener) -> None:
    port = free_port()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(4)

    def answer_redirect() -> None:
        conn, _ = sock.accept()
        conn.recv(65536)
        location = f"http://127.0.0.1:{listener.port}/inner"
        conn.sendall(
            f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
        )
        conn.close()

    thread = threading.Thread(target=answer_redirect, daemon=True)
    thread.start()
    alerts = settings.alerts.model_copy(update={"allow_private_targets": True})
    with pytest.raises(SendFailed) as failed:
        await Sender(alerts).send(_channel("webhook", f"http://127.0.0.1:{port}/h"), MESSAGE)
    thread.join(5)
    sock.close()
    assert failed.value.status == 302 and failed.value.transient is False
    assert listener.accepted == []


async def test_stored_error_is_no_port_oracle(settings: Settings, listener: Listener) -> None:
    """A closed port and a port whose listener hangs up read the same."""
    alerts = settings.alerts.model_copy(
        update={"allow_private_targets": True, "delivery_timeout_s": 2.0}
    )
    sender = Sender(alerts)
    errors = []
    for port in (free_port(), listener.port):
        with pytest.raises(SendFailed) as failed:
            await sender.send(_channel("webhook", f"http://127.0.0.1:{port}/h"), MESSAGE)
        errors.append(str(failed.value))
    assert errors[0] == errors[1] == "the receiver could not be reached"
