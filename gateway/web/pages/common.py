"""Dependencies the seller pages share with the JSON controllers (the same services), and the
chrome every seller page shows (unread alerts in the nav)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from litestar.di import Provide
from litestar.response import Template

from gateway.controllers.alerts import provide_alert_service
from gateway.controllers.product import provide_product_service
from gateway.web.kit import AnyRequest, PageUser, page
from services.alerts.service import AlertService
from services.core.pagination import MAX_PAGE_SIZE
from services.product.schemas import TrackedProductFilter

SERVICES = {
    "product_service": Provide(provide_product_service),
    "alert_service": Provide(provide_alert_service),
}


async def seller_page(
    request: AnyRequest,
    template: str,
    user: PageUser,
    alert_service: AlertService,
    *,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """``page(...)`` plus the unread-alert count shown next to "Alerts" in the nav."""
    unread = await alert_service.unread_count(user.id)
    return page(request, template, user, status_code=status_code, unread_alerts=unread, **context)


def sparkline(points: Sequence[Decimal], width: int = 120, height: int = 32) -> str | None:
    """SVG polyline points of a series, scaled into the box (None under two points)."""
    values = [float(p) for p in points]
    if len(values) < 2:
        return None
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / (len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
        for i, v in enumerate(values)
    )


async def product_labels(product_service: Any, user: Any) -> dict[Any, Any]:
    """Tracking id -> list row (name, ASIN, marketplace) for every product of the seller."""
    rows: dict[Any, Any] = {}
    offset = 0
    while True:
        page_rows, total = await product_service.list_tracked(
            user, TrackedProductFilter(limit=MAX_PAGE_SIZE, offset=offset)
        )
        rows.update({r.id: r for r in page_rows})
        offset += len(page_rows)
        if not page_rows or offset >= total:
            return rows
