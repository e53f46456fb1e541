"""Change detection after ingest, alert fatigue controls, and real deliveries."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.delivery import DeliveryRunner, DigestPlanner
from services.alerts.detection import ChangeDetector
from services.alerts.models import AlertEvent, Delivery, NotificationChannel
from services.core.errors import TransientError
from services.core.jobs import Queue, queue_key
from services.core.settings import Settings
from services.core.uow import UnitOfWork
from services.product.apify.item import CrawlStatus
from services.product.models import TrackedProduct
from tests.factories import alert_events, ingest, item, seed_tracked
from tests.integration.alerts.conftest import Mailbox, Receiver

pytestmark = pytest.mark.asyncio
T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
UowFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


async def detect(new_uow: UowFactory, settings: Settings, run_id: uuid.UUID, now: datetime) -> int:
    async with new_uow() as uow:
        return (await ChangeDetector(uow, settings).detect_run(run_id, now)).events


async def test_a_price_drop_is_stored_once_with_its_evidence(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, settings: Settings
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1)
    await ingest(sessionmaker, pid, item(), T0)
    run = await ingest(sessionmaker, pid, item(price=Decimal("15.00")), T0 + timedelta(days=1))
    assert await detect(new_uow, settings, run, T0 + timedelta(days=1)) == 1
    (event,) = await alert_events(sessionmaker)
    assert event.rule == "price_change"
    assert (event.old_value, event.new_value, event.change) == ("20.00", "15.00", "-25.0%")
    assert event.threshold == "10%"
    assert event.severity == "warning"
    assert event.crawl_run_id == run
    assert event.snapshot_captured_at == T0 + timedelta(days=1)
    # Detection re-run for the same crawl (a retried job) stores nothing new.
    assert await detect(new_uow, settings, run, T0 + timedelta(days=1)) == 0
    assert len(await alert_events(sessionmaker)) == 1


async def test_the_daily_cap_holds_when_detections_run_at_once(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, settings: Settings
) -> None:
    products = await seed_tracked(sessionmaker, count=8)
    for pid in products:
        await ingest(sessionmaker, pid, item(), T0)
    runs = [
        await ingest(sessionmaker, pid, item(price=Decimal("15.00")), T0 + timedelta(hours=1))
        for pid in products
    ]
    capped = settings.model_copy(deep=True)
    capped.alerts.daily_cap_per_seller = 3
    # Eight detection jobs for the same seller at once, each in its own session.
    stored = await asyncio.gather(
        *(detect(new_uow, capped, run, T0 + timedelta(hours=1)) for run in runs)
    )
    assert sum(stored) == 3
    assert len(await alert_events(sessionmaker)) == 3


async def test_bad_crawls_in_between_never_make_a_change(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, settings: Settings
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1)
    await ingest(sessionmaker, pid, item(), T0)
    blocked = await ingest(
        sessionmaker,
        pid,
        item(status=CrawlStatus.BLOCKED, price=None, in_stock=None),
        T0 + timedelta(hours=1),
    )
    partial = await ingest(
        sessionmaker, pid, item(status=CrawlStatus.PARTIAL, price=None), T0 + timedelta(hours=2)
    )
    same = await ingest(sessionmaker, pid, item(), T0 + timedelta(hours=3))
    for run in (blocked, partial, same):
        assert await detect(new_uow, settings, run, T0 + timedelta(hours=3)) == 0


async def test_rearm_window_and_daily_cap(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, settings: Settings
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1)
    await ingest(sessionmaker, pid, item(), T0)
    first = await ingest(sessionmaker, pid, item(price=Decimal("15.00")), T0 + timedelta(hours=1))
    assert await detect(new_uow, settings, first, T0 + timedelta(hours=1)) == 1
    # Another drop two hours later: inside the 6 h re-arm window, so quiet.
    second = await ingest(sessionmaker, pid, item(price=Decimal("11.00")), T0 + timedelta(hours=3))
    assert await detect(new_uow, settings, second, T0 + timedelta(hours=3)) == 0
    capped = settings.model_copy(deep=True)
    capped.alerts.rearm_window_s = 0
    capped.alerts.daily_cap_per_seller = 2
    # Out of stock, rating and reviews at once: only two fit under the cap, critical first.
    third = await ingest(
        sessionmaker,
        pid,
        item(price=Decimal("11.00"), in_stock=False, rating=Decimal("3.9"), review_count=900),
        T0 + timedelta(hours=4),
    )
    assert await detect(new_uow, capped, third, T0 + timedelta(hours=4)) == 1
    rules = [e.rule for e in await alert_events(sessionmaker)]
    assert rules == ["price_change", "out_of_stock"]


async def test_each_seller_gets_events_with_their_own_thresholds(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, settings: Settings
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1, sellers=2)
    async with sessionmaker() as session, session.begin():
        lenient = (await session.execute(select(TrackedProduct).limit(1))).scalar_one()
        lenient.thresholds = {"price_change_pct": "50"}
    await ingest(sessionmaker, pid, item(), T0)
    run = await ingest(sessionmaker, pid, item(price=Decimal("15.00")), T0 + timedelta(days=1))
    assert await detect(new_uow, settings, run, T0 + timedelta(days=1)) == 1
    (event,) = await alert_events(sessionmaker)
    assert event.tracked_product_id != lenient.id


async def test_competitor_undercut_between_tagged_products(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, settings: Settings
) -> None:
    own, rival = await seed_tracked(sessionmaker, count=2)
    async with sessionmaker() as session, session.begin():
        trackings = {
            t.product_id: t for t in (await session.execute(select(TrackedProduct))).scalars()
        }
        trackings[own].tags = ["earbuds"]
        trackings[rival].tags = ["earbuds"]
        trackings[rival].role = "competitor"
    await ingest(sessionmaker, own, item(asin="B0OWN00001", price=Decimal("20.00")), T0)
    await ingest(sessionmaker, rival, item(asin="B0RIVAL001", price=Decimal("21.00")), T0)
    run = await ingest(
        sessionmaker, rival, item(asin="B0RIVAL001", price=Decimal("19.00")), T0 + timedelta(days=1)
    )
    await detect(new_uow, settings, run, T0 + timedelta(days=1))
    undercuts = [e for e in await alert_events(sessionmaker) if e.rule == "competitor_undercut"]
    assert len(undercuts) == 1
    assert undercuts[0].severity == "critical"

    # The competitor back at the seller's price ends the undercut instead of leaving it open.
    back = await ingest(
        sessionmaker, rival, item(asin="B0RIVAL001", price=Decimal("20.00")), T0 + timedelta(days=2)
    )
    assert await detect(new_uow, settings, back, T0 + timedelta(days=2)) == 0
    (ended,) = [e for e in await alert_events(sessionmaker) if e.rule == "competitor_undercut"]
    assert ended.ended_message == "Undercut over: the competitor is back to 20.00 USD after 1 day"


async def _channel(
    sessionmaker: async_sessionmaker[AsyncSession], kind: str, target: str, **values: object
) -> NotificationChannel:
    async with sessionmaker() as session, session.begin():
        user_id = (await session.execute(select(TrackedProduct.user_id).limit(1))).scalar_one()
        channel = NotificationChannel(
            user_id=user_id,
            name=kind,
            kind=kind,
            target=target,
            signing_secret="s3cret" if kind == "webhook" else None,
            min_severity=str(values.get("min_severity", "info")),
            mode=str(values.get("mode", "immediate")),
        )
        session.add(channel)
    return channel


async def test_signed_webhook_is_delivered_and_retried_after_a_failure(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    alert_settings: Settings,
    receiver: Receiver,
    redis: Redis,
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1)
    await ingest(sessionmaker, pid, item(), T0)
    channel = await _channel(sessionmaker, "webhook", receiver.url)
    await _channel(
        sessionmaker, "webhook", receiver.url + "/critical-only", min_severity="critical"
    )
    run = await ingest(sessionmaker, pid, item(in_stock=False), T0 + timedelta(days=1))
    await detect(new_uow, alert_settings, run, T0 + timedelta(days=1))
    async with sessionmaker() as session:
        deliveries = list((await session.execute(select(Delivery))).scalars())
    # out_of_stock on an own product is critical: both channels take it.
    assert len(deliveries) == 2
    assert await redis.zcard(queue_key(Queue.CRITICAL)) == 2
    delivery = next(d for d in deliveries if d.channel_id == channel.id)

    receiver.statuses = [503]
    runner = DeliveryRunner(new_uow, alert_settings.alerts)
    with pytest.raises(TransientError):
        await runner.run(delivery.id)
    assert (await runner.run(delivery.id))["status"] == "sent"
    async with sessionmaker() as session:
        recorded = await session.get(Delivery, delivery.id)
    assert recorded is not None
    assert (recorded.status, recorded.attempts, recorded.response_status) == ("sent", 2, 200)

    last = receiver.requests[-1]
    timestamp = last["headers"]["x-shelfwatch-timestamp"]
    expected = hmac.new(b"s3cret", timestamp.encode() + b"." + last["body"], hashlib.sha256)
    assert last["headers"]["x-shelfwatch-signature"] == "sha256=" + expected.hexdigest()
    payload = json.loads(last["body"])
    assert payload["type"] == "event"
    assert payload["events"][0]["rule"] == "out_of_stock"
    assert payload["events"][0]["product"]["marketplace"] == "US"
    assert len(payload["events"][0]["product"]["asin"]) == 10
    # A second run of the finished delivery sends nothing again.
    assert (await runner.run(delivery.id))["skipped"] is True
    assert (
        len(
            [
                r
                for r in receiver.requests
                if r["headers"]["x-shelfwatch-delivery"] == str(delivery.id)
            ]
        )
        == 2
    )


async def test_permanent_failure_is_recorded_without_retry(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    alert_settings: Settings,
    receiver: Receiver,
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1)
    await ingest(sessionmaker, pid, item(), T0)
    await _channel(sessionmaker, "webhook", receiver.url)
    run = await ingest(sessionmaker, pid, item(in_stock=False), T0 + timedelta(days=1))
    await detect(new_uow, alert_settings, run, T0 + timedelta(days=1))
    async with sessionmaker() as session:
        (delivery,) = (await session.execute(select(Delivery))).scalars()
    receiver.statuses = [410]
    result = await DeliveryRunner(new_uow, alert_settings.alerts).run(delivery.id)
    assert result["status"] == "failed"


async def test_email_and_slack_deliveries(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    alert_settings: Settings,
    receiver: Receiver,
    mailbox: Mailbox,
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1)
    await ingest(sessionmaker, pid, item(), T0)
    await _channel(sessionmaker, "email", "seller@example.com")
    await _channel(sessionmaker, "slack", receiver.url)
    run = await ingest(sessionmaker, pid, item(price=Decimal("10.00")), T0 + timedelta(days=1))
    await detect(new_uow, alert_settings, run, T0 + timedelta(days=1))
    async with sessionmaker() as session:
        deliveries = list((await session.execute(select(Delivery))).scalars())
    runner = DeliveryRunner(new_uow, alert_settings.alerts)
    for delivery in deliveries:
        assert (await runner.run(delivery.id))["status"] == "sent"
    assert len(mailbox.messages) == 1
    assert mailbox.messages[0]["to"] == ["seller@example.com"]
    assert "Price dropped" in mailbox.messages[0]["data"]
    slack = json.loads(receiver.requests[-1]["body"])
    assert "Price dropped" in slack["text"]


async def test_digest_channels_get_one_daily_message_instead(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    alert_settings: Settings,
    receiver: Receiver,
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1)
    await ingest(sessionmaker, pid, item(), T0)
    await _channel(sessionmaker, "webhook", receiver.url, mode="digest")
    run = await ingest(
        sessionmaker, pid, item(price=Decimal("10.00"), in_stock=False), T0 + timedelta(hours=1)
    )
    now = datetime.now(UTC)
    await detect(new_uow, alert_settings, run, now)
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 0
    async with new_uow() as uow:
        assert await DigestPlanner(uow, alert_settings).plan(now + timedelta(hours=1)) == 1
    async with new_uow() as uow:  # the same day again: nothing new
        assert await DigestPlanner(uow, alert_settings).plan(now + timedelta(hours=2)) == 0
    async with sessionmaker() as session:
        (digest,) = (await session.execute(select(Delivery))).scalars()
    await DeliveryRunner(new_uow, alert_settings.alerts).run(digest.id)
    payload = json.loads(receiver.requests[-1]["body"])
    assert payload["type"] == "digest"
    assert {e["rule"] for e in payload["events"]} == {"price_change", "out_of_stock"}


async def test_a_critical_now_channel_sends_critical_alerts_at_once_and_the_rest_in_the_digest(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    alert_settings: Settings,
    receiver: Receiver,
) -> None:
    (pid,) = await seed_tracked(sessionmaker, count=1)
    await ingest(sessionmaker, pid, item(), T0)
    channel = await _channel(
        sessionmaker, "webhook", receiver.url, min_severity="warning", mode="critical_now"
    )
    # A stock-out (critical on the seller's own product) and a rating drop (a warning).
    run = await ingest(
        sessionmaker,
        pid,
        item(in_stock=False, rating=Decimal("4.0")),
        T0 + timedelta(hours=1),
    )
    now = datetime.now(UTC)
    await detect(new_uow, alert_settings, run, now)
    async with sessionmaker() as session:
        (at_once,) = (await session.execute(select(Delivery))).scalars()
        stored = {e.id: e.rule for e in (await session.execute(select(AlertEvent))).scalars()}
    assert sorted(stored.values()) == ["out_of_stock", "rating_drop"]
    assert (at_once.channel_id, at_once.kind) == (channel.id, "event")
    assert [stored[i] for i in at_once.event_ids] == ["out_of_stock"]

    async with new_uow() as uow:
        assert await DigestPlanner(uow, alert_settings).plan(now + timedelta(hours=1)) == 1
    async with sessionmaker() as session:
        digest = (
            await session.execute(select(Delivery).where(Delivery.kind == "digest"))
        ).scalar_one()
    await DeliveryRunner(new_uow, alert_settings.alerts).run(digest.id)
    payload = json.loads(receiver.requests[-1]["body"])
    assert payload["type"] == "digest"
    assert {e["rule"] for e in payload["events"]} >= {"rating_drop"}
