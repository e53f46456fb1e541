"""Product module routes: tracking, state, history, listing versions, refresh."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from litestar import Controller, MediaType, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from pydantic import ValidationError

from gateway.controllers.alerts import provide_alert_service
from gateway.dependencies import (
    READ_VIEW,
    CurrentUser,
    edge_lookup,
    provide_signed_in_uow,
    read_cache,
    resources,
)
from gateway.pagination import Limit, Offset
from services.alerts.service import alerts_version_key
from services.core.pagination import Page, SortOrder
from services.core.read_cache import CachedView
from services.core.uow import UnitOfWork
from services.product.bulk import BulkTrackService
from services.product.cache import detail_view, history_view, list_view
from services.product.schemas import (
    BulkTrackResult,
    CrawlStatus,
    HistoryMetric,
    HistoryRange,
    HistoryRead,
    ListingVersionFilter,
    ListingVersionRead,
    RefreshAccepted,
    RefreshOutcome,
    TrackedProductCreate,
    TrackedProductDetail,
    TrackedProductFilter,
    TrackedProductRead,
    TrackedProductRow,
    TrackedProductUpdate,
    TrackedSort,
    TrackingRole,
)
from services.product.service import ProductService


def json_body(body: bytes) -> Response[Any]:
    """An answer the service already encoded (from the read cache, as stored); the route's
    return type still documents its schema."""
    return Response(body, media_type=MediaType.JSON)


def data_source(state: State) -> str:
    return "simulator" if resources(state).settings.apify.simulated else "apify"


async def provide_product_service(
    request: Request[Any, Any, Any], state: State, uow: NamedDependency[UnitOfWork]
) -> ProductService:
    return ProductService(
        uow,
        data_source(state),
        read_cache(state, edge_lookup(request)),
        settings=resources(state).settings,
        alerts=await provide_alert_service(state, uow),
    )


async def provide_bulk_track_service(
    state: State, uow: NamedDependency[UnitOfWork]
) -> BulkTrackService:
    return BulkTrackService(uow, read_cache(state), settings=resources(state).settings)


# The cached routes' views as the edge reads them (``READ_VIEW``), from the same definitions
# the service answers from. The edge may send a stored answer without the route, so it takes
# only queries the route reads the same way: each parameter once, and the list's values
# spelled as the filters write them ("true", "20"). Anything else (a repeated parameter,
# "active=yes", "limit=020") goes to the route, which validates it and looks up on its own.
def _plain_query(query: str) -> dict[str, str] | None:
    pairs = parse_qsl(query, keep_blank_values=True)
    params = dict(pairs)
    return params if len(params) == len(pairs) else None


def _as_written(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def list_read_view(user_id: uuid.UUID, _: Mapping[str, Any], query: str) -> CachedView | None:
    params = _plain_query(query)
    if params is None or not params.keys() <= TrackedProductFilter.model_fields.keys():
        return None
    try:
        filters = TrackedProductFilter.model_validate(params)
    except ValidationError:
        return None
    read = filters.model_dump(mode="json")
    if any(_as_written(read[name]) != raw for name, raw in params.items()):
        return None
    return list_view(user_id, filters)


def detail_read_view(user_id: uuid.UUID, path: Mapping[str, Any], _: str) -> CachedView:
    return detail_view(user_id, path["tracking_id"], alerts_version_key(user_id))


def history_read_view(user_id: uuid.UUID, path: Mapping[str, Any], query: str) -> CachedView | None:
    params = _plain_query(query)
    if params is None or not params.keys() <= {"metric", "range"}:
        return None  # a custom range (start / end) is never cached
    try:
        metric = HistoryMetric(params.get("metric", HistoryMetric.PRICE))
        range_ = HistoryRange(params["range"]) if "range" in params else None
    except ValueError:
        return None
    return history_view(user_id, path["tracking_id"], metric, range_)


async def provide_listing_version_filter(
    limit: Limit = 20, offset: Offset = 0
) -> ListingVersionFilter:
    """The listing-version list's paging."""
    return ListingVersionFilter(limit=limit, offset=offset)


class ProductController(Controller):
    path = "/api/v1/products"
    tags = ["products"]
    dependencies = {
        "uow": Provide(provide_signed_in_uow),
        "product_service": Provide(provide_product_service),
        "bulk_track_service": Provide(provide_bulk_track_service),
    }

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
        bulk_track_service: NamedDependency[BulkTrackService],
    ) -> BulkTrackResult:
        """Track up to 100 products from a JSON {"items": [...]} body or a CSV upload."""
        return await bulk_track_service.track_upload(
            current_user.user, await request.body(), request.headers.get("content-type", "")
        )

    @get("/", opt={READ_VIEW: list_read_view})
    async def list_products(
        self,
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
        limit: Limit = 50,
        offset: Offset = 0,
        tag: Annotated[str | None, QueryParameter(max_length=200)] = None,
        role: FromQuery[TrackingRole | None] = None,
        active: FromQuery[bool | None] = None,
        crawl_status: FromQuery[CrawlStatus | None] = None,
        q: Annotated[str | None, QueryParameter(max_length=100)] = None,
        sort: FromQuery[TrackedSort] = TrackedSort.CREATED_AT,
        order: FromQuery[SortOrder] = SortOrder.DESC,
    ) -> Response[Page[TrackedProductRow]]:
        """The seller's tracked products with their latest state, 7-day change and age."""
        # The query string as parameters, not a filter dependency: one more dependency beside
        # the signed-in chain would be resolved in a task group (provide_signed_in_uow).
        filters = TrackedProductFilter(
            limit=limit,
            offset=offset,
            tag=tag,
            role=role,
            active=active,
            crawl_status=crawl_status,
            q=q,
            sort=sort,
            order=order,
        )
        return json_body(await product_service.list_page_json(current_user.user, filters))

    @get("/{tracking_id:uuid}", opt={READ_VIEW: detail_read_view})
    async def detail(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
    ) -> Response[TrackedProductDetail]:
        """Latest good state with every BSR entry, the current listing, recent alerts."""
        return json_body(await product_service.detail_json(current_user.user, tracking_id))

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

    @get("/{tracking_id:uuid}/history", opt={READ_VIEW: history_read_view})
    async def history(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
        metric: FromQuery[HistoryMetric] = HistoryMetric.PRICE,
        range: FromQuery[HistoryRange | None] = None,
        start: FromQuery[datetime | None] = None,
        end: FromQuery[datetime | None] = None,
    ) -> Response[HistoryRead]:
        """One metric over 7d/30d/90d/1y or a custom start/end (BSR: one series per category)."""
        return json_body(
            await product_service.history_json(
                current_user.user, tracking_id, metric, range, start, end
            )
        )

    @get("/{tracking_id:uuid}/history.csv", media_type="text/csv")
    async def history_csv(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
        range: FromQuery[HistoryRange | None] = None,
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

    @get(
        "/{tracking_id:uuid}/listing-versions",
        dependencies={"filters": Provide(provide_listing_version_filter)},
    )
    async def listing_versions(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
        filters: NamedDependency[ListingVersionFilter],
    ) -> Page[ListingVersionRead]:
        """Listing versions, newest first, each with what changed."""
        items, total = await product_service.listing_versions(
            current_user.user, tracking_id, filters
        )
        return filters.page(items, total)

    @post("/{tracking_id:uuid}/refresh", status_code=202)
    async def refresh(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
        force: FromQuery[bool] = False,
    ) -> Response[RefreshAccepted]:
        """Crawl now on the critical queue (202 + job id); fresh data answers 200 unless forced."""
        result = await product_service.refresh(current_user.user, tracking_id, force)
        fresh = result.status is RefreshOutcome.FRESH
        return Response(result, status_code=200 if fresh else 202)
