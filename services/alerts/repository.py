"""All SQL of the alerts module."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.alerts.models import AlertEvent, Delivery, NotificationChannel

# For each ok snapshot of a run: that snapshot, the product's previous ok snapshot, and the
# listing versions in force at each of the two moments.
_PAIRS_SQL = """
SELECT s.product_id, s.captured_at,
       s.price, s.buybox_price, s.buybox_seller, s.in_stock, s.rating, s.review_count, s.bsr,
       s.currency,
       prev.price AS p_price, prev.buybox_price AS p_buybox_price,
       prev.buybox_seller AS p_buybox_seller, prev.in_stock AS p_in_stock,
       prev.rating AS p_rating, prev.review_count AS p_review_count, prev.bsr AS p_bsr,
       prev.currency AS p_currency, prev.captured_at AS p_captured_at,
       lv.title, lv.bullets, lv.images,
       plv.title AS p_title, plv.bullets AS p_bullets, plv.images AS p_images
FROM snapshots s
JOIN LATERAL (
    SELECT * FROM snapshots p
    WHERE p.product_id = s.product_id AND p.status = 'ok' AND p.captured_at < s.captured_at
    ORDER BY p.captured_at DESC LIMIT 1
) prev ON true
LEFT JOIN LATERAL (
    SELECT title, bullets, images FROM listing_versions v
    WHERE v.product_id = s.product_id AND v.captured_at <= s.captured_at
    ORDER BY v.captured_at DESC, v.id DESC LIMIT 1
) lv ON true
LEFT JOIN LATERAL (
    SELECT title, bullets, images FROM listing_versions v
    WHERE v.product_id = s.product_id AND v.captured_at <= prev.captured_at
    ORDER BY v.captured_at DESC, v.id DESC LIMIT 1
) plv ON true
WHERE s.crawl_run_id = :run AND s.captured_at = :captured AND s.status = 'ok'
"""

_OWN_PRICES_SQL = """
SELECT t.user_id, tag, t.alias, p.asin, s.price
FROM tracked_products t
JOIN products p ON p.id = t.product_id
CROSS JOIN LATERAL unnest(t.tags) AS tag
JOIN LATERAL (
    SELECT price FROM snapshots x
    WHERE x.product_id = t.product_id AND x.status = 'ok'
    ORDER BY x.captured_at DESC LIMIT 1
) s ON true
WHERE t.is_active AND t.role = 'own' AND t.user_id = ANY(:users)
"""


class AlertRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def snapshot_pairs(self, run_id: uuid.UUID, captured_at: datetime) -> list[Any]:
        rows = await self.session.execute(
            text(_PAIRS_SQL), {"run": run_id, "captured": captured_at}
        )
        return list(rows.mappings())

    async def own_prices_by_tag(self, user_ids: Sequence[uuid.UUID]) -> list[Any]:
        rows = await self.session.execute(text(_OWN_PRICES_SQL), {"users": list(user_ids)})
        return list(rows.mappings())

    async def last_fired(
        self, tracking_ids: Sequence[uuid.UUID], since: datetime
    ) -> set[tuple[uuid.UUID, str, str]]:
        """(tracking, rule, fingerprint) that fired since ``since``: still inside re-arm."""
        rows = await self.session.execute(
            select(AlertEvent.tracked_product_id, AlertEvent.rule, AlertEvent.fingerprint).where(
                AlertEvent.tracked_product_id.in_(tracking_ids), AlertEvent.created_at >= since
            )
        )
        return {(r[0], r[1], r[2]) for r in rows}

    async def count_since(
        self, user_ids: Sequence[uuid.UUID], since: datetime
    ) -> dict[uuid.UUID, int]:
        rows = await self.session.execute(
            select(AlertEvent.user_id, func.count())
            .where(AlertEvent.user_id.in_(user_ids), AlertEvent.created_at >= since)
            .group_by(AlertEvent.user_id)
        )
        return {r[0]: int(r[1]) for r in rows}

    async def insert_events(self, rows: list[dict[str, Any]]) -> list[AlertEvent]:
        """Insert, skipping any already recorded for the same crawl; returns the new ones."""
        if not rows:
            return []
        result = await self.session.execute(
            insert(AlertEvent)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=["tracked_product_id", "rule", "crawl_run_id", "fingerprint"]
            )
            .returning(AlertEvent)
        )
        return list(result.scalars())

    async def list_events(
        self,
        user_id: uuid.UUID,
        *,
        unread: bool | None,
        severity: str | None,
        rule: str | None,
        tracked_product_id: uuid.UUID | None,
        limit: int,
        offset: int,
    ) -> tuple[list[AlertEvent], int]:
        conditions: list[Any] = [AlertEvent.user_id == user_id]
        if unread is True:
            conditions.append(AlertEvent.read_at.is_(None))
        elif unread is False:
            conditions.append(AlertEvent.read_at.is_not(None))
        if severity:
            conditions.append(AlertEvent.severity == severity)
        if rule:
            conditions.append(AlertEvent.rule == rule)
        if tracked_product_id:
            conditions.append(AlertEvent.tracked_product_id == tracked_product_id)
        total = await self.session.scalar(
            select(func.count()).select_from(AlertEvent).where(*conditions)
        )
        rows = await self.session.execute(
            select(AlertEvent)
            .where(*conditions)
            .order_by(AlertEvent.created_at.desc(), AlertEvent.id)
            .limit(limit)
            .offset(offset)
        )
        return list(rows.scalars()), int(total or 0)

    async def unread_count(self, user_id: uuid.UUID) -> int:
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(AlertEvent)
                .where(AlertEvent.user_id == user_id, AlertEvent.read_at.is_(None))
            )
            or 0
        )

    async def mark_read(
        self, user_id: uuid.UUID, event_ids: Sequence[uuid.UUID] | None, now: datetime
    ) -> int:
        stmt = update(AlertEvent).where(AlertEvent.user_id == user_id, AlertEvent.read_at.is_(None))
        if event_ids is not None:
            stmt = stmt.where(AlertEvent.id.in_(event_ids))
        result = await self.session.execute(stmt.values(read_at=now))
        return int(getattr(result, "rowcount", 0) or 0)

    async def get_event(self, user_id: uuid.UUID, event_id: uuid.UUID) -> AlertEvent | None:
        result = await self.session.execute(
            select(AlertEvent).where(AlertEvent.id == event_id, AlertEvent.user_id == user_id)
        )
        return result.scalar_one_or_none()

    async def events_by_ids(self, event_ids: Sequence[uuid.UUID]) -> list[AlertEvent]:
        result = await self.session.execute(
            select(AlertEvent).where(AlertEvent.id.in_(event_ids)).order_by(AlertEvent.created_at)
        )
        return list(result.scalars())

    async def recent_for_tracking(self, tracking_id: uuid.UUID, limit: int) -> list[AlertEvent]:
        result = await self.session.execute(
            select(AlertEvent)
            .where(AlertEvent.tracked_product_id == tracking_id)
            .order_by(AlertEvent.created_at.desc())
            .limit(limit)
        )
        return list(result.scalars())

    async def undelivered_digest_events(
        self, user_id: uuid.UUID, channel_id: uuid.UUID, since: datetime, min_rank: int
    ) -> list[AlertEvent]:
        severities = [s for s, r in (("info", 0), ("warning", 1), ("critical", 2)) if r >= min_rank]
        result = await self.session.execute(
            select(AlertEvent)
            .where(
                AlertEvent.user_id == user_id,
                AlertEvent.created_at >= since,
                AlertEvent.severity.in_(severities),
            )
            .order_by(AlertEvent.created_at)
        )
        return list(result.scalars())


class ChannelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_for_user(self, user_id: uuid.UUID) -> list[NotificationChannel]:
        result = await self.session.execute(
            select(NotificationChannel)
            .where(NotificationChannel.user_id == user_id)
            .order_by(NotificationChannel.created_at)
        )
        return list(result.scalars())

    async def active_for_users(self, user_ids: Sequence[uuid.UUID]) -> list[NotificationChannel]:
        result = await self.session.execute(
            select(NotificationChannel).where(
                NotificationChannel.user_id.in_(user_ids), NotificationChannel.is_active.is_(True)
            )
        )
        return list(result.scalars())

    async def active_digest_channels(self) -> list[NotificationChannel]:
        result = await self.session.execute(
            select(NotificationChannel).where(
                NotificationChannel.mode == "digest", NotificationChannel.is_active.is_(True)
            )
        )
        return list(result.scalars())

    async def get_for_user(
        self, user_id: uuid.UUID, channel_id: uuid.UUID
    ) -> NotificationChannel | None:
        result = await self.session.execute(
            select(NotificationChannel).where(
                NotificationChannel.id == channel_id, NotificationChannel.user_id == user_id
            )
        )
        return result.scalar_one_or_none()

    async def get(self, channel_id: uuid.UUID) -> NotificationChannel | None:
        return await self.session.get(NotificationChannel, channel_id)

    async def add(self, channel: NotificationChannel) -> NotificationChannel:
        self.session.add(channel)
        await self.session.flush()
        await self.session.refresh(channel)
        return channel

    async def delete(self, channel: NotificationChannel) -> None:
        await self.session.delete(channel)
        await self.session.flush()


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create_many(self, rows: list[dict[str, Any]]) -> list[Delivery]:
        if not rows:
            return []
        result = await self.session.execute(
            insert(Delivery)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["channel_id", "dedupe_key"])
            .returning(Delivery)
        )
        return list(result.scalars())

    async def get_for_update(self, delivery_id: uuid.UUID) -> Delivery | None:
        result = await self.session.execute(
            select(Delivery).where(Delivery.id == delivery_id).with_for_update()
        )
        return result.scalar_one_or_none()

    async def list_for_user(
        self, user_id: uuid.UUID, channel_id: uuid.UUID | None, limit: int, offset: int
    ) -> tuple[list[Delivery], int]:
        conditions: list[Any] = [Delivery.user_id == user_id]
        if channel_id is not None:
            conditions.append(Delivery.channel_id == channel_id)
        total = await self.session.scalar(
            select(func.count()).select_from(Delivery).where(*conditions)
        )
        result = await self.session.execute(
            select(Delivery)
            .where(*conditions)
            .order_by(Delivery.created_at.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(result.scalars()), int(total or 0)
