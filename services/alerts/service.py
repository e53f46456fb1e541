"""The seller's alerts and notification channels."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

import apprise
from email_validator import EmailNotValidError, validate_email

from services.alerts.detection import DELIVER_TASK, deliver_job_id
from services.alerts.models import NotificationChannel
from services.alerts.outbound import check_host, check_url
from services.alerts.repository import AlertRepository, ChannelRepository, DeliveryRepository
from services.alerts.schemas import (
    AlertRead,
    ChannelCreate,
    ChannelCreated,
    ChannelRead,
    ChannelUpdate,
    DeliveryRead,
)
from services.alerts.senders import apprise_host
from services.core.errors import FieldError, InvalidInput, NotFound
from services.core.jobs import Queue
from services.core.pagination import Page
from services.core.settings import AlertSettings
from services.core.uow import UnitOfWork

# Generic Apprise URLs reach arbitrary hosts: those go through the "webhook" kind, which is
# signed and SSRF-checked, instead.
_GENERIC_APPRISE = ("json://", "jsons://", "xml://", "xmls://", "form://", "forms://")


class AlertService:
    """In-app alerts and channels of one seller; everything is scoped by user id."""

    def __init__(self, uow: UnitOfWork, settings: AlertSettings) -> None:
        self.uow = uow
        self.settings = settings
        self.alerts = AlertRepository(uow.session)
        self.channels = ChannelRepository(uow.session)
        self.deliveries = DeliveryRepository(uow.session)

    async def list_alerts(
        self,
        user_id: uuid.UUID,
        *,
        unread: bool | None = None,
        severity: str | None = None,
        rule: str | None = None,
        tracked_product_id: uuid.UUID | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[AlertRead]:
        items, total = await self.alerts.list_events(
            user_id,
            unread=unread,
            severity=severity,
            rule=rule,
            tracked_product_id=tracked_product_id,
            limit=limit,
            offset=offset,
        )
        return Page[AlertRead](
            items=[AlertRead.model_validate(e) for e in items],
            total=total,
            limit=limit,
            offset=offset,
        )

    async def unread_count(self, user_id: uuid.UUID) -> int:
        return await self.alerts.unread_count(user_id)

    async def mark_read(self, user_id: uuid.UUID, ids: list[uuid.UUID] | None) -> int:
        """Mark the given alerts (or all) read; ids of other sellers are simply not found."""
        if ids is not None:
            for event_id in ids:
                if await self.alerts.get_event(user_id, event_id) is None:
                    raise NotFound(f"No alert {event_id}")
        return await self.alerts.mark_read(user_id, ids, datetime.now(UTC))

    async def _validate_target(self, kind: str, target: str) -> str:
        if kind in ("webhook", "slack"):
            await check_url(target, self.settings.allow_private_targets)
            return target
        if kind == "email":
            try:
                return validate_email(target, check_deliverability=False).normalized
            except EmailNotValidError as exc:
                raise InvalidInput(
                    "Not an email address", field_errors=[FieldError("target", str(exc))]
                ) from exc
        if (
            target.lower().startswith(_GENERIC_APPRISE)
            or apprise.Apprise.instantiate(target) is None
        ):
            raise InvalidInput(
                "Not a supported Apprise URL",
                field_errors=[FieldError("target", "use e.g. discord://, tgram://, msteams://")],
            )
        await check_host(apprise_host(target), self.settings.allow_private_targets)
        return target

    async def create_channel(self, user_id: uuid.UUID, data: ChannelCreate) -> ChannelCreated:
        target = await self._validate_target(data.kind, data.target)
        channel = await self.channels.add(
            NotificationChannel(
                user_id=user_id,
                name=data.name,
                kind=data.kind,
                target=target,
                signing_secret=secrets.token_urlsafe(32) if data.kind == "webhook" else None,
                min_severity=data.min_severity.value,
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

    async def list_channels(self, user_id: uuid.UUID) -> list[ChannelRead]:
        return [ChannelRead.model_validate(c) for c in await self.channels.list_for_user(user_id)]

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
            channel.min_severity = data.min_severity.value
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
                    "kind": "test",
                    "dedupe_key": f"test:{uuid.uuid4()}",
                    "event_ids": [],
                }
            ]
        )
        self.uow.jobs.enqueue(
            DELIVER_TASK,
            queue=Queue.CRITICAL,
            job_id=deliver_job_id(delivery.id),
            delivery_id=str(delivery.id),
        )
        return DeliveryRead.model_validate(delivery)

    async def list_deliveries(
        self, user_id: uuid.UUID, channel_id: uuid.UUID | None, limit: int, offset: int
    ) -> Page[DeliveryRead]:
        if channel_id is not None:
            await self._own_channel(user_id, channel_id)
        items, total = await self.deliveries.list_for_user(user_id, channel_id, limit, offset)
        return Page[DeliveryRead](
            items=[DeliveryRead.model_validate(d) for d in items],
            total=total,
            limit=limit,
            offset=offset,
        )
