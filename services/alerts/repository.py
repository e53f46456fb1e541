"""All SQL of the alerts module."""

from __future__ import annotations

import typing
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, Table, bindparam, cast, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert

from services.alerts.models import AlertEvent, Delivery, NotificationChannel
from services.alerts.schemas import ChannelMode, DeliveryKind, DeliveryStatus
from services.core.repository import Repository

# One transaction-scoped advisory lock per seller, taken in key order so two jobs that share
# several sellers never wait on each other in a cycle. A hash collision only serializes two
# sellers' detection a little more than needed.
_LOCK_SELLERS_SQL = """
SELECT pg_advisory_xact_lock(hashtextextended(k, 0))
FROM (SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS ordered
"""


class AlertRepository(Repository):
    async def lock_sellers(self, user_ids: Sequence[uuid.UUID]) -> None:
        """Hold these sellers' alert quota until the transaction ends: a concurrent detection
        for the same seller waits here, then counts this one's committed events."""
        keys = sorted({f"alerts.daily_cap:{u}" for u in user_ids})
        if keys:
            await self.session.execute(text(_LOCK_SELLERS_SQL), {"keys": keys})

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

    async def days_at_count(self, user_id: uuid.UUID, since: datetime, count: int) -> list[date]:
        """UTC days from ``since``'s day on with at least ``count`` alerts: where the daily
        cap stopped recording."""
        day = cast(func.timezone("UTC", AlertEvent.created_at), Date)
        start = since.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        rows = await self.session.execute(
            select(day)
            .where(AlertEvent.user_id == user_id, AlertEvent.created_at >= start)
            .group_by(day)
            .having(func.count() >= count)
            .order_by(day)
        )
        return [r[0] for r in rows]

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

    async def open_episodes(
        self,
        tracking_ids: Sequence[uuid.UUID],
        rules: Sequence[str],
        since: datetime,
        before: datetime,
        run_id: uuid.UUID,
    ) -> list[AlertEvent]:
        """Alerts of these rules raised by snapshots captured in [since, before) that no later
        snapshot has undone yet, with those this crawl run already ended (a re-run), oldest
        first."""
        if not tracking_ids or not rules:
            return []
        result = await self.session.execute(
            select(AlertEvent)
            .where(
                AlertEvent.tracked_product_id.in_(tracking_ids),
                AlertEvent.rule.in_(rules),
                AlertEvent.snapshot_captured_at >= since,
                AlertEvent.snapshot_captured_at < before,
                or_(AlertEvent.ended_at.is_(None), AlertEvent.ended_crawl_run_id == run_id),
            )
            .order_by(AlertEvent.snapshot_captured_at, AlertEvent.id)
        )
        return list(result.scalars())

    async def end_episodes(self, endings: Sequence[dict[str, Any]]) -> None:
        """Record how each alert ended; one that has ended already keeps its first ending."""
        if not endings:
            return
        # Core table, not the entity: an executemany with a WHERE of its own per row.
        table = typing.cast(Table, AlertEvent.__table__)
        await self.session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.ended_at.is_(None))
            .values(
                ended_at=bindparam("b_at"),
                ended_value=bindparam("b_value"),
                ended_message=bindparam("b_message"),
                ended_crawl_run_id=bindparam("b_run"),
            ),
            [
                {
                    "b_id": e["id"],
                    "b_at": e["ended_at"],
                    "b_value": e["ended_value"],
                    "b_message": e["ended_message"],
                    "b_run": e["ended_crawl_run_id"],
                }
                for e in endings
            ],
        )

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

    async def owned_event_ids(
        self, user_id: uuid.UUID, event_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Which of these alerts belong to the seller, in one statement."""
        rows = await self.session.execute(
            select(AlertEvent.id).where(
                AlertEvent.user_id == user_id, AlertEvent.id.in_(list(event_ids))
            )
        )
        return {r[0] for r in rows}

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


class ChannelRepository(Repository):
    async def list_for_user(
        self, user_id: uuid.UUID, limit: int, offset: int
    ) -> tuple[list[NotificationChannel], int]:
        total = await self.session.scalar(
            select(func.count())
            .select_from(NotificationChannel)
            .where(NotificationChannel.user_id == user_id)
        )
        result = await self.session.execute(
            select(NotificationChannel)
            .where(NotificationChannel.user_id == user_id)
            .order_by(NotificationChannel.created_at, NotificationChannel.id)
            .limit(limit)
            .offset(offset)
        )
        return list(result.scalars()), int(total or 0)

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
                NotificationChannel.mode.in_([m for m in ChannelMode if m.sends_digest]),
                NotificationChannel.is_active.is_(True),
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


class DeliveryRepository(Repository):
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

    async def last_sent_digest_at(self, channel_id: uuid.UUID, before: datetime) -> datetime | None:
        """When the channel's latest digest that reached it was planned, before ``before``:
        where the next digest's "since your last digest" starts."""
        return await self.session.scalar(
            select(func.max(Delivery.created_at)).where(
                Delivery.channel_id == channel_id,
                Delivery.kind == DeliveryKind.DIGEST,
                Delivery.status == DeliveryStatus.SENT,
                Delivery.created_at < before,
            )
        )

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
