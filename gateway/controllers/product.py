"""Product module routes: tracking, state, history, listing versions, refresh."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from gateway.dependencies import CurrentUser, resources
from gateway.pagination import Limit, Offset
from services.core.errors import Conflict, FieldError, InvalidInput
from services.core.pagination import Page
from services.core.uow import UnitOfWork
from services.product.cache import ReadCache
from services.product.models import TrackingRole
from services.product.queries import SORTS
from services.product.refresh import RefreshService
from services.product.schemas import (
    BulkTrackResult,
    HistoryRead,
    ListingVersionRead,
    RefreshAccepted,
    TrackedProductCreate,
    TrackedProductDetail,
    TrackedProductRead,
    TrackedProductRow,
    TrackedProductUpdate,
)
from services.product.service import ProductService

MAX_BULK = 100
MAX_BULK_BYTES = 256 * 1024
SortField = Literal[
    "created_at", "alias", "asin", "price", "rating", "reviews", "price_change_7d", "as_of"
]


def data_source(state: State) -> str:
    return "simulator" if resources(state).settings.apify.simulated else "apify"


def read_cache(state: State) -> ReadCache:
    res = resources(state)
    return ReadCache(res.redis, res.settings.cache.ttl_s)


async def provide_product_service(state: State, uow: NamedDependency[UnitOfWork]) -> ProductService:
    return ProductService(uow, data_source(state), read_cache(state))


def _csv_items(text: str) -> list[dict[str, Any]]:
    """product,marketplace,alias,tags,role,frequency (header required; tags split by ';')."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "product" not in [f.strip() for f in reader.fieldnames]:
        raise InvalidInput(
            "The CSV needs a header line with at least a 'product' column",
            field_errors=[FieldError("body", "missing header 'product'")],
        )
    items = []
    for row in reader:
        item: dict[str, Any] = {
            k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip()
        }
        if "tags" in item:
            item["tags"] = [t for t in item["tags"].split(";") if t.strip()]
        items.append(item)
    return items


class ProductController(Controller):
    path = "/api/v1/products"
    tags = ["products"]
    dependencies = {"product_service": Provide(provide_product_service)}

    @post("/", status_code=201)
    async def track(
        self,
        data: JSONBody[TrackedProductCreate],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
    ) -> TrackedProductRead:
        """Track a product by ASIN or Amazon URL."""
        return await product_service.track(current_user.user, data)

    @post("/bulk", status_code=200)
    async def track_bulk(
        self,
        request: Request[Any, Any, Any],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
    ) -> BulkTrackResult:
        """Track up to 100 products from a JSON {"items": [...]} body or a CSV upload."""
        body = await request.body()
        if len(body) > MAX_BULK_BYTES:
            raise InvalidInput(
                "The upload is too large", field_errors=[FieldError("body", "256 KiB max")]
            )
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in ("text/csv", "application/csv", "text/plain"):
            try:
                items = _csv_items(body.decode("utf-8-sig"))
            except csv.Error as exc:
                raise InvalidInput(
                    f"The CSV could not be read: {exc}",
                    field_errors=[FieldError("body", "malformed CSV")],
                ) from exc
            except UnicodeDecodeError as exc:
                raise InvalidInput(
                    "The CSV is not UTF-8", field_errors=[FieldError("body", "encoding")]
                ) from exc
        else:
            try:
                payload = json.loads(body or b"null")
            except ValueError as exc:
                raise InvalidInput(
                    "The body is not JSON", field_errors=[FieldError("body", "malformed")]
                ) from exc
            raw_items = payload.get("items") if isinstance(payload, dict) else None
            if not isinstance(raw_items, list):
                raise InvalidInput(
                    'Send {"items": [...]}',
                    field_errors=[FieldError("items", "a list is required")],
                )
            items = raw_items
        if not items:
            raise InvalidInput("No lines to track", field_errors=[FieldError("items", "empty")])
        if len(items) > MAX_BULK:
            raise InvalidInput(
                f"At most {MAX_BULK} lines per request",
                field_errors=[FieldError("items", f"{len(items)} lines, {MAX_BULK} max")],
            )
        return await product_service.track_many(current_user.user, items)

    @get("/")
    async def list_products(
        self,
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
        limit: Limit = 50,
        offset: Offset = 0,
        tag: FromQuery[str | None] = None,
        role: FromQuery[TrackingRole | None] = None,
        active: FromQuery[bool | None] = None,
        crawl_status: FromQuery[
            Literal["ok", "not_found", "blocked", "partial", "error"] | None
        ] = None,
        q: Annotated[str | None, QueryParameter(max_length=100)] = None,
        sort: FromQuery[SortField] = "created_at",
        order: FromQuery[Literal["asc", "desc"]] = "desc",
    ) -> Page[TrackedProductRow]:
        """The seller's tracked products with their latest state, 7-day change and age."""
        assert sort in SORTS
        items, total = await product_service.list_tracked(
            current_user.user,
            tag=tag,
            role=role.value if role else None,
            active=active,
            crawl_status=crawl_status,
            q=q,
            sort=sort,
            descending=order == "desc",
            limit=limit,
            offset=offset,
        )
        return Page[TrackedProductRow](items=items, total=total, limit=limit, offset=offset)

    @get("/{tracking_id:uuid}")
    async def detail(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
    ) -> TrackedProductDetail:
        """Latest good state with every BSR entry, the current listing, recent alerts."""
        return await product_service.get(current_user.user, tracking_id)

    @patch("/{tracking_id:uuid}")
    async def update(
        self,
        tracking_id: FromPath[uuid.UUID],
        data: JSONBody[TrackedProductUpdate],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
    ) -> TrackedProductDetail:
        """Change alias, tags, role, frequency or alert thresholds."""
        return await product_service.update(current_user.user, tracking_id, data)

    @post("/{tracking_id:uuid}/stop", status_code=200)
    async def stop(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
    ) -> TrackedProductDetail:
        """Stop tracking; the history is kept."""
        return await product_service.set_active(current_user.user, tracking_id, False)

    @post("/{tracking_id:uuid}/resume", status_code=200)
    async def resume(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
    ) -> TrackedProductDetail:
        """Resume a stopped tracking (counts against the plan's quota again)."""
        return await product_service.set_active(current_user.user, tracking_id, True)

    @get("/{tracking_id:uuid}/history")
    async def history(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
        metric: FromQuery[
            Literal["price", "buybox_price", "bsr", "rating", "review_count", "in_stock"]
        ] = "price",
        range: FromQuery[Literal["7d", "30d", "90d", "1y"] | None] = None,
        start: FromQuery[datetime | None] = None,
        end: FromQuery[datetime | None] = None,
    ) -> HistoryRead:
        """One metric over 7d/30d/90d/1y or a custom start/end (BSR: one series per category)."""
        return await product_service.history(
            current_user.user, tracking_id, metric, range, start, end
        )

    @get("/{tracking_id:uuid}/history.csv", media_type="text/csv")
    async def history_csv(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
        range: FromQuery[Literal["7d", "30d", "90d", "1y"] | None] = None,
        start: FromQuery[datetime | None] = None,
        end: FromQuery[datetime | None] = None,
    ) -> Response[str]:
        """Every good snapshot in the range as CSV."""
        filename, body = await product_service.history_csv(
            current_user.user, tracking_id, range, start, end
        )
        return Response(
            body,
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @get("/{tracking_id:uuid}/listing-versions")
    async def listing_versions(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
        limit: Limit = 20,
    ) -> list[ListingVersionRead]:
        """Listing versions, newest first, each with what changed."""
        return await product_service.listing_versions(current_user.user, tracking_id, limit)

    @post("/{tracking_id:uuid}/refresh", status_code=202)
    async def refresh(
        self,
        state: State,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
        force: FromQuery[bool] = False,
    ) -> Response[RefreshAccepted]:
        """Crawl now on the critical queue (202 + job id); fresh data answers 200 unless forced."""
        tracking, product = await product_service.own_tracking(current_user.user, tracking_id)
        if not tracking.is_active:
            raise Conflict("Resume tracking before refreshing it", code="tracking_stopped")
        res = resources(state)
        service = RefreshService(product_service.uow, res.redis, res.settings)
        result = await service.request(current_user.user, product, force)
        return Response(result, status_code=200 if result.status == "fresh" else 202)
