"""The digest's text rendering and which alerts a digest reports."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from services.alerts.brief import (
    BriefItem,
    MorningBrief,
    Mover,
    StaleProduct,
    brief_text,
    brief_worth_sending,
    digest_items,
)
from services.core.thresholds import Severity

NOW = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=1)


def alert(severity: str, created_at: datetime, new: bool = True) -> BriefItem:
    return BriefItem(
        alert_id=uuid.uuid4(),
        tracked_product_id=uuid.uuid4(),
        product="Stollen",
        rule="price_change",
        severity=severity,
        message="Price dropped",
        next_step="Check the price change was intended (repricer, promotion)",
        href="/products/x#charts",
        score=1.0,
        created_at=created_at,
        new_since_last_visit=new,
    )


def brief(**values: object) -> MorningBrief:
    base: dict[str, object] = {
        "generated_at": NOW,
        "since": SINCE,
        "items": [],
        "unread_total": 0,
        "unread_by_severity": {"critical": 0, "warning": 0, "info": 0},
        "movers": [],
        "stale": [],
        "last_crawl_at": None,
        "next_crawl_at": None,
        "tracked": 0,
        "quota": 25,
    }
    base.update(values)
    return MorningBrief.model_validate(base)


def test_a_digest_reports_new_alerts_at_the_channels_severity_up_to_its_plan_time() -> None:
    old = alert("critical", SINCE - timedelta(hours=1), new=False)
    info = alert("info", NOW - timedelta(hours=2))
    warning = alert("warning", NOW - timedelta(hours=1))
    after = alert("critical", NOW + timedelta(minutes=1))
    b = brief(items=[after, warning, info, old])
    assert digest_items(b, Severity.WARNING, until=NOW) == [warning]
    assert digest_items(b, Severity.INFO, until=NOW) == [warning, info]


def test_a_quiet_day_is_not_worth_a_message_but_a_stale_crawl_is() -> None:
    quiet = brief(tracked=3)
    assert not brief_worth_sending([], quiet)
    stale = brief(
        tracked=3,
        stale=[
            StaleProduct(
                tracked_product_id=uuid.uuid4(),
                product="Stollen",
                status="failed",
                as_of=NOW - timedelta(days=2),
                price=Decimal("1234.5"),
                currency="EUR",
                reason="last crawl: failed",
            )
        ],
    )
    assert brief_worth_sending([], stale)
    text = brief_text(stale, [])
    assert "• Stollen: last crawl: failed — last good €1,234.50, 2 d ago" in text.splitlines()
    assert "No new alerts." in text
    assert "No price moved in the last 7 days." in text
    assert "Last crawl: none yet" in text
    assert "Tracking 3 of 25 products." in text


def test_money_reads_in_each_products_currency() -> None:
    b = brief(
        movers=[
            Mover(
                tracked_product_id=uuid.uuid4(),
                product="Matcha",
                price=Decimal("1980"),
                currency="JPY",
                change_7d_pct=Decimal("12.5"),
                main_rank=1234,
                main_category="Food",
            )
        ],
        alert_cap_reached_on=[date(2026, 11, 21)],
        daily_alert_cap=200,
    )
    text = brief_text(b, [])
    assert "• Matcha: ¥1,980 (+12.5%) · #1,234 in Food" in text.splitlines()
    assert "Alert limit reached on 21 Nov 2026: at most 200 alerts" in text
