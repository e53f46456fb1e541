"""The seller's alerts and notification channels."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import apprise
from email_validator import EmailNotValidError, validate_email

from services.alerts.jobs import AlertJob, deliver_job_id
from services.alerts.models import NotificationChannel
from services.alerts.outbound import check_url, policy
from services.alerts.repository import AlertRepository, ChannelRepository, DeliveryRepository
from services.alerts.schemas import (
    AlertFilter,
    AlertRead,
    ChannelCreate,
    ChannelCreated,
    ChannelFilter,
    ChannelKind,
    ChannelRead,
    ChannelUpdate,
    DeliveryFilter,
    DeliveryKind,
    DeliveryRead,
)
from services.core.errors import FieldError, InvalidInput, NotFound
from services.core.jobs import Queue
from services.core.read_cache import ReadCache
from services.core.settings import AlertSettings
from services.core.uow import OnSession, UnitOfWork


def alerts_version_key(user_id: object) -> str:
    """The version of one seller's alerts as other views show them (the product detail's
    recent alerts): a new token whenever an alert of theirs is stored or read."""
    return f"cache:alerts-version:{user_id}"


def alerts_changed(uow: UnitOfWork, cache: ReadCache, user_ids: Iterable[uuid.UUID]) -> None:
    """New version tokens for these sellers' alerts, once the transaction has committed (a
    view read before the commit must not be stored under the new token)."""
    keys = sorted({alerts_version_key(u) for u in user_ids})

    async def bump() -> None:
        await cache.bump(*keys)

    if keys:
        uow.after_commit.append(bump)


class AlertService:
    """In-app alerts and channels of one seller; everything is scoped by user id."""

    def __init__(
        self, uow: UnitOfWork, settings: AlertSettings, cache: ReadCache | None = None
    ) -> None:
        self.uow = uow
        self.settings = settings
        self.cache = cache or ReadCache(None, 0)

    # Made on first use, and with them the unit of work's session (see OnSession).
    alerts = OnSession(AlertRepository)
    channels = OnSession(ChannelRepository)
    deliveries = OnSession(DeliveryRepository)

    async def list_alerts(
        self, user_id: uuid.UUID, filters: AlertFilter
    ) -> tuple[list[AlertRead], int]:
        """One page of the seller's alerts and their total: ``(items, total)``."""
        items, total = await self.alerts.list_events(
            user_id,
            unread=filters.unread,
            severity=filters.severity,
            rule=filters.rule,
            tracked_product_id=filters.tracked_product_id,
            limit=filters.limit,
            offset=filters.offset,
        )
        return [AlertRead.model_validate(e) for e in items], total

    async def recent_for_tracking(self, tracking_id: uuid.UUID, limit: int) -> list[dict[str, Any]]:
        """The latest alerts of one tracking, as the product detail shows them."""
        return [
            {
                "id": str(a.id),
                "rule": a.rule,
                "severity": a.severity,
                "message": a.message,
                "created_at": a.created_at.isoformat(),
                "read": a.read_at is not None,
                "ended_message": a.ended_message,
            }
            for a in await self.alerts.recent_for_tracking(tracking_id, limit)
        ]

    def version_key(self, user_id: uuid.UUID) -> str:
        """The key whose token changes with this seller's alerts (for views that show them)."""
        return alerts_version_key(user_id)

    async def unread_count(self, user_id: uuid.UUID) -> int:
        return await self.alerts.unread_count(user_id)

    async def mark_read(self, user_id: uuid.UUID, ids: list[uuid.UUID] | None) -> int:
        """Mark the given alerts (or all) read; ids of other sellers are simply not found."""
        if ids is not None:
            owned = await self.alerts.owned_event_ids(user_id, ids)
            for event_id in ids:
                if event_id not in owned:
                    raise NotFound(f"No alert {event_id}")
        marked = await self.alerts.mark_read(user_id, ids, datetime.now(UTC))
        if marked:
            alerts_changed(self.uow, self.cache, [user_id])
        return marked

    async def _validate_target(self, kind: ChannelKind, target: str) -> str:
        if kind in (ChannelKind.WEBHOOK, ChannelKind.SLACK):
            await check_url(target, self.settings.allow_private_targets)
            return target
        if kind is ChannelKind.EMAIL:
            try:
                return validate_email(target, check_deliverability=False).normalized
            except EmailNotValidError as exc:
                raise InvalidInput(
                    "Not an email address", field_errors=[FieldError("target", str(exc))]
                ) from exc
        policy(self.settings.allow_private_targets).check_apprise(target)
        if apprise.Apprise.instantiate(target) is None:
            raise InvalidInput(
                "Not a supported Apprise URL",
                field_errors=[FieldError("target", "use e.g. discord://, tgram://, slack://")],
            )
        return target

    async def create_channel(self, user_id: uuid.UUID, data: ChannelCreate) -> ChannelCreated:
        target = await self._validate_target(data.kind, data.target)
        channel = await self.channels.add(
            NotificationChannel(
                user_id=user_id,
                name=data.name,
                kind=data.kind,
                target=target,
                signing_secret=(
                    secrets.token_urlsafe(32) if data.kind is ChannelKind.WEBHOOK else None
                ),
                min_severity=data.min_severity,
                mode=data.mode,
            )
        )
        created = ChannelCreated.model_validate(channel)
        created.signing_secret = channel.signing_secret
        return created

    async def _own_channel(self, user_id: uuid.UUID, channel_id: uuid.UUID) -> NotificationChannel:
        channel = await self.channels.get_for_user(user_id, channel_id)
        if channel is None:
            raise NotFound("No such notification channel")
        return channel

    async def list_channels(
        self, user_id: uuid.UUID, filters: ChannelFilter
    ) -> tuple[list[ChannelRead], int]:
        """One page of the seller's channels and their total: ``(items, total)``."""
        channels, total = await self.channels.list_for_user(user_id, filters.limit, filters.offset)
        return [ChannelRead.model_validate(c) for c in channels], total

    async def get_channel(self, user_id: uuid.UUID, channel_id: uuid.UUID) -> ChannelRead:
        return ChannelRead.model_validate(await self._own_channel(user_id, channel_id))

    async def update_channel(
        self, user_id: uuid.UUID, channel_id: uuid.UUID, data: ChannelUpdate
    ) -> ChannelRead:
        channel = await self._own_channel(user_id, channel_id)
        if data.target is not None:
            channel.target = await self._validate_target(channel.kind, data.target)
        if data.name is not None:
            channel.name = data.name
        if data.min_severity is not None:
            channel.min_severity = data.min_severity
        if data.mode is not None:
            channel.mode = data.mode
        if data.is_active is not None:
            channel.is_active = data.is_active
        await self.uow.session.flush()
        await self.uow.session.refresh(channel)
        return ChannelRead.model_validate(channel)

    async def delete_channel(self, user_id: uuid.UUID, channel_id: uuid.UUID) -> None:
        await self.channels.delete(await self._own_channel(user_id, channel_id))

    async def send_test(self, user_id: uuid.UUID, channel_id: uuid.UUID) -> DeliveryRead:
        """Queue a test notification on the critical queue; its outcome is a delivery record."""
        channel = await self._own_channel(user_id, channel_id)
        (delivery,) = await self.deliveries.create_many(
            [
                {
                    "id": uuid.uuid4(),
                    "user_id": user_id,
                    "channel_id": channel.id,
                    "kind": DeliveryKind.TEST,
                    "dedupe_key": f"test:{uuid.uuid4()}",
                    "event_ids": [],
                }
            ]
        )
        self.uow.jobs.enqueue(
            AlertJob.DELIVER,
            queue=Queue.CRITICAL,
            job_id=deliver_job_id(delivery.id),
            delivery_id=str(delivery.id),
        )
        return DeliveryRead.model_validate(delivery)

    async def list_deliveries(
        self, user_id: uuid.UUID, filters: DeliveryFilter
    ) -> tuple[list[DeliveryRead], int]:
        """One page of the seller's delivery records and their total: ``(items, total)``."""
        if filters.channel_id is not None:
            await self._own_channel(user_id, filters.channel_id)
        items, total = await self.deliveries.list_for_user(
            user_id, filters.channel_id, filters.limit, filters.offset
        )
        return [DeliveryRead.model_validate(d) for d in items], total

    async def days_at_daily_cap(self, user_id: uuid.UUID, since: datetime) -> list[date]:
        """UTC days since ``since`` on which the seller's daily alert cap was reached."""
        return await self.alerts.days_at_count(user_id, since, self.settings.daily_cap_per_seller)
