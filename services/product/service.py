"""A seller's tracked products: start, change, stop and resume tracking, and read them (list,
detail, history, CSV, listing versions), always scoped to that seller; and an on-demand refresh.

Bulk tracking is in ``bulk``, what other modules ask of products in ``catalog``, and the workers'
upkeep in ``maintenance``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError

from services.core.errors import Conflict, NotFound
from services.core.pagination import SortOrder
from services.core.read_cache import ReadCache
from services.core.settings import Settings
from services.core.thresholds import Thresholds
from services.core.uow import OnSession, UnitOfWork
from services.product.cache import detail_view, history_view, list_view
from services.product.history import HistoryService
from services.product.models import Product, TrackedProduct
from services.product.read_models import latest_state
from services.product.refresh import RefreshService
from services.product.repository import ProductRepository, SnapshotRepository, TrackingRepository
from services.product.schemas import (
    BsrEntryRead,
    HistoryMetric,
    HistoryRange,
    HistoryRead,
    ListingRead,
    ListingVersionFilter,
    ListingVersionRead,
    RefreshAccepted,
    Seller,
    TrackedProductCreate,
    TrackedProductDetail,
    TrackedProductFilter,
    TrackedProductRead,
    TrackedProductRow,
    TrackedProductUpdate,
    tracked_read,
)
from services.product.tracking import (
    PlanQuota,
    ask_first_crawl,
    clean_tags,
    lists_changed,
    product_reference,
)


class RecentAlerts(Protocol):
    """The alerts module's answer to "what fired lately on this tracking", handed in by the
    edge: the product module never imports alerts (alerts depends on product, not back)."""

    async def recent_for_tracking(
        self, tracking_id: uuid.UUID, limit: int
    ) -> list[dict[str, Any]]: ...

    def version_key(self, user_id: uuid.UUID) -> str:
        """The cache key whose token changes with this seller's alerts."""
        ...


def _diff(newer: dict[str, Any], older: dict[str, Any] | None) -> dict[str, Any]:
    """What changed from ``older`` to ``newer``, field by field."""
    if older is None:
        return {}
    changes: dict[str, Any] = {}
    for field in ("title", "brand", "description", "video_count"):
        if newer[field] != older[field]:
            changes[field] = {"old": older[field], "new": newer[field]}
    for field in ("bullets", "images", "category_path"):
        old, new = list(older[field] or []), list(newer[field] or [])
        if old != new:
            changes[field] = {
                "added": [x for x in new if x not in old],
                "removed": [x for x in old if x not in new],
                "reordered": sorted(old) == sorted(new),
            }
    return changes


class ProductService:
    """Track products and read their state, always scoped to one seller."""

    def __init__(
        self,
        uow: UnitOfWork,
        data_source: str = "apify",
        cache: ReadCache | None = None,
        *,
        settings: Settings | None = None,
        alerts: RecentAlerts | None = None,
    ) -> None:
        self.uow = uow
        self.data_source = data_source
        self.cache = cache or ReadCache(None, 0)
        self.settings = settings
        self.alerts = alerts

    # Made on first use, and with them the unit of work's session: an answer read from the
    # cache needs neither.
    products = OnSession(ProductRepository)
    trackings = OnSession(TrackingRepository)
    snapshots = OnSession(SnapshotRepository)
    quota = OnSession(PlanQuota)

    async def plan_usage(self, user: Seller) -> tuple[int, int]:
        """(the plan's tracked-product quota, active trackings now), without any lock."""
        return await self.quota.usage(user)

    async def track(self, user: Seller, data: TrackedProductCreate) -> TrackedProductRead:
        """Start tracking one product; 409 when already tracked, 403 past the plan's quota."""
        marketplace, asin = product_reference(data.product, data.marketplace)
        await self.quota.check(user)
        product = await self.products.get_or_create(marketplace, asin)
        if await self.trackings.get_for_user(user.id, product.id) is not None:
            raise Conflict("You already track this product", code="already_tracked")
        tracking = TrackedProduct(
            user_id=user.id,
            product_id=product.id,
            alias=data.alias,
            tags=clean_tags(data.tags),
            role=data.role,
            frequency=data.frequency,
            thresholds=data.thresholds.model_dump(mode="json", exclude_defaults=True),
        )
        try:
            async with self.uow.session.begin_nested():
                await self.trackings.add(tracking)
        except IntegrityError as exc:  # the same seller tracked it concurrently
            raise Conflict("You already track this product", code="already_tracked") from exc
        await self.uow.session.refresh(tracking)
        lists_changed(self.uow, self.cache, user.id)
        ask_first_crawl(self.uow, self.settings, [product])
        latest = await latest_state(self.snapshots, self.cache, product.id)
        return tracked_read(tracking, product, latest, self.data_source)

    async def own_tracking(
        self, user: Seller, tracking_id: uuid.UUID
    ) -> tuple[TrackedProduct, Product]:
        found = await self.trackings.get_with_product_for_user(user.id, tracking_id)
        if found is None:
            raise NotFound("No such tracked product")
        return found

    async def get(self, user: Seller, tracking_id: uuid.UUID) -> TrackedProductDetail:
        """Latest good state (every BSR entry), current listing, recent alerts, thresholds."""
        tracking, product = await self.own_tracking(user, tracking_id)
        latest = await latest_state(self.snapshots, self.cache, product.id)
        base = tracked_read(tracking, product, latest, self.data_source)
        versions = await self.snapshots.listing_versions(product.id, 1)
        recent = await self.alerts.recent_for_tracking(tracking.id, 10) if self.alerts else []
        return TrackedProductDetail(
            **base.model_dump(),
            thresholds=Thresholds.model_validate(tracking.thresholds or {}),
            listing=ListingRead.model_validate(dict(versions[0])) if versions else None,
            recent_alerts=recent,
            last_crawled_at=product.last_crawled_at,
        )

    async def detail_json(self, user: Seller, tracking_id: uuid.UUID) -> bytes:
        """``get`` as the API's JSON body, cached encoded under the seller's list and alerts
        versions: a hit reads no database row. The key holds the seller's id and is written
        only after ``own_tracking`` passed for that seller, so a hit is itself the tenancy
        check; stopping, changing or losing the tracking changes the list version."""
        alerts_version = self.alerts.version_key(user.id) if self.alerts is not None else None

        async def build() -> bytes:
            return (await self.get(user, tracking_id)).model_dump_json().encode()

        return await self.cache.view(detail_view(user.id, tracking_id, alerts_version), build)

    async def update(
        self, user: Seller, tracking_id: uuid.UUID, data: TrackedProductUpdate
    ) -> TrackedProductDetail:
        tracking, _ = await self.own_tracking(user, tracking_id)
        if data.alias is not None:
            tracking.alias = data.alias or None
        if data.tags is not None:
            tracking.tags = clean_tags(data.tags)
        if data.role is not None:
            tracking.role = data.role
        if data.frequency is not None:
            tracking.frequency = data.frequency
        if data.thresholds is not None:
            tracking.thresholds = data.thresholds.model_dump(mode="json", exclude_defaults=True)
        await self.uow.session.flush()
        lists_changed(self.uow, self.cache, user.id)
        return await self.get(user, tracking_id)

    async def set_active(
        self, user: Seller, tracking_id: uuid.UUID, active: bool
    ) -> TrackedProductDetail:
        """Stop tracking (history is kept) or resume it (within the plan's quota)."""
        tracking, _ = await self.own_tracking(user, tracking_id)
        if active and not tracking.is_active:
            await self.quota.check(user)
        tracking.is_active = active
        await self.uow.session.flush()
        lists_changed(self.uow, self.cache, user.id)
        return await self.get(user, tracking_id)

    async def _list_rows(
        self, user: Seller, filters: TrackedProductFilter
    ) -> tuple[list[TrackedProductRow], int]:
        rows, total = await self.trackings.list_for_user(
            user.id,
            week_ago=datetime.now(UTC) - timedelta(days=7),
            tag=filters.tag,
            role=filters.role,
            active=filters.active,
            crawl_status=filters.crawl_status,
            q=filters.q,
            sort=filters.sort,
            descending=filters.order is SortOrder.DESC,
            limit=filters.limit,
            offset=filters.offset,
        )
        return [_row(r) for r in rows], total

    async def list_tracked(
        self, user: Seller, filters: TrackedProductFilter
    ) -> tuple[list[TrackedProductRow], int]:
        """One page of the seller's list and its total: ``(items, total)``, read from the same
        cached page as the API's."""
        page = json.loads(await self.list_page_json(user, filters))
        return [TrackedProductRow.model_validate(r) for r in page["items"]], page["total"]

    async def list_page_json(self, user: Seller, filters: TrackedProductFilter) -> bytes:
        """One page of the seller's list as the API's JSON body (``Page[TrackedProductRow]``),
        cached encoded: a hit goes back to the client as stored, with no row validated or
        encoded again and no database connection taken."""

        async def build() -> bytes:
            items, total = await self._list_rows(user, filters)
            return filters.page(items, total).model_dump_json().encode()

        return await self.cache.view(list_view(user.id, filters), build)

    async def history(
        self,
        user: Seller,
        tracking_id: uuid.UUID,
        metric: str,
        range_: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> HistoryRead:
        """One metric of a tracked product over a named or custom range."""
        _, product = await self.own_tracking(user, tracking_id)
        return await HistoryService(self.snapshots, self.cache).series(
            product, metric, range_, start, end
        )

    async def history_json(
        self,
        user: Seller,
        tracking_id: uuid.UUID,
        metric: str,
        range_: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> bytes:
        """``history`` as the API's JSON body. A named range is cached whole per seller and
        tracking under the seller's list version (which every crawl of the product changes),
        for a minute at most because its start and end follow the clock: a hit reads no
        database row (the key holds the seller's id, as in ``detail_json``)."""

        async def build() -> bytes:
            _, product = await self.own_tracking(user, tracking_id)
            return await HistoryService(self.snapshots, self.cache).series_json(
                product, metric, range_, start, end
            )

        if start is not None or end is not None:
            return await build()  # a custom range: read afresh every time
        return await self.cache.view(history_view(user.id, tracking_id, metric, range_), build)

    async def price_series(
        self, user: Seller, tracking_ids: Sequence[uuid.UUID], days: int
    ) -> dict[uuid.UUID, list[Decimal]]:
        """The last ``days`` of good prices of several of the seller's trackings (a page of
        sparklines) in two queries; trackings that are not the seller's are left out."""
        products = await self.trackings.products_of_trackings(user.id, tracking_ids)
        if not products:
            return {}
        end = datetime.now(UTC)
        by_product: dict[int, list[Decimal]] = {pid: [] for pid in products.values()}
        for row in await self.snapshots.price_points(
            list(by_product), end - timedelta(days=days), end
        ):
            by_product[row["product_id"]].append(row["price"])
        return {tracking: by_product[pid] for tracking, pid in products.items()}

    async def history_csv(
        self,
        user: Seller,
        tracking_id: uuid.UUID,
        range_: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> tuple[str, str]:
        """(file name, CSV text) of every good snapshot in the range."""
        _, product = await self.own_tracking(user, tracking_id)
        body = await HistoryService(self.snapshots, self.cache).csv(product, range_, start, end)
        return f"{product.marketplace}-{product.asin}-history.csv", body

    async def listing_versions(
        self, user: Seller, tracking_id: uuid.UUID, filters: ListingVersionFilter
    ) -> tuple[list[ListingVersionRead], int]:
        """One page of listing versions, newest first, each with what changed against the one
        before, and their total: ``(items, total)``."""
        _, product = await self.own_tracking(user, tracking_id)
        rows = [
            dict(r)
            for r in await self.snapshots.listing_versions(
                product.id, filters.limit, filters.offset
            )
        ]
        total = await self.snapshots.count_listing_versions(product.id)
        items = [
            ListingVersionRead(
                **row, changes=_diff(row, rows[i + 1] if i + 1 < len(rows) else None)
            )
            for i, row in enumerate(rows[: filters.limit])
        ]
        return items, total

    async def refresh(
        self, user: Seller, tracking_id: uuid.UUID, force: bool = False
    ) -> RefreshAccepted:
        """Crawl one tracked product now on the critical queue, within the plan's daily limit;
        fresh data answers at once unless forced, a pending crawl is reused."""
        tracking, product = await self.own_tracking(user, tracking_id)
        if not tracking.is_active:
            raise Conflict("Resume tracking before refreshing it", code="tracking_stopped")
        if self.settings is None:
            raise RuntimeError("ProductService needs settings to refresh")
        service = RefreshService(self.uow, self.cache.redis, self.settings)
        return await service.request(user, product, force)


def _row(r: Mapping[Any, Any]) -> TrackedProductRow:
    return TrackedProductRow(
        id=r["id"],
        product_id=r["product_id"],
        marketplace=r["marketplace"],
        asin=r["asin"],
        alias=r["alias"],
        title=r["title"],
        tags=list(r["tags"] or []),
        role=r["role"],
        frequency=r["frequency"],
        is_active=r["is_active"],
        currency=r["currency"],
        price=r["price"],
        buybox_price=r["buybox_price"],
        in_stock=r["in_stock"],
        rating=r["rating"],
        review_count=r["review_count"],
        main_bsr=BsrEntryRead(**r["bsr"][0]) if r["bsr"] else None,
        price_change_7d_pct=r["price_change_7d"],
        last_crawl_status=r["last_status"],
        as_of=r["as_of"],
    )


__all__ = [
    "HistoryMetric",
    "HistoryRange",
    "ProductService",
    "RecentAlerts",
]
