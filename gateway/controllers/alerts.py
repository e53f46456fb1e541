"""Alerts routes: in-app alerts, notification channels, deliveries."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from gateway.dependencies import CurrentUser, read_cache, resources
from gateway.pagination import Limit, Offset
from services.alerts.schemas import (
    AlertFilter,
    AlertRead,
    ChannelCreate,
    ChannelCreated,
    ChannelFilter,
    ChannelRead,
    ChannelUpdate,
    DeliveryFilter,
    DeliveryRead,
    MarkRead,
)
from services.alerts.service import AlertService
from services.core.pagination import Page
from services.core.thresholds import Rule, Severity
from services.core.uow import UnitOfWork


async def provide_alert_service(state: State, uow: NamedDependency[UnitOfWork]) -> AlertService:
    return AlertService(uow, resources(state).settings.alerts, read_cache(state))


async def provide_alert_filter(
    limit: Limit = 50,
    offset: Offset = 0,
    unread: FromQuery[bool | None] = None,
    severity: FromQuery[Severity | None] = None,
    rule: FromQuery[Rule | None] = None,
    tracked_product_id: FromQuery[uuid.UUID | None] = None,
) -> AlertFilter:
    """The alert list's query string as its one filter model."""
    return AlertFilter(
        limit=limit,
        offset=offset,
        unread=unread,
        severity=severity,
        rule=rule,
        tracked_product_id=tracked_product_id,
    )


async def provide_channel_filter(limit: Limit = 50, offset: Offset = 0) -> ChannelFilter:
    """The channel list's paging."""
    return ChannelFilter(limit=limit, offset=offset)


async def provide_delivery_filter(
    limit: Limit = 50, offset: Offset = 0, channel_id: FromQuery[uuid.UUID | None] = None
) -> DeliveryFilter:
    """The delivery list's query string as its one filter model."""
    return DeliveryFilter(limit=limit, offset=offset, channel_id=channel_id)


class AlertController(Controller):
    path = "/api/v1/alerts"
    tags = ["alerts"]
    dependencies = {"alert_service": Provide(provide_alert_service)}

    @get("/", dependencies={"filters": Provide(provide_alert_filter)})
    async def list_alerts(
        self,
        current_user: NamedDependency[CurrentUser],
        alert_service: NamedDependency[AlertService],
        filters: NamedDependency[AlertFilter],
    ) -> Page[AlertRead]:
        """The seller's alerts, newest first, filtered by read state, severity, rule, product."""
        items, total = await alert_service.list_alerts(current_user.user.id, filters)
        return filters.page(items, total)

    @get("/unread-count")
    async def unread_count(
        self,
        current_user: NamedDependency[CurrentUser],
        alert_service: NamedDependency[AlertService],
    ) -> dict[str, int]:
        """How many alerts are unread."""
        return {"unread": await alert_service.unread_count(current_user.user.id)}

    @post("/read", status_code=200)
    async def mark_read(
        self,
        data: JSONBody[MarkRead],
        current_user: NamedDependency[CurrentUser],
        alert_service: NamedDependency[AlertService],
    ) -> dict[str, int]:
        """Mark the given alerts read, or all of them without ids."""
        return {"marked": await alert_service.mark_read(current_user.user.id, data.ids)}


class ChannelController(Controller):
    path = "/api/v1/channels"
    tags = ["notifications"]
    dependencies = {"alert_service": Provide(provide_alert_service)}

    @get("/", dependencies={"filters": Provide(provide_channel_filter)})
    async def list_channels(
        self,
        current_user: NamedDependency[CurrentUser],
        alert_service: NamedDependency[AlertService],
        filters: NamedDependency[ChannelFilter],
    ) -> Page[ChannelRead]:
        """The seller's notification channels, oldest first."""
        items, total = await alert_service.list_channels(current_user.user.id, filters)
        return filters.page(items, total)

    @post("/", status_code=201)
    async def create_channel(
        self,
        data: JSONBody[ChannelCreate],
        current_user: NamedDependency[CurrentUser],
        alert_service: NamedDependency[AlertService],
    ) -> ChannelCreated:
        """Add a webhook, Slack, email or Apprise channel (a webhook's secret is shown once)."""
        return await alert_service.create_channel(current_user.user.id, data)

    @get("/{channel_id:uuid}")
    async def get_channel(
        self,
        channel_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        alert_service: NamedDependency[AlertService],
    ) -> ChannelRead:
        """One channel."""
        return await alert_service.get_channel(current_user.user.id, channel_id)

    @patch("/{channel_id:uuid}")
    async def update_channel(
        self,
        channel_id: FromPath[uuid.UUID],
        data: JSONBody[ChannelUpdate],
        current_user: NamedDependency[CurrentUser],
        alert_service: NamedDependency[AlertService],
    ) -> ChannelRead:
        """Change a channel's name, target, severity filter, mode or state."""
        return await alert_service.update_channel(current_user.user.id, channel_id, data)

    @delete("/{channel_id:uuid}", status_code=204)
    async def delete_channel(
        self,
        channel_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        alert_service: NamedDependency[AlertService],
    ) -> None:
        """Remove a channel and its delivery records."""
        await alert_service.delete_channel(current_user.user.id, channel_id)

    @post("/{channel_id:uuid}/test", status_code=202)
    async def test_channel(
        self,
        channel_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        alert_service: NamedDependency[AlertService],
    ) -> DeliveryRead:
        """Queue a test notification; poll the deliveries for its outcome."""
        return await alert_service.send_test(current_user.user.id, channel_id)

    @get("/deliveries", dependencies={"filters": Provide(provide_delivery_filter)})
    async def deliveries(
        self,
        current_user: NamedDependency[CurrentUser],
        alert_service: NamedDependency[AlertService],
        filters: NamedDependency[DeliveryFilter],
    ) -> Page[DeliveryRead]:
        """Delivery records with their outcome, newest first."""
        items, total = await alert_service.list_deliveries(current_user.user.id, filters)
        return filters.page(items, total)
