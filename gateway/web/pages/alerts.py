"""The alerts inbox."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect, Template

from gateway.web.kit import AnyRequest, PageUser, flash, redirect, safe_next
from gateway.web.pages.common import SERVICES, product_labels, seller_page
from gateway.web.pages.products import RULE_LABELS
from services.alerts.schemas import AlertFilter
from services.alerts.service import AlertService
from services.alerts.thresholds import Rule, Severity
from services.core.errors import NotFound
from services.product.service import ProductService

PAGE_SIZE = 30


class AlertPages(Controller):
    path = "/alerts"
    include_in_schema = False
    dependencies = SERVICES

    @get("/")
    async def inbox(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        alert_service: NamedDependency[AlertService],
        product_service: NamedDependency[ProductService],
        show: FromQuery[Literal["unread", "all"]] = "unread",
        severity_: Annotated[str, QueryParameter(name="severity", max_length=20)] = "",
        rule_: Annotated[str, QueryParameter(name="rule", max_length=40)] = "",
        product_: Annotated[str, QueryParameter(name="product", max_length=40)] = "",
        page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    ) -> Template:
        """Alerts newest first, filtered by read state, severity, rule and product."""
        # A filter form sends "" for "any"; unknown values are treated the same way.
        severity = Severity(severity_) if severity_ in set(Severity) else None
        rule = Rule(rule_) if rule_ in set(Rule) else None
        try:
            product = uuid.UUID(product_) if product_ else None
        except ValueError:
            product = None
        alerts, total = await alert_service.list_alerts(
            page_user.id,
            AlertFilter(
                unread=True if show == "unread" else None,
                severity=severity,
                rule=rule,
                tracked_product_id=product,
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
            ),
        )
        filters = {
            "show": show,
            "severity": severity.value if severity else "",
            "rule": rule.value if rule else "",
            "product": str(product) if product else "",
        }
        query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
        products = await product_labels(product_service, page_user.user)
        return await seller_page(
            request,
            "alerts/inbox.html",
            page_user,
            alert_service,
            title="Alerts",
            alerts=alerts,
            total=total,
            filters=filters,
            page=page,
            pages=max(1, -(-total // PAGE_SIZE)),
            query=query,
            products=products,
            focus=products.get(product) if product else None,
            rule_labels=RULE_LABELS,
            severities=[s.value for s in Severity],
        )

    @post("/read")
    async def mark_read(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        alert_service: NamedDependency[AlertService],
    ) -> Redirect:
        """Mark the ticked alerts read, or all of them."""
        form = await request.form()
        back = form.get("back")
        target = safe_next(back if isinstance(back, str) else None, "/alerts")
        if form.get("all") == "1":
            marked = await alert_service.mark_read(page_user.id, None)
        else:
            try:
                ids = [uuid.UUID(str(v)) for v in form.getall("ids")] if "ids" in form else []
            except ValueError:
                ids = []
            if not ids:
                flash(request, "Tick the alerts to mark as read first.", "warning")
                return redirect(target)
            try:
                marked = await alert_service.mark_read(page_user.id, ids[:500])
            except NotFound:
                flash(request, "Some of those alerts no longer exist.", "warning")
                return redirect(target)
        flash(request, f"{marked} alert{'s' if marked != 1 else ''} marked as read.", "success")
        return redirect(target)
