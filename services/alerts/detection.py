"""After each ingest: compare every good snapshot with the previous good one, per seller's
tracking and thresholds, store the events, and queue their deliveries."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from services.alerts.models import NotificationChannel
from services.alerts.repository import AlertRepository, ChannelRepository, DeliveryRepository
from services.alerts.rules import Event, State, detect, undercut
from services.alerts.thresholds import Rule, Severity, Thresholds
from services.core.jobs import Queue
from services.core.metrics import ALERT_EVENTS
from services.core.settings import Settings
from services.core.uow import UnitOfWork
from services.product.models import CrawlRun, TrackedProduct

logger = logging.getLogger(__name__)

DELIVER_TASK = "alerts.deliver"


def deliver_job_id(delivery_id: uuid.UUID) -> str:
    return f"{DELIVER_TASK}:{delivery_id}"


def _state(row: Mapping[str, Any], prefix: str = "") -> State:
    return State(
        price=row[f"{prefix}price"],
        buybox_price=row[f"{prefix}buybox_price"],
        buybox_seller=row[f"{prefix}buybox_seller"],
        in_stock=row[f"{prefix}in_stock"],
        rating=row[f"{prefix}rating"],
        review_count=row[f"{prefix}review_count"],
        bsr=row[f"{prefix}bsr"] or [],
        title=row[f"{prefix}title"],
        bullets=row[f"{prefix}bullets"] or [],
        images=row[f"{prefix}images"] or [],
        currency=row[f"{prefix}currency"],
    )


def thresholds_of(tracking: TrackedProduct) -> Thresholds:
    try:
        return Thresholds.model_validate(tracking.thresholds or {})
    except ValidationError:  # stored before a stricter version: fall back to the defaults
        logger.warning("invalid stored thresholds", extra={"tracking": str(tracking.id)})
        return Thresholds()


def _fingerprint(event: Event) -> str:
    # One event per BSR category per crawl; every other rule fires once per crawl.
    if isinstance(event.new, dict) and "category" in event.new:
        return str(event.new["category"])[:200]
    return ""


@dataclass(frozen=True, slots=True)
class DetectionResult:
    compared: int
    events: int
    suppressed: int
    deliveries: int


class ChangeDetector:
    """Detection over one crawl run. Safe to run twice: events are unique per crawl."""

    def __init__(self, uow: UnitOfWork, settings: Settings) -> None:
        self.uow = uow
        self.settings = settings
        self.alerts = AlertRepository(uow.session)

    async def detect_run(self, run_id: uuid.UUID, now: datetime | None = None) -> DetectionResult:
        now = now or datetime.now(UTC)
        run = await self.uow.session.get(CrawlRun, run_id)
        if run is None:
            raise ValueError(f"crawl run {run_id} does not exist")
        pairs = {
            row["product_id"]: row
            for row in await self.alerts.snapshot_pairs(run_id, run.captured_at)
        }
        if not pairs:
            return DetectionResult(0, 0, 0, 0)
        trackings = list(
            (
                await self.uow.session.execute(
                    select(TrackedProduct).where(
                        TrackedProduct.product_id.in_(pairs), TrackedProduct.is_active.is_(True)
                    )
                )
            ).scalars()
        )
        candidates: list[tuple[TrackedProduct, Event]] = []
        for tracking in trackings:
            row = pairs[tracking.product_id]
            found = detect(_state(row, "p_"), _state(row), thresholds_of(tracking), tracking.role)
            candidates.extend((tracking, e) for e in found)
        candidates.extend(await self._undercuts(trackings, pairs))
        kept, suppressed = await self._against_fatigue(candidates, now)
        rows = [
            {
                "id": uuid.uuid4(),
                "user_id": tracking.user_id,
                "tracked_product_id": tracking.id,
                "product_id": tracking.product_id,
                "rule": event.rule.value,
                "fingerprint": _fingerprint(event),
                "severity": event.severity.value,
                "old_value": event.old,
                "new_value": event.new,
                "change": event.change,
                "threshold": event.threshold,
                "message": event.message,
                "crawl_run_id": run_id,
                "snapshot_captured_at": run.captured_at,
            }
            for tracking, event in kept
        ]
        inserted = await self.alerts.insert_events(rows)
        for event in inserted:
            ALERT_EVENTS.labels(event.rule, event.severity).inc()
        deliveries = await self._queue_deliveries(inserted)
        logger.info(
            "changes detected",
            extra={
                "run_id": str(run_id),
                "compared": len(pairs),
                "events": len(inserted),
                "suppressed": suppressed,
            },
        )
        return DetectionResult(len(pairs), len(inserted), suppressed, deliveries)

    async def _undercuts(
        self, trackings: list[TrackedProduct], pairs: Mapping[int, Mapping[str, Any]]
    ) -> list[tuple[TrackedProduct, Event]]:
        """Competitors newly priced under one of the seller's own products sharing a tag."""
        competitors = [t for t in trackings if t.role == "competitor" and t.tags]
        if not competitors:
            return []
        own: dict[tuple[uuid.UUID, str], list[tuple[str, Decimal]]] = defaultdict(list)
        for row in await self.alerts.own_prices_by_tag(list({t.user_id for t in competitors})):
            if row["price"] is not None:
                label = row["alias"] or row["asin"]
                own[(row["user_id"], row["tag"])].append((label, row["price"]))
        events = []
        for tracking in competitors:
            row = pairs[tracking.product_id]
            thresholds = thresholds_of(tracking)
            if not thresholds.enabled(Rule.COMPETITOR_UNDERCUT):
                continue
            for tag in tracking.tags:
                for label, own_price in own.get((tracking.user_id, tag), []):
                    event = undercut(row["price"], row["p_price"], own_price, thresholds, label)
                    if event is not None:
                        events.append((tracking, event))
        return events

    async def _against_fatigue(
        self, candidates: list[tuple[TrackedProduct, Event]], now: datetime
    ) -> tuple[list[tuple[TrackedProduct, Event]], int]:
        """Drop what fired inside the re-arm window and what passes each seller's daily cap."""
        if not candidates:
            return [], 0
        alerts = self.settings.alerts
        recent = await self.alerts.last_fired(
            list({t.id for t, _ in candidates}), now - timedelta(seconds=alerts.rearm_window_s)
        )
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        used = await self.alerts.count_since(list({t.user_id for t, _ in candidates}), day_start)
        # Most severe first, so a cap cuts the info events before the critical ones.
        ordered = sorted(candidates, key=lambda c: -c[1].severity.rank)
        kept, suppressed = [], 0
        seen: set[tuple[uuid.UUID, str, str]] = set()
        for tracking, event in ordered:
            key = (tracking.id, event.rule.value, _fingerprint(event))
            if (
                key in recent
                or key in seen
                or used.get(tracking.user_id, 0) >= alerts.daily_cap_per_seller
            ):
                suppressed += 1
                continue
            seen.add(key)
            used[tracking.user_id] = used.get(tracking.user_id, 0) + 1
            kept.append((tracking, event))
        return kept, suppressed

    async def _queue_deliveries(self, events: list[Any]) -> int:
        """One delivery per (event, immediate channel whose severity filter lets it through)."""
        if not events:
            return 0
        channels = await ChannelRepository(self.uow.session).active_for_users(
            list({e.user_id for e in events})
        )
        by_user: dict[uuid.UUID, list[NotificationChannel]] = defaultdict(list)
        for channel in channels:
            if channel.mode == "immediate":
                by_user[channel.user_id].append(channel)
        rows = [
            {
                "id": uuid.uuid4(),
                "user_id": event.user_id,
                "channel_id": channel.id,
                "kind": "event",
                "dedupe_key": f"event:{event.id}",
                "event_ids": [event.id],
            }
            for event in events
            for channel in by_user.get(event.user_id, [])
            if Severity(event.severity).rank >= Severity(channel.min_severity).rank
        ]
        created = await DeliveryRepository(self.uow.session).create_many(rows)
        for delivery in created:
            self.uow.jobs.enqueue(
                DELIVER_TASK,
                queue=Queue.CRITICAL,
                job_id=deliver_job_id(delivery.id),
                delivery_id=str(delivery.id),
            )
        return len(created)
