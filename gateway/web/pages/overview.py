"""The overview: the seller's morning brief."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.response import Template

from gateway.dependencies import resources
from gateway.web.kit import AnyRequest, PageUser
from gateway.web.pages.common import SERVICES, seller_page
from services.alerts.brief import BriefService
from services.alerts.service import AlertService
from services.product.service import ProductService

LAST_VISIT_KEY = "last_overview_at"


class OverviewPages(Controller):
    include_in_schema = False
    dependencies = SERVICES

    @get("/")
    async def overview(
        self,
        request: AnyRequest,
        state: State,
        page_user: NamedDependency[PageUser],
        alert_service: NamedDependency[AlertService],
        product_service: NamedDependency[ProductService],
    ) -> Template:
        """The morning brief: what changed since the last visit and what to do about it."""
        since = None
        raw = request.session.get(LAST_VISIT_KEY)
        if isinstance(raw, str):
            try:
                since = datetime.fromisoformat(raw)
            except ValueError:
                since = None
        now = datetime.now(UTC)
        settings = resources(state).settings
        brief = await BriefService(alert_service, product_service, settings.crawl).build(
            page_user.user, since=since, now=now
        )
        request.session[LAST_VISIT_KEY] = now.isoformat()
        hour = now.hour
        greeting = (
            "Good morning" if hour < 12 else ("Good afternoon" if hour < 18 else "Good evening")
        )
        return await seller_page(
            request,
            "overview.html",
            page_user,
            alert_service,
            title="Overview",
            brief=brief,
            greeting=greeting,
        )
