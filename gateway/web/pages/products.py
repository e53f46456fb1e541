"""Products: the tracked list, adding one or many, refresh, stop/resume, the product page."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field, ValidationError

from gateway.controllers.product import provide_bulk_track_service
from gateway.dependencies import resources
from gateway.web.kit import (
    AnyRequest,
    PageUser,
    domain_errors,
    flash,
    read_form,
    redirect,
    safe_next,
    validation_errors,
)
from gateway.web.pages.common import SERVICES, seller_page, sparkline
from services.alerts.schemas import AlertFilter
from services.alerts.service import AlertService
from services.alerts.thresholds import Rule, Thresholds
from services.core.errors import Conflict, InvalidInput, QuotaExceeded, Throttled
from services.core.pagination import SortOrder
from services.product.bulk import BulkTrackService
from services.product.marketplaces import MARKETPLACES, Marketplace
from services.product.models import Frequency, TrackingRole
from services.product.refresh import RefreshService
from services.product.schemas import (
    BulkTrackResult,
    ListingVersionFilter,
    TrackedProductCreate,
    TrackedProductFilter,
    TrackedProductUpdate,
    TrackedSort,
)
from services.product.service import ProductService
from services.product.uploads import MAX_BULK, MAX_BULK_BYTES, csv_items

PAGE_SIZE = 25
RANGES = ("7d", "30d", "90d", "1y")
CHART_METRICS = ("price", "buybox_price", "bsr", "rating", "review_count")
MARKETPLACE_OPTIONS = [(m.value, f"{m.value} · {MARKETPLACES[m].domain}") for m in Marketplace]
ROLE_OPTIONS = [("own", "My product"), ("competitor", "Competitor")]
FREQUENCY_OPTIONS = [("hourly", "Hourly"), ("daily", "Daily"), ("weekly", "Weekly")]
SORT_COLUMNS = {
    "alias": "Product",
    "price": "Price",
    "price_change_7d": "7-day change",
    "rating": "Rating",
    "reviews": "Reviews",
    "as_of": "Updated",
}
RULE_LABELS = {
    Rule.PRICE_CHANGE: "Price change",
    Rule.BUYBOX_PRICE_CHANGE: "Buy Box price change",
    Rule.BUYBOX_LOST: "Buy Box lost",
    Rule.BUYBOX_WON: "Buy Box won",
    Rule.BUYBOX_SELLER_CHANGED: "Buy Box seller changed",
    Rule.BSR_CHANGE: "Best-seller rank change",
    Rule.RATING_DROP: "Rating drop",
    Rule.REVIEWS_REMOVED: "Reviews removed",
    Rule.OUT_OF_STOCK: "Out of stock",
    Rule.BACK_IN_STOCK: "Back in stock",
    Rule.LISTING_CHANGED: "Listing changed",
    Rule.COMPETITOR_UNDERCUT: "Competitor undercut",
}


def _split_tags(raw: str | None) -> list[str]:
    return [t.strip() for t in (raw or "").replace(";", ",").split(",") if t.strip()]


class AddForm(BaseModel):
    product: str = Field(min_length=1, max_length=2000)
    marketplace: str = ""
    alias: str = Field(default="", max_length=200)
    tags: str = Field(default="", max_length=1000)
    role: TrackingRole = TrackingRole.OWN


class BulkForm(BaseModel):
    lines: str = Field(default="", max_length=MAX_BULK_BYTES)
    marketplace: Marketplace = Marketplace.US
    role: TrackingRole = TrackingRole.OWN
    tags: str = Field(default="", max_length=1000)


class SettingsForm(BaseModel):
    alias: str = Field(default="", max_length=200)
    tags: str = Field(default="", max_length=1000)
    role: TrackingRole = TrackingRole.OWN
    frequency: Frequency = Frequency.DAILY
    price_change_pct: str = ""
    min_price_delta: str = ""
    undercut_pct: str = ""
    bsr_change_pct: str = ""
    min_bsr_delta: str = ""
    rating_drop: str = ""
    min_reviews_removed: str = ""
    my_seller_name: str = Field(default="", max_length=200)
    rules: list[str] = Field(default_factory=list)


def _is_bare_asin(text: str) -> bool:
    return len(text) == 10 and text.isalnum()


def bulk_items(form: BulkForm, csv_text: str | None) -> list[dict[str, Any]]:
    """One item per pasted line (ASIN or URL), or the rows of an uploaded CSV."""
    if csv_text is not None:
        try:
            items = csv_items(csv_text)
        except csv.Error as exc:
            raise InvalidInput(f"The CSV could not be read: {exc}", field_errors=[]) from exc
    else:
        tags = _split_tags(form.tags)
        items = []
        for line in form.lines.splitlines():
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            item: dict[str, Any] = {"product": text, "role": form.role.value, "tags": tags}
            if _is_bare_asin(text.upper()):
                item["product"] = text.upper()
                item["marketplace"] = form.marketplace.value
            items.append(item)
    if not items:
        raise InvalidInput("Paste at least one ASIN or product URL, or upload a CSV")
    if len(items) > MAX_BULK:
        raise InvalidInput(f"At most {MAX_BULK} products at once ({len(items)} given)")
    return items


class ProductPages(Controller):
    path = "/products"
    include_in_schema = False
    dependencies = {**SERVICES, "bulk_track_service": Provide(provide_bulk_track_service)}

    @get("/")
    async def list_products(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
        alert_service: NamedDependency[AlertService],
        q: Annotated[str | None, QueryParameter(max_length=100)] = None,
        tag: Annotated[str | None, QueryParameter(max_length=50)] = None,
        role_: Annotated[str, QueryParameter(name="role", max_length=20)] = "",
        status: FromQuery[Literal["active", "stopped", "all"]] = "active",
        sort: FromQuery[TrackedSort] = TrackedSort.CREATED_AT,
        order: FromQuery[Literal["asc", "desc"]] = "desc",
        page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
    ) -> Template:
        """The tracked products with search, filters, sorting and a 30-day sparkline."""
        user = page_user.user
        # The filter form sends "" for "all roles".
        role = TrackingRole(role_) if role_ in set(TrackingRole) else None
        rows, total = await product_service.list_tracked(
            user,
            TrackedProductFilter(
                tag=tag or None,
                role=role,
                active={"active": True, "stopped": False, "all": None}[status],
                q=q or None,
                sort=sort,
                order=SortOrder(order),
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
            ),
        )
        prices = await product_service.price_series(user, [row.id for row in rows], days=30)
        sparks = {row.id: sparkline(prices.get(row.id, [])) for row in rows}
        _, active_total = await product_service.list_tracked(
            user, TrackedProductFilter(active=True, limit=1)
        )
        filters = {
            "q": q or "",
            "tag": tag or "",
            "role": role.value if role else "",
            "status": status,
            "sort": sort,
            "order": order,
        }
        return await seller_page(
            request,
            "products/list.html",
            page_user,
            alert_service,
            title="Products",
            rows=rows,
            total=total,
            sparks=sparks,
            filters=filters,
            page=page,
            pages=max(1, -(-total // PAGE_SIZE)),
            sort_columns=SORT_COLUMNS,
            quota=user.plan.max_tracked_products,
            active_total=active_total,
        )

    @get("/add")
    async def add_form(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        alert_service: NamedDependency[AlertService],
    ) -> Template:
        """Add one product, or many by pasting lines or uploading a CSV."""
        return await self._add_page(request, page_user, alert_service)

    async def _add_page(
        self,
        request: AnyRequest,
        page_user: PageUser,
        alert_service: AlertService,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> Template:
        context.setdefault("values", {"marketplace": "US", "role": "own"})
        context.setdefault("errors", {})
        context.setdefault("bulk_values", {"marketplace": "US", "role": "own"})
        context.setdefault("bulk_errors", {})
        page_out: Template = await seller_page(
            request,
            "products/add.html",
            page_user,
            alert_service,
            status_code=status_code,
            title="Add products",
            marketplaces=MARKETPLACE_OPTIONS,
            roles=ROLE_OPTIONS,
            max_bulk=MAX_BULK,
            **context,
        )
        return page_out

    @post("/add")
    async def add_one(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
        alert_service: NamedDependency[AlertService],
    ) -> Template | Redirect:
        """Track one product by ASIN or URL."""
        form = await read_form(request, AddForm)
        errors = form.errors
        if form.data is not None:
            try:
                data = TrackedProductCreate(
                    product=form.data.product.strip(),
                    marketplace=Marketplace(form.data.marketplace)
                    if form.data.marketplace
                    else None,
                    alias=form.data.alias.strip() or None,
                    tags=_split_tags(form.data.tags),
                    role=form.data.role,
                )
                created = await product_service.track(page_user.user, data)
            except ValidationError as exc:
                errors = validation_errors(exc)
            except ValueError:
                errors = {"marketplace": "Choose a marketplace"}
            except (InvalidInput, Conflict, QuotaExceeded) as exc:
                errors = domain_errors(exc)
            else:
                flash(
                    request,
                    f"Now tracking {created.asin} on {created.marketplace}. "
                    "Its first numbers arrive with the next crawl.",
                    "success",
                )
                return redirect(f"/products/{created.id}")
        return await self._add_page(
            request, page_user, alert_service, status_code=422, values=form.values, errors=errors
        )

    @post("/bulk")
    async def add_many(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        bulk_track_service: NamedDependency[BulkTrackService],
        alert_service: NamedDependency[AlertService],
    ) -> Template:
        """Track pasted lines or a CSV upload; each line's result is shown."""
        form = await read_form(request, BulkForm)
        if form.data is None:
            return await self._add_page(
                request,
                page_user,
                alert_service,
                status_code=422,
                bulk_values=form.values,
                bulk_errors=form.errors,
            )
        csv_text = None
        upload = form.files.get("file")
        if upload is not None and upload.filename:
            raw = await upload.read()
            if len(raw) > MAX_BULK_BYTES:
                return await self._add_page(
                    request,
                    page_user,
                    alert_service,
                    status_code=422,
                    bulk_values=form.values,
                    bulk_errors={"file": "The file is over 256 KiB"},
                )
            try:
                csv_text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                return await self._add_page(
                    request,
                    page_user,
                    alert_service,
                    status_code=422,
                    bulk_values=form.values,
                    bulk_errors={"file": "The file is not UTF-8 text"},
                )
        try:
            items = bulk_items(form.data, csv_text)
        except InvalidInput as exc:
            return await self._add_page(
                request,
                page_user,
                alert_service,
                status_code=422,
                bulk_values=form.values,
                bulk_errors={"lines": exc.message},
            )
        result: BulkTrackResult = await bulk_track_service.track_many(page_user.user, items)
        return await self._add_page(
            request, page_user, alert_service, bulk_values=form.values, bulk_result=result
        )

    @get("/{tracking_id:uuid}")
    async def detail(
        self,
        request: AnyRequest,
        state: State,
        tracking_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
        alert_service: NamedDependency[AlertService],
        range: FromQuery[Literal["7d", "30d", "90d", "1y"]] = "30d",
    ) -> Template:
        """One product: charts with alert markers, the listing and its versions, settings."""
        return await self._detail_page(
            request, page_user, product_service, alert_service, tracking_id, range
        )

    async def _detail_page(
        self,
        request: AnyRequest,
        page_user: PageUser,
        product_service: ProductService,
        alert_service: AlertService,
        tracking_id: uuid.UUID,
        range_: str,
        *,
        status_code: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> Template:
        user = page_user.user
        detail = await product_service.get(user, tracking_id)
        charts: dict[str, Any] = {}
        for metric in CHART_METRICS:
            history = await product_service.history(user, tracking_id, metric, range_, None, None)
            charts[metric] = {
                name: [[p.t.timestamp(), float(p.v)] for p in points if p.v is not None]
                for name, points in history.series.items()
            }
        alerts, _ = await alert_service.list_alerts(
            user.id, AlertFilter(tracked_product_id=tracking_id, limit=100)
        )
        markers = [
            {"t": a.snapshot_captured_at.timestamp(), "severity": a.severity, "text": a.message}
            for a in alerts
        ]
        versions, _ = await product_service.listing_versions(
            user, tracking_id, ListingVersionFilter(limit=10)
        )
        thresholds = detail.thresholds
        if values is None:
            values = {
                "alias": detail.alias or "",
                "tags": ", ".join(detail.tags),
                "role": detail.role,
                "frequency": detail.frequency,
                "price_change_pct": str(thresholds.price_change_pct),
                "min_price_delta": str(thresholds.min_price_delta),
                "undercut_pct": str(thresholds.undercut_pct),
                "bsr_change_pct": str(thresholds.bsr_change_pct),
                "min_bsr_delta": str(thresholds.min_bsr_delta),
                "rating_drop": str(thresholds.rating_drop),
                "min_reviews_removed": str(thresholds.min_reviews_removed),
                "my_seller_name": thresholds.my_seller_name or "",
                "rules": [r.value for r in Rule if thresholds.enabled(r)],
            }
        currency = detail.latest.currency if detail.latest else None
        currency = currency or MARKETPLACES[Marketplace(detail.marketplace)].currency
        page_out: Template = await seller_page(
            request,
            "products/detail.html",
            page_user,
            alert_service,
            status_code=status_code,
            title=(
                detail.alias or (detail.listing.title if detail.listing else None) or detail.asin
            ),
            p=detail,
            range=range_,
            ranges=RANGES,
            charts=charts,
            markers=markers,
            alerts=alerts,
            versions=versions,
            currency=currency,
            values=values,
            errors=errors or {},
            rule_labels=RULE_LABELS,
            roles=ROLE_OPTIONS,
            frequencies=FREQUENCY_OPTIONS,
            chart_payload={"currency": currency, "charts": charts, "markers": markers},
        )
        return page_out

    @post("/{tracking_id:uuid}/settings")
    async def save_settings(
        self,
        request: AnyRequest,
        tracking_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
        alert_service: NamedDependency[AlertService],
    ) -> Template | Redirect:
        """Alias, tags, role, crawl frequency and alert thresholds."""
        form = await read_form(request, SettingsForm, lists=("rules",))
        errors = dict(form.errors)
        if form.data is not None:
            f = form.data
            raw = {
                "price_change_pct": f.price_change_pct,
                "min_price_delta": f.min_price_delta,
                "undercut_pct": f.undercut_pct,
                "bsr_change_pct": f.bsr_change_pct,
                "min_bsr_delta": f.min_bsr_delta,
                "rating_drop": f.rating_drop,
                "min_reviews_removed": f.min_reviews_removed,
            }
            try:
                thresholds = Thresholds.model_validate(
                    {
                        **{k: v.strip() for k, v in raw.items() if v.strip()},
                        "my_seller_name": f.my_seller_name.strip() or None,
                        "disabled_rules": [r.value for r in Rule if r.value not in f.rules],
                    }
                )
                update = TrackedProductUpdate(
                    alias=f.alias.strip(),
                    tags=_split_tags(f.tags),
                    role=f.role,
                    frequency=f.frequency,
                    thresholds=thresholds,
                )
                await product_service.update(page_user.user, tracking_id, update)
            except ValidationError as exc:
                errors = validation_errors(exc)
            except InvalidInput as exc:
                errors = domain_errors(exc)
            else:
                flash(request, "Settings saved.", "success")
                return redirect(f"/products/{tracking_id}#settings")
        values: dict[str, Any] = {**form.values}
        values["rules"] = form.data.rules if form.data else []
        errors.setdefault("_form", "Please correct the highlighted settings.")
        return await self._detail_page(
            request,
            page_user,
            product_service,
            alert_service,
            tracking_id,
            "30d",
            status_code=422,
            errors=errors,
            values=values,
        )

    @post("/{tracking_id:uuid}/refresh")
    async def refresh(
        self,
        request: AnyRequest,
        state: State,
        tracking_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
    ) -> Redirect:
        """Crawl this product now (within the plan's daily refreshes)."""
        tracking, product = await product_service.own_tracking(page_user.user, tracking_id)
        back = await _back(request, f"/products/{tracking_id}")
        if not tracking.is_active:
            flash(request, "Resume tracking before refreshing it.", "warning")
            return redirect(back)
        res = resources(state)
        try:
            result = await RefreshService(product_service.uow, res.redis, res.settings).request(
                page_user.user, product, force=False
            )
        except Throttled as exc:
            flash(request, exc.message + ".", "warning")
            return redirect(back)
        messages = {
            "queued": "Refresh queued: new numbers arrive in a minute or so.",
            "already_queued": "A crawl of this product is already under way.",
            "fresh": "The numbers are already fresh (captured within the hour).",
        }
        flash(request, messages[result.status], "success" if result.status != "fresh" else "info")
        return redirect(back)

    @post("/{tracking_id:uuid}/stop")
    async def stop(
        self,
        request: AnyRequest,
        tracking_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
    ) -> Redirect:
        """Stop tracking; the history is kept."""
        await product_service.set_active(page_user.user, tracking_id, False)
        flash(request, "Tracking stopped. Its history is kept; resume any time.", "info")
        return redirect(await _back(request, f"/products/{tracking_id}"))

    @post("/{tracking_id:uuid}/resume")
    async def resume(
        self,
        request: AnyRequest,
        tracking_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
    ) -> Redirect:
        """Resume tracking (counts against the plan's quota)."""
        try:
            await product_service.set_active(page_user.user, tracking_id, True)
        except QuotaExceeded as exc:
            flash(request, exc.message, "error")
        else:
            flash(request, "Tracking resumed.", "success")
        return redirect(await _back(request, f"/products/{tracking_id}"))

    @get("/{tracking_id:uuid}/history.csv", media_type="text/csv")
    async def history_csv(
        self,
        tracking_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
        range: FromQuery[Literal["7d", "30d", "90d", "1y"]] = "30d",
    ) -> Response[str]:
        """Every good snapshot in the range as CSV."""
        filename, body = await product_service.history_csv(
            page_user.user, tracking_id, range, None, None
        )
        return Response(
            body,
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


async def _back(request: AnyRequest, default: str) -> str:
    """Where the action's form says to return (the list it came from), else the product page.
    (No Referer: the site sends no-referrer.)"""
    form = await request.form()
    back = form.get("back")
    return safe_next(back if isinstance(back, str) else None, default)


__all__: Sequence[str] = ["ProductPages"]
