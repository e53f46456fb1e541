"""Settings: notification channels (test send, digest mode), account and plan."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from pydantic import ValidationError

from gateway.web.kit import (
    AnyRequest,
    PageUser,
    domain_errors,
    flash,
    read_form,
    redirect,
    validation_errors,
)
from gateway.web.pages.common import SERVICES, seller_page
from services.alerts.schemas import ChannelCreate, ChannelFilter, ChannelUpdate, DeliveryFilter
from services.alerts.service import AlertService
from services.core.errors import InvalidInput
from services.core.pagination import MAX_PAGE_SIZE
from services.product.schemas import TrackedProductFilter
from services.product.service import ProductService

KIND_OPTIONS = [
    ("webhook", "Webhook (signed JSON POST)"),
    ("slack", "Slack incoming webhook"),
    ("email", "Email"),
    ("apprise", "Other (Apprise URL: Discord, Telegram, Teams…)"),
]
SEVERITY_OPTIONS = [
    ("info", "Everything"),
    ("warning", "Warnings and critical"),
    ("critical", "Critical only"),
]
MODE_OPTIONS = [
    ("critical_now", "Critical now + digest"),
    ("immediate", "Each alert as it happens"),
    ("digest", "One daily digest"),
]


class SettingsPages(Controller):
    path = "/settings"
    include_in_schema = False
    dependencies = SERVICES

    async def _page(
        self,
        request: AnyRequest,
        page_user: PageUser,
        alert_service: AlertService,
        product_service: ProductService,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> Template:
        user = page_user.user
        _, tracked = await product_service.list_tracked(
            user, TrackedProductFilter(active=True, limit=1)
        )
        deliveries, _ = await alert_service.list_deliveries(user.id, DeliveryFilter(limit=10))
        # The page shows every channel a seller can sensibly have: one full page of them.
        channels, _ = await alert_service.list_channels(user.id, ChannelFilter(limit=MAX_PAGE_SIZE))
        context.setdefault(
            "values", {"kind": "webhook", "min_severity": "warning", "mode": "critical_now"}
        )
        context.setdefault("errors", {})
        out: Template = await seller_page(
            request,
            "settings/index.html",
            page_user,
            alert_service,
            status_code=status_code,
            title="Settings",
            channels=channels,
            deliveries=deliveries,
            tracked=tracked,
            plan=user.plan,
            kinds=KIND_OPTIONS,
            severities=SEVERITY_OPTIONS,
            modes=MODE_OPTIONS,
            **context,
        )
        return out

    @get("/")
    async def index(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        alert_service: NamedDependency[AlertService],
        product_service: NamedDependency[ProductService],
    ) -> Template:
        """Channels, account and plan."""
        return await self._page(request, page_user, alert_service, product_service)

    @post("/channels")
    async def add_channel(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        alert_service: NamedDependency[AlertService],
        product_service: NamedDependency[ProductService],
    ) -> Template:
        """Add a channel; a webhook's signing secret is shown this once."""
        form = await read_form(request, ChannelCreate)
        errors = form.errors
        if form.data is not None:
            try:
                created = await alert_service.create_channel(page_user.id, form.data)
            except InvalidInput as exc:
                errors = domain_errors(exc)
            else:
                flash(
                    request, f"Channel “{created.name}” added. Send a test to check it.", "success"
                )
                return await self._page(
                    request, page_user, alert_service, product_service, created=created
                )
        return await self._page(
            request,
            page_user,
            alert_service,
            product_service,
            status_code=422,
            values=form.values,
            errors=errors,
        )

    @post("/channels/{channel_id:uuid}/test")
    async def test_channel(
        self,
        request: AnyRequest,
        channel_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        alert_service: NamedDependency[AlertService],
    ) -> Redirect:
        """Queue a test notification; its outcome shows under recent deliveries."""
        await alert_service.send_test(page_user.id, channel_id)
        flash(
            request,
            "Test notification queued — its result appears under Recent deliveries.",
            "success",
        )
        return redirect("/settings#deliveries")

    @post("/channels/{channel_id:uuid}")
    async def update_channel(
        self,
        request: AnyRequest,
        channel_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        alert_service: NamedDependency[AlertService],
    ) -> Redirect:
        """Switch a channel between immediate and digest, its severity, or on/off."""
        form = await request.form()
        raw = {k: v for k, v in form.items() if k in ("mode", "min_severity", "is_active")}
        try:
            update = ChannelUpdate.model_validate(raw)
        except ValidationError as exc:
            flash(request, "; ".join(validation_errors(exc).values()), "error")
            return redirect("/settings")
        channel = await alert_service.update_channel(page_user.id, channel_id, update)
        flash(request, f"Channel “{channel.name}” updated.", "success")
        return redirect("/settings")

    @post("/channels/{channel_id:uuid}/delete")
    async def delete_channel(
        self,
        request: AnyRequest,
        channel_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        alert_service: NamedDependency[AlertService],
    ) -> Redirect:
        """Remove a channel."""
        await alert_service.delete_channel(page_user.id, channel_id)
        flash(request, "Channel removed.", "info")
        return redirect("/settings")
