"""The daily digest is the overview's morning brief: the same BriefService.build, sent as JSON to
webhooks and as sectioned plain text to email, since the seller's last digest."""

from __future__ import annotations

import email
import email.policy
import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.alerts.brief import BriefService
from services.alerts.delivery import DeliveryRunner, DigestPlanner
from services.alerts.detection import ChangeDetector
from services.alerts.models import Delivery, NotificationChannel
from services.alerts.service import AlertService
from services.core.settings import Settings
from services.core.uow import UnitOfWork
from services.product.apify.item import CrawlStatus, ListingContent, ParsedItem
from services.product.models import Product, TrackedProduct
from services.product.service import ProductService
from tests.factories import ingest, item, seed_tracked
from tests.integration.alerts.conftest import Mailbox, Receiver

pytestmark = pytest.mark.asyncio
UowFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


@dataclass
class Seller:
    id: uuid.UUID


async def _seller_of(sessionmaker: async_sessionmaker[AsyncSession], pids: list[int]) -> Seller:
    async with sessionmaker() as session:
        user_id = (
            await session.execute(
                select(TrackedProduct.user_id).where(TrackedProduct.product_id == pids[0])
            )
        ).scalar_one()
    return Seller(user_id)


async def _asin(sessionmaker: async_sessionmaker[AsyncSession], pid: int) -> str:
    async with sessionmaker() as session:
        product = await session.get(Product, pid)
        assert product is not None
        return product.asin


def named(asin: str, title: str, **values: object) -> ParsedItem:
    listing = ListingContent(title=title, brand="B", bullets=("a",), images=("1.jpg",))
    return item(asin, listing=listing, **values)


async def _detect(new_uow: UowFactory, settings: Settings, run: uuid.UUID) -> int:
    async with new_uow() as uow:
        return (await ChangeDetector(uow, settings).detect_run(run, datetime.now(UTC))).events


async def _a_busy_seller(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, settings: Settings
) -> Seller:
    """Three products: one that dropped 25 % and went out of stock (two alerts, a mover), one
    whose last crawl was blocked (stale, last good $30.00 a day ago), one quiet."""
    now = datetime.now(UTC)
    mover, blocked, quiet = await seed_tracked(sessionmaker, count=3)
    a_mover, a_blocked, a_quiet = [await _asin(sessionmaker, p) for p in (mover, blocked, quiet)]
    await ingest(
        sessionmaker,
        mover,
        named(a_mover, "Alpha Earbuds", price=Decimal("20.00")),
        now - timedelta(days=8),
    )
    run = await ingest(
        sessionmaker,
        mover,
        named(a_mover, "Alpha Earbuds", price=Decimal("15.00"), in_stock=False),
        now - timedelta(hours=2),
    )
    assert await _detect(new_uow, settings, run) == 2
    await ingest(
        sessionmaker,
        blocked,
        named(a_blocked, "Bravo Cable", price=Decimal("30.00")),
        now - timedelta(days=1),
    )
    await ingest(
        sessionmaker,
        blocked,
        named(a_blocked, "Bravo Cable", status=CrawlStatus.BLOCKED, price=None, in_stock=None),
        now - timedelta(hours=1),
    )
    await ingest(sessionmaker, quiet, named(a_quiet, "Charlie Case"), now - timedelta(hours=3))
    return await _seller_of(sessionmaker, [mover, blocked, quiet])


async def _another_seller(
    sessionmaker: async_sessionmaker[AsyncSession], new_uow: UowFactory, settings: Settings
) -> Seller:
    """A second seller with their own mover, alerts and a blocked crawl."""
    now = datetime.now(UTC)
    (pid,) = await seed_tracked(sessionmaker, count=1)
    asin = await _asin(sessionmaker, pid)
    await ingest(
        sessionmaker,
        pid,
        named(asin, "Zulu Speaker", price=Decimal("50.00")),
        now - timedelta(days=9),
    )
    run = await ingest(
        sessionmaker,
        pid,
        named(asin, "Zulu Speaker", price=Decimal("35.00"), in_stock=False),
        now - timedelta(hours=2),
    )
    assert await _detect(new_uow, settings, run) == 2
    return await _seller_of(sessionmaker, [pid])


async def _digest_channel(
    sessionmaker: async_sessionmaker[AsyncSession],
    user_id: uuid.UUID,
    kind: str,
    target: str,
    min_severity: str = "info",
) -> NotificationChannel:
    async with sessionmaker() as session, session.begin():
        channel = NotificationChannel(
            user_id=user_id,
            name=kind,
            kind=kind,
            target=target,
            signing_secret="s3cret" if kind == "webhook" else None,
            min_severity=min_severity,
            mode="digest",
        )
        session.add(channel)
    return channel


async def _deliveries(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Delivery]:
    async with sessionmaker() as session:
        return list(
            (await session.execute(select(Delivery).order_by(Delivery.created_at))).scalars()
        )


async def _overview_brief(
    new_uow: UowFactory, settings: Settings, seller: Seller, since: datetime, now: datetime
) -> dict[str, Any]:
    """The brief the overview page builds for this seller (the same service call it makes)."""
    async with new_uow() as uow:
        brief = await BriefService(
            AlertService(uow, settings.alerts), ProductService(uow), settings.crawl
        ).build(seller, since=since, now=now)
    return brief.model_dump(mode="json")


async def test_webhook_digest_carries_the_overviews_brief_and_nothing_of_another_seller(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    alert_settings: Settings,
    receiver: Receiver,
) -> None:
    seller = await _a_busy_seller(sessionmaker, new_uow, alert_settings)
    other = await _another_seller(sessionmaker, new_uow, alert_settings)
    channel = await _digest_channel(sessionmaker, seller.id, "webhook", receiver.url)
    await _digest_channel(sessionmaker, other.id, "webhook", receiver.url + "/other")
    planned_at = datetime.now(UTC)

    async with new_uow() as uow:
        assert await DigestPlanner(uow, alert_settings).plan(planned_at) == 2
    digest = next(d for d in await _deliveries(sessionmaker) if d.channel_id == channel.id)
    runner = DeliveryRunner(new_uow, alert_settings.alerts, alert_settings.crawl)
    assert (await runner.run(digest.id))["status"] == "sent"

    (request,) = [
        r for r in receiver.requests if r["headers"]["x-shelfwatch-delivery"] == str(digest.id)
    ]
    payload = json.loads(request["body"])
    assert payload["type"] == "digest"
    brief = payload["brief"]
    # No digest reached this channel before: the brief covers the day before the plan.
    assert datetime.fromisoformat(brief["since"]) == planned_at - timedelta(days=1)
    # Exactly what the overview shows this seller at that moment.
    overview = await _overview_brief(
        new_uow,
        alert_settings,
        seller,
        datetime.fromisoformat(brief["since"]),
        datetime.fromisoformat(brief["generated_at"]),
    )
    assert brief == overview

    assert [m["product"] for m in brief["movers"]] == ["Alpha Earbuds"]
    assert Decimal(brief["movers"][0]["change_7d_pct"]) == Decimal("-25")
    (stale,) = brief["stale"]
    assert stale["status"] == "blocked"
    assert (Decimal(stale["price"]), stale["currency"]) == (Decimal("30.00"), "USD")
    assert stale["as_of"] is not None
    assert (brief["tracked"], brief["quota"]) == (3, overview["quota"])
    assert brief["quota"] > 0
    assert brief["unread_by_severity"] == {"critical": 1, "warning": 1, "info": 0}
    assert [i["rule"] for i in brief["items"]] == ["out_of_stock", "price_change"]
    assert brief["items"][0]["next_step"] == "Restock or pause ads until it is back"
    assert brief["last_crawl_at"] is not None and brief["next_crawl_at"] is not None
    # The events array stays: the alerts this digest reports, with their evidence.
    assert {e["rule"] for e in payload["events"]} == {"out_of_stock", "price_change"}
    assert {e["id"] for e in payload["events"]} == {i["alert_id"] for i in brief["items"]}

    # Tenancy: nothing of the other seller's product in this seller's digest.
    body = request["body"].decode()
    assert "Zulu Speaker" not in body
    other_tracking = await _tracking_ids(sessionmaker, other.id)
    assert not any(t in body for t in other_tracking)


async def _tracking_ids(
    sessionmaker: async_sessionmaker[AsyncSession], user_id: uuid.UUID
) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(TrackedProduct.id).where(TrackedProduct.user_id == user_id)
        )
        return [str(r[0]) for r in rows]


def _text_of(raw: str) -> str:
    """The readable body of a mail, whatever transfer encoding Apprise chose."""
    message = email.message_from_string(raw, policy=email.policy.default)
    parts = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    part = parts[0] if parts else message
    return str(part.get_content())  # type: ignore[attr-defined]


async def test_email_digest_has_every_section_in_the_products_currency(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    alert_settings: Settings,
    mailbox: Mailbox,
) -> None:
    seller = await _a_busy_seller(sessionmaker, new_uow, alert_settings)
    await _another_seller(sessionmaker, new_uow, alert_settings)
    await _digest_channel(sessionmaker, seller.id, "email", "seller@example.com")
    async with new_uow() as uow:
        assert await DigestPlanner(uow, alert_settings).plan() == 1
    (digest,) = await _deliveries(sessionmaker)
    runner = DeliveryRunner(new_uow, alert_settings.alerts, alert_settings.crawl)
    assert (await runner.run(digest.id))["status"] == "sent"

    (mail,) = mailbox.messages
    assert mail["to"] == ["seller@example.com"]
    subject = email.message_from_string(mail["data"], policy=email.policy.default)["subject"]
    assert "daily brief: 2 new alerts (1 critical), 1 stale crawl" in subject
    text = _text_of(mail["data"])
    lines = text.splitlines()
    # Readable as plain text: one line per heading, alert and next step.
    assert "NEW ALERTS (2) — most revenue at stake first" in lines
    assert "  → Restock or pause ads until it is back" in lines
    assert "PLAN" in lines
    sections = ["NEW ALERTS (2)", "BIGGEST PRICE MOVES", "NEEDS A FRESH CRAWL", "CRAWLS", "PLAN"]
    positions = [text.index(s) for s in sections]
    assert positions == sorted(positions)
    # Ranked: the stock-out before the price change, each with its next step.
    assert text.index("[critical]") < text.index("[warning]")
    assert "→ Restock or pause ads until it is back" in text
    assert "→ Check the price change was intended" in text
    assert "Alpha Earbuds: $15.00 (-25.0%) · #5,000 in Electronics" in text
    assert "Bravo Cable: last crawl: blocked — last good $30.00, 1 d ago" in text
    assert "Unread in the inbox: 2 (1 critical, 1 warning, 0 info)." in text
    assert "Last crawl: " in text and "Next crawl: " in text
    assert "Tracking 3 of " in text
    assert "Zulu" not in text and "Zulu" not in subject


async def test_next_digest_starts_where_the_last_one_ended_and_a_quiet_day_sends_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    alert_settings: Settings,
    receiver: Receiver,
) -> None:
    now = datetime.now(UTC)
    (pid,) = await seed_tracked(sessionmaker, count=1)
    asin = await _asin(sessionmaker, pid)
    await ingest(sessionmaker, pid, item(asin), now - timedelta(hours=5))
    run = await ingest(sessionmaker, pid, item(asin, in_stock=False), now - timedelta(hours=4))
    assert await _detect(new_uow, alert_settings, run) == 1
    seller = await _seller_of(sessionmaker, [pid])
    # A warning-only channel: the info alert below is never its news.
    await _digest_channel(sessionmaker, seller.id, "webhook", receiver.url, "warning")
    first_at = datetime.now(UTC)
    async with new_uow() as uow:
        assert await DigestPlanner(uow, alert_settings).plan(first_at) == 1
    (first,) = await _deliveries(sessionmaker)
    runner = DeliveryRunner(new_uow, alert_settings.alerts, alert_settings.crawl)
    assert (await runner.run(first.id))["status"] == "sent"

    # The next day: no new alert and fresh numbers (the stock-out is still unread, but it was
    # in yesterday's digest), so nothing is sent.
    next_day = first_at + timedelta(days=1)
    async with new_uow() as uow:
        assert await DigestPlanner(uow, alert_settings).plan(next_day) == 0

    # A new critical alert after the first digest: the next one reports only it, and its
    # "since" is when the first digest was planned.
    back = await ingest(sessionmaker, pid, item(asin, in_stock=True), now - timedelta(hours=3))
    out = await ingest(sessionmaker, pid, item(asin, in_stock=False), now - timedelta(hours=2))
    quiet = alert_settings.model_copy(deep=True)
    quiet.alerts.rearm_window_s = 0
    # Back in stock ends the stock-out alert rather than raising one of its own.
    assert await _detect(new_uow, quiet, back) == 0
    assert await _detect(new_uow, quiet, out) == 1  # out of stock again: critical
    later = datetime.now(UTC) + timedelta(days=2)
    async with new_uow() as uow:
        assert await DigestPlanner(uow, alert_settings).plan(later) == 1
    second = (await _deliveries(sessionmaker))[-1]
    assert second.id != first.id
    assert len(second.event_ids) == 1
    assert (await runner.run(second.id))["status"] == "sent"
    payload = json.loads(receiver.requests[-1]["body"])
    assert datetime.fromisoformat(payload["brief"]["since"]) == first_at
    assert [e["rule"] for e in payload["events"]] == ["out_of_stock"]
    assert payload["events"][0]["id"] == str(second.event_ids[0])
    # The brief itself still counts every unread alert, as the overview does.
    assert payload["brief"]["unread_total"] == 2


async def test_a_day_at_the_alert_cap_is_said_in_the_digest(
    sessionmaker: async_sessionmaker[AsyncSession],
    new_uow: UowFactory,
    alert_settings: Settings,
    receiver: Receiver,
) -> None:
    capped = alert_settings.model_copy(deep=True)
    capped.alerts.daily_cap_per_seller = 2
    now = datetime.now(UTC)
    (pid,) = await seed_tracked(sessionmaker, count=1)
    asin = await _asin(sessionmaker, pid)
    await ingest(sessionmaker, pid, named(asin, "Delta Dock"), now - timedelta(hours=5))
    run = await ingest(
        sessionmaker,
        pid,
        named(asin, "Delta Dock", in_stock=False, rating=Decimal("3.9"), review_count=900),
        now - timedelta(hours=4),
    )
    # Three changes at once, two recorded: the cap cut the third.
    assert await _detect(new_uow, capped, run) == 2
    seller = await _seller_of(sessionmaker, [pid])
    await _digest_channel(sessionmaker, seller.id, "webhook", receiver.url)
    await _digest_channel(sessionmaker, seller.id, "slack", receiver.url + "/slack")
    async with new_uow() as uow:
        assert await DigestPlanner(uow, capped).plan() == 2
    runner = DeliveryRunner(new_uow, capped.alerts, capped.crawl)
    for delivery in await _deliveries(sessionmaker):
        assert (await runner.run(delivery.id))["status"] == "sent"
    by_path = {
        json.loads(r["body"]).get("type", "slack"): json.loads(r["body"]) for r in receiver.requests
    }
    brief = by_path["digest"]["brief"]
    assert brief["alert_cap_reached_on"] == [datetime.now(UTC).date().isoformat()]
    assert brief["daily_alert_cap"] == 2
    slack = by_path["slack"]["text"]
    assert "Alert limit reached on " in slack
    assert "at most 2 alerts are recorded a day" in slack
