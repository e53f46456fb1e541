"""After each ingest: compare every good snapshot with the previous good one, per seller's
tracking and thresholds, store the events, and queue their deliveries."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.alerts.jobs import AlertJob, deliver_job_id
from services.alerts.models import AlertEvent, NotificationChannel
from services.alerts.repository import AlertRepository, ChannelRepository, DeliveryRepository
from services.alerts.rules import (
    EPISODIC,
    Ending,
    Episode,
    Event,
    State,
    detect,
    fingerprint,
    settle,
    undercut,
    usual_ranks,
)
from services.alerts.schemas import DeliveryKind
from services.alerts.service import alerts_changed
from services.core.jobs import Queue
from services.core.metrics import ALERT_EPISODES_ENDED, ALERT_EVENTS
from services.core.read_cache import ReadCache
from services.core.settings import Settings
from services.core.thresholds import Rule
from services.core.uow import UnitOfWork
from services.product.catalog import ProductCatalog
from services.product.schemas import ProductState, StateChange, TrackingFacts, TrackingRole

logger = logging.getLogger(__name__)


def _state(state: ProductState, recent_bsr: Sequence[Sequence[Mapping[str, Any]]] = ()) -> State:
    return State(
        price=state.price,
        buybox_price=state.buybox_price,
        buybox_seller=state.buybox_seller,
        in_stock=state.in_stock,
        rating=state.rating,
        review_count=state.review_count,
        bsr=state.bsr,
        title=state.title,
        bullets=state.bullets,
        images=state.images,
        currency=state.currency,
        deal=state.deal,
        usual_bsr=usual_ranks(recent_bsr),
    )


def _episode(row: AlertEvent, run_id: uuid.UUID) -> Episode:
    return Episode(
        id=row.id,
        rule=row.rule,
        fingerprint=row.fingerprint,
        old=row.old_value,
        new=row.new_value,
        started_at=row.snapshot_captured_at,
        ended_here=row.ended_crawl_run_id == run_id,
    )


@dataclass(frozen=True, slots=True)
class DetectionResult:
    compared: int
    events: int
    suppressed: int
    deliveries: int
    ended: int = 0  # earlier alerts this crawl undid


class ChangeDetector:
    """Detection over one crawl run. Safe to run twice: events are unique per crawl."""

    def __init__(self, uow: UnitOfWork, settings: Settings, cache: ReadCache | None = None) -> None:
        self.uow = uow
        self.settings = settings
        self.cache = cache or ReadCache(None, 0)
        self.alerts = AlertRepository(uow.session)
        self.products = ProductCatalog(uow)

    async def detect_run(self, run_id: uuid.UUID, now: datetime | None = None) -> DetectionResult:
        now = now or datetime.now(UTC)
        crawl = await self.products.crawl_changes(run_id)
        pairs = {change.product_id: change for change in crawl.changes}
        if not pairs:
            return DetectionResult(0, 0, 0, 0)
        trackings = await self.products.active_trackings(list(pairs))
        if not trackings:
            return DetectionResult(len(pairs), 0, 0, 0)
        # Taken before reading open alerts and what already fired: without it, two jobs running
        # at once would each miss the other's events (and each store up to the cap).
        await self.alerts.lock_sellers(list({t.user_id for t in trackings}))
        candidates, ended = await self._changes(trackings, pairs, run_id, crawl.captured_at)
        candidates.extend(await self._undercuts(trackings, pairs))
        kept, suppressed = await self._against_fatigue(candidates, now)
        rows = [
            {
                "id": uuid.uuid4(),
                "user_id": tracking.user_id,
                "tracked_product_id": tracking.id,
                "product_id": tracking.product_id,
                "rule": event.rule.value,
                "fingerprint": fingerprint(event),
                "severity": event.severity.value,
                "old_value": event.old,
                "new_value": event.new,
                "change": event.change,
                "threshold": event.threshold,
                "message": event.message,
                "crawl_run_id": run_id,
                "snapshot_captured_at": crawl.captured_at,
            }
            for tracking, event in kept
        ]
        inserted = await self.alerts.insert_events(rows)
        for event in inserted:
            ALERT_EVENTS.labels(event.rule, event.severity).inc()
        # An ended alert shows differently too (the product detail's recent alerts).
        alerts_changed(
            self.uow, self.cache, {e.user_id for e in inserted} | {t.user_id for t, _ in ended}
        )
        deliveries = await self._queue_deliveries(inserted)
        logger.info(
            "changes detected",
            extra={
                "run_id": str(run_id),
                "compared": len(pairs),
                "events": len(inserted),
                "suppressed": suppressed,
                "ended": len(ended),
            },
        )
        return DetectionResult(len(pairs), len(inserted), suppressed, deliveries, len(ended))

    async def _changes(
        self,
        trackings: Sequence[TrackingFacts],
        pairs: Mapping[int, StateChange],
        run_id: uuid.UUID,
        captured_at: datetime,
    ) -> tuple[list[tuple[TrackingFacts, Event]], list[tuple[TrackingFacts, Ending]]]:
        """Each tracking's events of this crawl, and the open alerts it ends (recorded here):
        a move that undoes an open alert's change ends that alert instead of raising one."""
        episodes = await self._open_episodes(trackings, run_id, captured_at)
        candidates: list[tuple[TrackingFacts, Event]] = []
        ended: list[tuple[TrackingFacts, Ending]] = []
        for tracking in trackings:
            change = pairs[tracking.product_id]
            current = _state(change.current)
            previous = _state(change.previous, change.recent_bsr)
            found, endings = settle(
                detect(previous, current, tracking.thresholds, tracking.role),
                episodes.get(tracking.id, []),
                current,
                tracking.thresholds,
                captured_at,
            )
            candidates.extend((tracking, e) for e in found)
            ended.extend((tracking, e) for e in endings)
        await self.alerts.end_episodes(
            [
                {
                    "id": e.episode.id,
                    "ended_at": captured_at,
                    "ended_value": e.value,
                    "ended_message": e.message,
                    "ended_crawl_run_id": run_id,
                }
                for _, e in ended
            ]
        )
        for _, e in ended:
            ALERT_EPISODES_ENDED.labels(e.episode.rule).inc()
        return candidates, ended

    async def _open_episodes(
        self, trackings: Sequence[TrackingFacts], run_id: uuid.UUID, captured_at: datetime
    ) -> dict[uuid.UUID, list[Episode]]:
        """Each tracking's alerts that a move back could still end, by tracking."""
        window = self.settings.alerts.episode_window_s
        if not window:
            return {}
        rows = await self.alerts.open_episodes(
            [t.id for t in trackings],
            sorted(rule.value for rule in EPISODIC),
            captured_at - timedelta(seconds=window),
            captured_at,
            run_id,
        )
        episodes: dict[uuid.UUID, list[Episode]] = defaultdict(list)
        for row in rows:
            episodes[row.tracked_product_id].append(_episode(row, run_id))
        return episodes

    async def _undercuts(
        self, trackings: Sequence[TrackingFacts], pairs: Mapping[int, StateChange]
    ) -> list[tuple[TrackingFacts, Event]]:
        """Competitors newly priced under one of the seller's own products sharing a tag."""
        competitors = [t for t in trackings if t.role is TrackingRole.COMPETITOR and t.tags]
        if not competitors:
            return []
        own: dict[tuple[uuid.UUID, str], list[tuple[str, Decimal]]] = defaultdict(list)
        for price in await self.products.own_prices_by_tag(list({t.user_id for t in competitors})):
            own[(price.user_id, price.tag)].append((price.label, price.price))
        events = []
        for tracking in competitors:
            change = pairs[tracking.product_id]
            thresholds = tracking.thresholds
            if not thresholds.enabled(Rule.COMPETITOR_UNDERCUT):
                continue
            for tag in tracking.tags:
                for label, own_price in own.get((tracking.user_id, tag), []):
                    event = undercut(
                        change.current.price, change.previous.price, own_price, thresholds, label
                    )
                    if event is not None:
                        events.append((tracking, event))
        return events

    async def _against_fatigue(
        self, candidates: list[tuple[TrackingFacts, Event]], now: datetime
    ) -> tuple[list[tuple[TrackingFacts, Event]], int]:
        """Drop what fired inside the re-arm window and what passes each seller's daily cap."""
        if not candidates:
            return [], 0
        alerts = self.settings.alerts
        sellers = list({t.user_id for t, _ in candidates})
        recent = await self.alerts.last_fired(
            list({t.id for t, _ in candidates}), now - timedelta(seconds=alerts.rearm_window_s)
        )
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        used = await self.alerts.count_since(sellers, day_start)
        # Most severe first, so a cap cuts the info events before the critical ones.
        ordered = sorted(candidates, key=lambda c: -c[1].severity.rank)
        kept, suppressed = [], 0
        seen: set[tuple[uuid.UUID, str, str]] = set()
        for tracking, event in ordered:
            key = (tracking.id, event.rule.value, fingerprint(event))
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

    async def _queue_deliveries(self, events: list[AlertEvent]) -> int:
        """One delivery per (event, channel that sends it at once and whose severity filter lets
        it through)."""
        if not events:
            return 0
        channels = await ChannelRepository(self.uow.session).active_for_users(
            list({e.user_id for e in events})
        )
        by_user: dict[uuid.UUID, list[NotificationChannel]] = defaultdict(list)
        for channel in channels:
            by_user[channel.user_id].append(channel)
        rows = [
            {
                "id": uuid.uuid4(),
                "user_id": event.user_id,
                "channel_id": channel.id,
                "kind": DeliveryKind.EVENT,
                "dedupe_key": f"event:{event.id}",
                "event_ids": [event.id],
            }
            for event in events
            for channel in by_user.get(event.user_id, [])
            if event.severity.rank >= channel.min_severity.rank
            and channel.mode.sends_at_once(event.severity)
        ]
        created = await DeliveryRepository(self.uow.session).create_many(rows)
        for delivery in created:
            self.uow.jobs.enqueue(
                AlertJob.DELIVER,
                queue=Queue.CRITICAL,
                job_id=deliver_job_id(delivery.id),
                delivery_id=str(delivery.id),
            )
        return len(created)
