"""The morning brief: what changed for one seller, ranked by what matters most to revenue,
each item with its next step. The overview page shows it; the daily digest sends the same brief
(``BriefService.build``), as plain text (``brief_text``) and as JSON."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from services.alerts.schemas import AlertFilter
from services.alerts.service import AlertService
from services.alerts.thresholds import Rule, Severity
from services.core.formatting import ago, money, number, pct, when
from services.core.settings import CrawlScheduleSettings
from services.product.schemas import Seller, TrackedProductFilter, TrackedProductRow
from services.product.service import ProductService

SEVERITY_WEIGHT = {"critical": 100.0, "warning": 40.0, "info": 10.0}
# How directly each kind of change moves the seller's sales: a lost Buy Box or a stock-out stops
# them today; a rank drop or a listing edit shows up over days.
RULE_WEIGHT: dict[str, float] = {
    Rule.BUYBOX_LOST: 3.0,
    Rule.OUT_OF_STOCK: 3.0,
    Rule.COMPETITOR_UNDERCUT: 2.5,
    Rule.BUYBOX_SELLER_CHANGED: 2.0,
    Rule.PRICE_CHANGE: 2.0,
    Rule.BUYBOX_PRICE_CHANGE: 1.8,
    Rule.BSR_CHANGE: 1.6,
    Rule.RATING_DROP: 1.5,
    Rule.REVIEWS_REMOVED: 1.2,
    Rule.LISTING_CHANGED: 1.0,
    Rule.BACK_IN_STOCK: 0.6,
    Rule.BUYBOX_WON: 0.5,
}
# (next step, anchor on the product page)
NEXT_STEP: dict[str, tuple[str, str]] = {
    Rule.BUYBOX_LOST: ("Check your price and stock against the Buy Box winner", "#charts"),
    Rule.BUYBOX_SELLER_CHANGED: ("Check who holds the Buy Box and at what price", "#charts"),
    Rule.OUT_OF_STOCK: ("Restock or pause ads until it is back", ""),
    Rule.COMPETITOR_UNDERCUT: ("See the comparison and decide whether to match", "#charts"),
    Rule.PRICE_CHANGE: ("Check the price change was intended (repricer, promotion)", "#charts"),
    Rule.BUYBOX_PRICE_CHANGE: ("Review your price against the new Buy Box price", "#charts"),
    Rule.BSR_CHANGE: ("Look at the listing and the latest reviews", "#charts"),
    Rule.RATING_DROP: ("Read the latest reviews and answer the critical ones", "#charts"),
    Rule.REVIEWS_REMOVED: ("Check which reviews disappeared", "#charts"),
    Rule.LISTING_CHANGED: ("Review the listing diff — was it your change?", "#versions"),
    Rule.BACK_IN_STOCK: ("No action needed; resume ads if you paused them", ""),
    Rule.BUYBOX_WON: ("No action needed", ""),
}
FRESH_FOR = {
    "hourly": timedelta(hours=3),
    "daily": timedelta(hours=36),
    "weekly": timedelta(days=9),
}
CRAWL_EVERY = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(days=7),
}
ROLE_WEIGHT = {"own": 1.0, "competitor": 0.7}
# A change that a later crawl already undid (the deal is over, back in stock) is still worth
# knowing, but the moment to act on it has passed: it ranks below what still holds.
ENDED_WEIGHT = 0.25
ENDED_STEP = "Over already: nothing to do unless it happens again"


class BriefItem(BaseModel):
    """One thing to look at, with why it matters and what to do."""

    alert_id: uuid.UUID
    tracked_product_id: uuid.UUID
    product: str
    rule: str
    severity: str
    message: str
    next_step: str
    href: str
    score: float
    created_at: datetime
    new_since_last_visit: bool = False
    ended_at: datetime | None = None


class Mover(BaseModel):
    tracked_product_id: uuid.UUID
    product: str
    price: Decimal | None
    currency: str | None
    change_7d_pct: Decimal
    main_rank: int | None
    main_category: str | None


class StaleProduct(BaseModel):
    tracked_product_id: uuid.UUID
    product: str
    status: str | None
    as_of: datetime | None
    price: Decimal | None
    currency: str | None
    reason: str


class MorningBrief(BaseModel):
    generated_at: datetime
    since: datetime | None
    items: list[BriefItem]
    unread_total: int
    unread_by_severity: dict[str, int]
    movers: list[Mover]
    stale: list[StaleProduct]
    last_crawl_at: datetime | None
    next_crawl_at: datetime | None
    tracked: int
    quota: int
    # UTC days since ``since`` on which the daily alert cap stopped recording changes.
    alert_cap_reached_on: list[date] = []
    daily_alert_cap: int | None = None


def product_label(row: Any) -> str:
    return str(row.alias or row.title or row.asin)


def revenue_weight(row: TrackedProductRow | None, rows: Sequence[TrackedProductRow]) -> float:
    """0.5-1.5: products that sell more (higher price, better rank) count more. Without sales
    figures, price / log10(rank + 10) stands in for revenue, relative to the seller's others."""

    def estimate(r: TrackedProductRow) -> float:
        price = float(r.price or 0)
        rank = r.main_bsr.rank if r.main_bsr else 1_000_000
        return price / math.log10(rank + 10)

    if row is None:
        return 1.0
    top = max((estimate(r) for r in rows), default=0.0)
    return 0.5 + (estimate(row) / top if top > 0 else 0.5)


def score(
    severity: str, rule: str, role: str = "own", weight: float = 1.0, age: timedelta | None = None
) -> float:
    freshness = 1.0 if age is None else 1.0 / (1.0 + age.total_seconds() / 86_400 / 3)
    return round(
        SEVERITY_WEIGHT.get(severity, 10.0)
        * RULE_WEIGHT.get(rule, 1.0)
        * ROLE_WEIGHT.get(role, 1.0)
        * weight
        * freshness,
        3,
    )


def next_step(rule: str) -> tuple[str, str]:
    return NEXT_STEP.get(rule, ("Open the product to see what changed", ""))


def digest_items(
    brief: MorningBrief, min_severity: Severity, until: datetime | None = None
) -> list[BriefItem]:
    """The brief's alerts a digest reports: new since ``brief.since`` (up to ``until``, where
    the next digest takes over) and at least the channel's severity, in brief order."""
    return [
        item
        for item in brief.items
        if item.new_since_last_visit
        and Severity(item.severity).rank >= min_severity.rank
        and (until is None or item.created_at <= until)
    ]


def brief_worth_sending(items: Sequence[BriefItem], brief: MorningBrief) -> bool:
    """A quiet day sends nothing: a digest goes out when there is a new alert to act on or a
    product whose numbers are stale (the seller is blind on it until it is fixed)."""
    return bool(items) or bool(brief.stale)


# Lines a text channel shows per section; the rest is a count and a pointer to the dashboard.
TEXT_ALERTS = 20
TEXT_ROWS = 10


def brief_text(brief: MorningBrief, items: Sequence[BriefItem]) -> str:
    """The brief as readable plain text for email, Slack and Apprise: one section per part
    of the overview, money in each product's currency, each alert with its next step."""
    now = brief.generated_at
    out: list[str] = []
    if brief.since is not None:
        out.append(f"Since your last digest ({when(brief.since)}, {ago(brief.since, now)}).")
    else:
        out.append("Your first daily brief.")
    out.append("")

    out.append(f"NEW ALERTS ({len(items)}) — most revenue at stake first")
    if items:
        for item in items[:TEXT_ALERTS]:
            out.append(f"• [{item.severity}] {item.product}: {item.message}")
            out.append(f"  → {item.next_step}")
        if len(items) > TEXT_ALERTS:
            out.append(f"… and {len(items) - TEXT_ALERTS} more in the alerts inbox.")
    else:
        out.append("No new alerts.")
    if brief.alert_cap_reached_on:
        days = ", ".join(
            when(datetime.combine(d, time(), UTC), False) for d in brief.alert_cap_reached_on
        )
        out.append(
            f"Alert limit reached on {days}: at most {brief.daily_alert_cap} alerts are recorded"
            " a day, so later changes that day sent none. The products page has the latest"
            " numbers."
        )
    counts = ", ".join(
        f"{brief.unread_by_severity.get(s.value, 0)} {s.value}"
        for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO)
    )
    out.append(f"Unread in the inbox: {brief.unread_total} ({counts}).")
    out.append("")

    out.append("BIGGEST PRICE MOVES (7 days)")
    if brief.movers:
        for m in brief.movers[:TEXT_ROWS]:
            rank = f" · #{number(m.main_rank)} in {m.main_category}" if m.main_rank else ""
            out.append(
                f"• {m.product}: {money(m.price, m.currency)} ({pct(m.change_7d_pct)}){rank}"
            )
    else:
        out.append("No price moved in the last 7 days.")
    out.append("")

    out.append("NEEDS A FRESH CRAWL")
    if brief.stale:
        for s in brief.stale[:TEXT_ROWS]:
            age = ago(s.as_of, now) if s.as_of else "never"
            out.append(f"• {s.product}: {s.reason} — last good {money(s.price, s.currency)}, {age}")
        if len(brief.stale) > TEXT_ROWS:
            out.append(f"… and {len(brief.stale) - TEXT_ROWS} more on the products page.")
    else:
        out.append("Every product has fresh numbers.")
    out.append("")

    out.append("CRAWLS")
    last = f"{when(brief.last_crawl_at)} ({ago(brief.last_crawl_at, now)})"
    out.append(f"Last crawl: {last if brief.last_crawl_at else 'none yet'}")
    nxt = f"{when(brief.next_crawl_at)} ({ago(brief.next_crawl_at, now)})"
    out.append(f"Next crawl: {nxt if brief.next_crawl_at else 'none planned'}")
    out.append("")

    out.append("PLAN")
    out.append(f"Tracking {brief.tracked} of {brief.quota} products.")
    return "\n".join(out)


def brief_title(items: Sequence[BriefItem], brief: MorningBrief) -> str:
    critical = sum(1 for i in items if i.severity == Severity.CRITICAL)
    head = f"Shelfwatch daily brief: {len(items)} new alert{'s' if len(items) != 1 else ''}"
    if critical:
        head += f" ({critical} critical)"
    if brief.stale:
        head += f", {len(brief.stale)} stale crawl{'s' if len(brief.stale) != 1 else ''}"
    return head


class BriefService:
    """Builds one seller's morning brief through the alert and product services."""

    def __init__(
        self,
        alerts: AlertService,
        products: ProductService,
        schedule: CrawlScheduleSettings,
    ) -> None:
        self.alerts = alerts
        self.products = products
        self.schedule = schedule

    async def _all_rows(self, user: Seller) -> list[TrackedProductRow]:
        rows: list[TrackedProductRow] = []
        while True:
            page, total = await self.products.list_tracked(
                user, TrackedProductFilter(active=True, limit=100, offset=len(rows))
            )
            rows.extend(page)
            if not page or len(rows) >= total:
                return rows

    async def build(
        self, user: Seller, since: datetime | None = None, now: datetime | None = None
    ) -> MorningBrief:
        """Unread alerts ranked with next steps, movers, stale crawls, crawl times, plan use."""
        now = now or datetime.now(UTC)
        rows = await self._all_rows(user)
        quota, _ = await self.products.plan_usage(user)
        by_id = {r.id: r for r in rows}
        unread, unread_total = await self.alerts.list_alerts(
            user.id, AlertFilter(unread=True, limit=100)
        )
        items = []
        for alert in unread:
            row = by_id.get(alert.tracked_product_id)
            step, anchor = next_step(alert.rule)
            message, weight = alert.message, revenue_weight(row, rows)
            if alert.ended_at is not None:
                message = f"{message} — {alert.ended_message}"
                step, weight = ENDED_STEP, weight * ENDED_WEIGHT
            items.append(
                BriefItem(
                    alert_id=alert.id,
                    tracked_product_id=alert.tracked_product_id,
                    product=product_label(row) if row else "A stopped product",
                    rule=alert.rule,
                    severity=alert.severity,
                    message=message,
                    next_step=step,
                    href=f"/products/{alert.tracked_product_id}{anchor}",
                    score=score(
                        alert.severity,
                        alert.rule,
                        row.role if row else "own",
                        weight,
                        now - alert.created_at,
                    ),
                    created_at=alert.created_at,
                    new_since_last_visit=since is None or alert.created_at > since,
                    ended_at=alert.ended_at,
                )
            )
        items.sort(key=lambda i: (-i.score, -i.created_at.timestamp()))
        by_severity = {}
        for severity in (Severity.CRITICAL, Severity.WARNING, Severity.INFO):
            _, by_severity[severity.value] = await self.alerts.list_alerts(
                user.id, AlertFilter(unread=True, severity=severity, limit=1)
            )
        movers = sorted(
            (r for r in rows if r.price_change_7d_pct is not None and r.price_change_7d_pct != 0),
            key=lambda r: abs(r.price_change_7d_pct or Decimal(0)),
            reverse=True,
        )[:5]
        stale = []
        for r in rows:
            reason = None
            if r.last_crawl_status not in (None, "ok"):
                reason = f"last crawl: {r.last_crawl_status.replace('_', ' ')}"
            elif r.as_of is not None and now - r.as_of > FRESH_FOR.get(
                r.frequency, FRESH_FOR["daily"]
            ):
                reason = "no fresh data"
            if reason:
                stale.append(
                    StaleProduct(
                        tracked_product_id=r.id,
                        product=product_label(r),
                        status=r.last_crawl_status,
                        as_of=r.as_of,
                        price=r.price,
                        currency=r.currency,
                        reason=reason,
                    )
                )
        last_crawl = max((r.as_of for r in rows if r.as_of is not None), default=None)
        return MorningBrief(
            generated_at=now,
            since=since,
            items=items,
            unread_total=unread_total,
            unread_by_severity=by_severity,
            movers=[
                Mover(
                    tracked_product_id=r.id,
                    product=product_label(r),
                    price=r.price,
                    currency=r.currency,
                    change_7d_pct=r.price_change_7d_pct or Decimal(0),
                    main_rank=r.main_bsr.rank if r.main_bsr else None,
                    main_category=r.main_bsr.category if r.main_bsr else None,
                )
                for r in movers
            ],
            stale=stale,
            last_crawl_at=last_crawl,
            next_crawl_at=self._next_crawl(rows, now),
            tracked=len(rows),
            quota=quota,
            alert_cap_reached_on=(
                await self.alerts.days_at_daily_cap(user.id, since) if since else []
            ),
            daily_alert_cap=self.alerts.settings.daily_cap_per_seller,
        )

    def _next_crawl(self, rows: Sequence[TrackedProductRow], now: datetime) -> datetime | None:
        """When the scheduler next picks a product up: the earliest due time, on its next
        planning slot (it plans every ``plan_interval_minutes``)."""
        if not rows:
            return None
        due = min(
            (r.as_of + CRAWL_EVERY.get(r.frequency, CRAWL_EVERY["daily"]) if r.as_of else now)
            for r in rows
        )
        due = max(due, now)
        step = self.schedule.plan_interval_minutes * 60
        slot = math.ceil(due.timestamp() / step) * step
        return datetime.fromtimestamp(slot, UTC)
