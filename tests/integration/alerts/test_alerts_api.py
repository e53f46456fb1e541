"""Alerts and channels over HTTP: filters, read state, CRUD, test sends, SSRF, tenancy."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.delivery import DeliveryRunner
from services.alerts.detection import ChangeDetector
from services.core.jobs import create_arq_pool
from services.core.settings import Settings
from services.core.uow import unit_of_work
from services.product.models import Product
from tests.factories import ingest, item
from tests.integration.alerts.conftest import Receiver
from tests.integration.conftest import AuthHeaders, app_client

pytestmark = pytest.mark.asyncio
MakeSeller = Callable[..., Awaitable[AuthHeaders]]
T0 = datetime.now(UTC) - timedelta(days=2)


async def seller_with_alerts(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> tuple[AuthHeaders, str]:
    auth = await make_seller()
    r = await client.post(
        "/api/v1/products", headers=auth, json={"product": "B0ALERT001", "marketplace": "US"}
    )
    tracking_id = r.json()["id"]
    async with sessionmaker() as session:
        pid = (
            await session.execute(select(Product.id).where(Product.asin == "B0ALERT001"))
        ).scalar_one()
    await ingest(sessionmaker, pid, item(asin="B0ALERT001"), T0)
    run = await ingest(
        sessionmaker,
        pid,
        item(asin="B0ALERT001", price=Decimal("17.00"), in_stock=False, rating=Decimal("4.0")),
        T0 + timedelta(days=1),
    )
    arq: ArqRedis = await create_arq_pool(settings)
    async with unit_of_work(sessionmaker, arq) as uow:
        await ChangeDetector(uow, settings).detect_run(run)
    await arq.aclose()
    return auth, tracking_id


async def test_alert_list_filters_unread_count_and_mark_read(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    auth, tracking_id = await seller_with_alerts(client, make_seller, sessionmaker, settings)
    r = await client.get("/api/v1/alerts", headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 3
    assert {a["rule"] for a in body["items"]} == {"price_change", "out_of_stock", "rating_drop"}
    assert (await client.get("/api/v1/alerts/unread-count", headers=auth)).json() == {"unread": 3}
    critical = (
        await client.get("/api/v1/alerts", headers=auth, params={"severity": "critical"})
    ).json()
    assert [a["rule"] for a in critical["items"]] == ["out_of_stock"]
    by_rule = (
        await client.get("/api/v1/alerts", headers=auth, params={"rule": "rating_drop"})
    ).json()
    assert by_rule["total"] == 1
    by_product = await client.get(
        "/api/v1/alerts", headers=auth, params={"tracked_product_id": tracking_id}
    )
    assert by_product.json()["total"] == 3
    detail = (await client.get(f"/api/v1/products/{tracking_id}", headers=auth)).json()
    assert len(detail["recent_alerts"]) == 3

    first = critical["items"][0]["id"]
    r = await client.post("/api/v1/alerts/read", headers=auth, json={"ids": [first]})
    assert r.json() == {"marked": 1}
    assert (await client.get("/api/v1/alerts/unread-count", headers=auth)).json() == {"unread": 2}
    unread = (await client.get("/api/v1/alerts", headers=auth, params={"unread": "true"})).json()
    assert first not in [a["id"] for a in unread["items"]]
    assert (await client.post("/api/v1/alerts/read", headers=auth, json={})).json() == {"marked": 2}
    assert (await client.get("/api/v1/alerts/unread-count", headers=auth)).json() == {"unread": 0}

    for bad in (
        {"severity": "apocalyptic"},
        {"rule": "nope"},
        {"limit": 101},
        {"tracked_product_id": "x"},
    ):
        assert (await client.get("/api/v1/alerts", headers=auth, params=bad)).status_code == 400
    assert (
        await client.post("/api/v1/alerts/read", headers=auth, json={"ids": ["x"]})
    ).status_code == 400

    # Another seller: no alerts, and the first seller's ids are simply not found.
    intruder = await make_seller()
    assert (await client.get("/api/v1/alerts", headers=intruder)).json()["total"] == 0
    r = await client.post("/api/v1/alerts/read", headers=intruder, json={"ids": [first]})
    assert r.status_code == 404
    r = await client.get(
        "/api/v1/alerts", headers=intruder, params={"tracked_product_id": tracking_id}
    )
    assert r.json()["total"] == 0


async def test_channel_crud_and_validation(
    alert_settings: Settings, make_seller: MakeSeller, receiver: Receiver
) -> None:
    async with app_client(alert_settings) as client:
        password = "a-Strong-passw0rd"
        await client.post(
            "/api/v1/auth/register", json={"email": "chan@example.com", "password": password}
        )
        login = await client.post(
            "/api/v1/auth/login", json={"email": "chan@example.com", "password": password}
        )
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        r = await client.post(
            "/api/v1/channels",
            headers=auth,
            json={"name": "Ops", "kind": "webhook", "target": receiver.url},
        )
        assert r.status_code == 201, r.text
        created = r.json()
        assert len(created["signing_secret"]) > 20
        # Quiet by default: critical alerts at once, warnings in the morning digest.
        assert (created["min_severity"], created["mode"]) == ("warning", "critical_now")
        listed = (await client.get("/api/v1/channels", headers=auth)).json()["items"]
        assert "signing_secret" not in listed[0]
        url = f"/api/v1/channels/{created['id']}"
        r = await client.patch(
            url, headers=auth, json={"min_severity": "critical", "mode": "digest"}
        )
        assert (r.json()["min_severity"], r.json()["mode"]) == ("critical", "digest")
        for bad in (
            {"name": "x", "kind": "pigeon", "target": "https://x.example"},
            {"name": "x", "kind": "email", "target": "not-an-email"},
            {"name": "x", "kind": "webhook", "target": "ftp://files.example/hook"},
            {"name": "x", "kind": "apprise", "target": "json://127.0.0.1/hook"},
            {"name": "", "kind": "webhook", "target": "https://x.example"},
            {"name": "x", "kind": "webhook", "target": "https://x.example", "min_severity": "meh"},
        ):
            r = await client.post("/api/v1/channels", headers=auth, json=bad)
            assert r.status_code in (400, 422), (bad, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        r = await client.post(
            "/api/v1/channels",
            headers=auth,
            json={"name": "Mail", "kind": "email", "target": "Me@Example.com"},
        )
        assert r.json()["target"] == "Me@example.com"
        assert (await client.delete(url, headers=auth)).status_code == 204
        assert (await client.get(url, headers=auth)).status_code == 404


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://192.168.1.1/hook",
    ],
)
async def test_ssrf_guard_refuses_private_targets(
    client: httpx.AsyncClient, make_seller: MakeSeller, target: str
) -> None:
    auth = await make_seller()
    r = await client.post(
        "/api/v1/channels", headers=auth, json={"name": "x", "kind": "webhook", "target": target}
    )
    assert r.status_code == 422
    assert r.json()["code"] == "unsafe_target"
    r = await client.post(
        "/api/v1/channels", headers=auth, json={"name": "x", "kind": "slack", "target": target}
    )
    assert r.json()["code"] == "unsafe_target"


async def test_test_send_is_queued_then_delivered(
    alert_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: Receiver,
) -> None:
    async with app_client(alert_settings) as client:
        password = "a-Strong-passw0rd"
        await client.post(
            "/api/v1/auth/register", json={"email": "tst@example.com", "password": password}
        )
        login = await client.post(
            "/api/v1/auth/login", json={"email": "tst@example.com", "password": password}
        )
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        channel = (
            await client.post(
                "/api/v1/channels",
                headers=auth,
                json={"name": "h", "kind": "webhook", "target": receiver.url},
            )
        ).json()
        r = await client.post(f"/api/v1/channels/{channel['id']}/test", headers=auth)
        assert r.status_code == 202
        delivery = r.json()
        assert delivery["status"] == "pending"
        arq = await create_arq_pool(alert_settings)
        runner = DeliveryRunner(lambda: unit_of_work(sessionmaker, arq), alert_settings.alerts)
        await runner.run(uuid.UUID(delivery["id"]))
        await arq.aclose()
        records = (await client.get("/api/v1/channels/deliveries", headers=auth)).json()
        assert records["items"][0]["status"] == "sent"
        assert receiver.requests[-1]["headers"]["x-shelfwatch-delivery"] == delivery["id"]


async def test_channels_of_another_seller_are_not_found(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    owner = await make_seller()
    r = await client.post(
        "/api/v1/channels",
        headers=owner,
        json={"name": "m", "kind": "email", "target": "o@example.com"},
    )
    channel_id = r.json()["id"]
    intruder = await make_seller()
    calls: list[tuple[str, str, Any]] = [
        ("GET", f"/api/v1/channels/{channel_id}", None),
        ("PATCH", f"/api/v1/channels/{channel_id}", {"name": "mine"}),
        ("DELETE", f"/api/v1/channels/{channel_id}", None),
        ("POST", f"/api/v1/channels/{channel_id}/test", None),
        ("GET", f"/api/v1/channels/deliveries?channel_id={channel_id}", None),
    ]
    for method, url, body in calls:
        r = await client.request(method, url, headers=intruder, json=body)
        assert r.status_code == 404, (method, url)
    assert (await client.get("/api/v1/channels", headers=intruder)).json()["items"] == []
    assert (await client.get(f"/api/v1/channels/{channel_id}", headers=owner)).status_code == 200


async def test_channels_answer_a_capped_page(
    client: httpx.AsyncClient, make_seller: MakeSeller
) -> None:
    seller = await make_seller()
    for name in ("first", "second", "third"):
        r = await client.post(
            "/api/v1/channels",
            headers=seller,
            json={"name": name, "kind": "email", "target": f"{name}@example.com"},
        )
        assert r.status_code == 201, r.text
    other = await make_seller()
    await client.post(
        "/api/v1/channels",
        headers=other,
        json={"name": "theirs", "kind": "email", "target": "t@example.com"},
    )
    r = await client.get("/api/v1/channels?limit=2&offset=1", headers=seller)
    assert r.status_code == 200
    page = r.json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [c["name"] for c in page["items"]] == ["second", "third"]
    r = await client.get("/api/v1/channels?limit=101", headers=seller)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
