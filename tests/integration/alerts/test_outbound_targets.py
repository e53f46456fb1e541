"""Notification targets that could reach private networks are refused (SSRF through Apprise
hosts and odd addresses), and malformed target URLs are client errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from services.alerts.outbound import _refused
from tests.integration.conftest import AuthHeaders

pytestmark = pytest.mark.asyncio
MakeSeller = Callable[..., Awaitable[AuthHeaders]]


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("100.64.0.1", True),  # shared address space (a cloud metadata range lives here)
        ("2002:a00:1::", True),  # 6to4 wrapping 10.0.0.1
        ("::ffff:10.0.0.1", True),
        ("169.254.169.254", True),
        ("8.8.8.8", False),
        ("2606:4700::1111", False),
    ],
)
async def test_address_rule(address: str, refused: bool) -> None:
    assert _refused(address) is refused


@pytest.mark.parametrize(
    "target",
    ["ntfy://127.0.0.1:8080/topic", "gotify://10.0.0.5/token", "ntfy://2130706433/topic"],
)
async def test_apprise_urls_to_private_hosts_are_refused(
    client: httpx.AsyncClient, make_seller: MakeSeller, target: str
) -> None:
    auth = await make_seller()
    r = await client.post(
        "/api/v1/channels", headers=auth, json={"name": "x", "kind": "apprise", "target": target}
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "unsafe_target"


@pytest.mark.parametrize("target", ["http://[::1", "http://example.com:99999/x", "http://a..b/x"])
async def test_malformed_webhook_urls_are_4xx(
    client: httpx.AsyncClient, make_seller: MakeSeller, target: str
) -> None:
    auth = await make_seller()
    r = await client.post(
        "/api/v1/channels", headers=auth, json={"name": "x", "kind": "webhook", "target": target}
    )
    assert r.status_code == 422, r.text
