"""Tracking products: the seller's side of the shared catalogue."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from services.core.errors import Conflict, FieldError, InvalidInput, NotFound, QuotaExceeded
from services.core.pagination import SortOrder
from services.core.read_cache import ReadCache
from services.core.settings import Settings
from services.core.thresholds import Thresholds
from services.core.uow import OnSession, UnitOfWork
from services.product.cache import (
    detail_view,
    history_view,
    list_view,
)
from services.product.crawl import CrawlPlanner
from services.product.history import HistoryService
from services.product.marketplaces import Marketplace
from services.product.models import CrawlTrigger, Product, TrackedProduct
from services.product.read_models import latest_state
from services.product.refresh import RefreshService
from services.product.repository import (
    CrawlRunRepository,
    FactsRepository,
    ProductRepository,
    SnapshotRepository,
    TrackingRepository,
)
from services.product.schemas import (
    BatchRefreshResult,
    BsrEntryRead,
    CrawlChanges,
    FactPoint,
    HistoryMetric,
    HistoryRange,
    HistoryRead,
    ListingRead,
    ListingVersionFilter,
    ListingVersionRead,
    OwnPrice,
    ProductFacts,
    ProductLabel,
    ProductState,
    RefreshAccepted,
    Seller,
    SnapshotRead,
    StateChange,
    TrackedProductCreate,
    TrackedProductDetail,
    TrackedProductFilter,
    TrackedProductRead,
    TrackedProductRow,
    TrackedProductUpdate,
    TrackingFacts,
    TrackingRole,
    tracked_read,
)
from services.product.tracking import (
    PlanQuota,
    ask_first_crawl,
    clean_tags,
    lists_changed,
    product_reference,
)

logger = logging.getLogger(__name__)


class RecentAlerts(Protocol):
    """The alerts module's answer to "what fired lately on this tracking", handed in by the
    edge: the product module never imports alerts (alerts depends on product, not back)."""

    async def recent_for_tracking(
        self, tracking_id: uuid.UUID, limit: int
    ) -> list[dict[str, Any]]: ...

    def version_key(self, user_id: uuid.UUID) -> str:
        """The cache key whose token changes with this seller's alerts."""
        ...


def thresholds_of(tracking: TrackedProduct) -> Thresholds:
    try:
        return Thresholds.model_validate(tracking.thresholds or {})
    except ValidationError:  # stored before a stricter version: fall back to the defaults
        logger.warning("invalid stored thresholds", extra={"tracking": str(tracking.id)})
        return Thresholds()


def _state(row: Mapping[Any, Any], prefix: str = "") -> ProductState:
    return ProductState(
        price=row[f"{prefix}price"],
        buybox_price=row[f"{prefix}buybox_price"],
        buybox_seller=row[f"{prefix}buybox_seller"],
        in_stock=row[f"{prefix}in_stock"],
        rating=row[f"{prefix}rating"],
        review_count=row[f"{prefix}review_count"],
        bsr=row[f"{prefix}bsr"] or [],
        title=row[f"{prefix}title"],
        bullets=row[f"{prefix}bullets"] or [],
        images=row[f"{prefix}images"] or [],
        currency=row[f"{prefix}currency"],
        deal=row[f"{prefix}deal"],
    )


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
    """Track products and read their state, always scoped to one seller; and the product
    module's public API to the other modules (crawl changes, trackings, labels)."""

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
    runs = OnSession(CrawlRunRepository)
    bulk = OnSession(FactsRepository)
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

    # The public API other modules use ----------------------------------------------------

    async def crawl_changes(self, run_id: uuid.UUID) -> CrawlChanges:
        """Each good snapshot of a crawl run beside the product's previous good state."""
        run = await self.runs.get(run_id)
        if run is None:
            raise ValueError(f"crawl run {run_id} does not exist")
        rows = await self.snapshots.state_pairs(run_id, run.captured_at)
        return CrawlChanges(
            run_id=run_id,
            captured_at=run.captured_at,
            changes=[
                StateChange(
                    product_id=row["product_id"],
                    current=_state(row),
                    previous=_state(row, "p_"),
                    recent_bsr=row["recent_bsr"] or [],
                )
                for row in rows
            ],
        )

    async def active_trackings(self, product_ids: Sequence[int]) -> list[TrackingFacts]:
        """Every active tracking of these products, with its validated thresholds."""
        return [
            TrackingFacts(
                id=t.id,
                user_id=t.user_id,
                product_id=t.product_id,
                role=TrackingRole(t.role),
                tags=tuple(t.tags or ()),
                thresholds=thresholds_of(t),
            )
            for t in await self.trackings.active_for_products(product_ids)
        ]

    async def own_prices_by_tag(self, user_ids: Sequence[uuid.UUID]) -> list[OwnPrice]:
        """The latest known price of each seller's own products, once per tag."""
        return [
            OwnPrice(
                user_id=row["user_id"],
                tag=row["tag"],
                label=row["alias"] or row["asin"],
                price=row["price"],
            )
            for row in await self.trackings.own_prices_by_tag(user_ids)
            if row["price"] is not None
        ]

    async def labels(self, product_ids: Iterable[int]) -> dict[int, ProductLabel]:
        """Marketplace and ASIN of each product, by id."""
        return {
            pid: ProductLabel(pid, marketplace, asin)
            for pid, marketplace, asin in await self.products.identities(list(product_ids))
        }

    # For modules that look at several products at once (competitor groups, optimization) --

    def parse_reference(self, product: str, marketplace: str | None) -> tuple[str, str]:
        """(marketplace, ASIN) of an ASIN or Amazon URL."""
        try:
            # An unknown marketplace code is a ValueError, reported like an unreadable product.
            market = Marketplace(marketplace) if marketplace else None
            return product_reference(product, market, url_must_match=False)
        except ValueError as exc:
            raise InvalidInput(str(exc), field_errors=[FieldError("product", str(exc))]) from exc

    async def tracking_summary(self, user: Seller, tracking_id: uuid.UUID) -> TrackedProductRead:
        """One of the seller's trackings; NotFound for another seller's or an unknown id."""
        tracking, product = await self.own_tracking(user, tracking_id)
        latest = await latest_state(self.snapshots, self.cache, product.id)
        return tracked_read(tracking, product, latest, self.data_source)

    async def find_tracking(
        self, user: Seller, marketplace: str, asin: str
    ) -> TrackedProductRead | None:
        product = await self.products.find(marketplace, asin)
        tracking = await self.trackings.get_for_user(user.id, product.id) if product else None
        if tracking is None or product is None:
            return None
        return tracked_read(tracking, product, None, self.data_source)

    async def ensure_quota(self, user: Seller, adding: int) -> None:
        """Refuse, before anything is written, ``adding`` new trackings past the plan's quota
        (403 with the limit, the count and what was asked)."""
        if adding <= 0:
            return
        maximum, active = await self.quota.locked(user)
        if active + adding > maximum:
            raise QuotaExceeded(
                f"This needs {adding} more tracked product(s): your plan tracks at most "
                f"{maximum} and {active} are tracked now",
                code="tracking_quota_exceeded",
                extra={"quota": {"limit": maximum, "tracked": active, "requested": adding}},
            )

    async def track_or_get(
        self, user: Seller, marketplace: str, asin: str, role: TrackingRole
    ) -> tuple[TrackedProductRead, bool]:
        """The seller's tracking of (marketplace, ASIN), created in ``role`` when absent (within
        the quota); a stopped tracking is resumed. Returns (tracking, created)."""
        existing = await self.find_tracking(user, marketplace, asin)
        if existing is not None:
            if not existing.is_active:
                await self.set_active(user, existing.id, True)
            return existing, False
        created = await self.track(
            user,
            TrackedProductCreate(product=asin, marketplace=Marketplace(marketplace), role=role),
        )
        return created, True

    async def facts(
        self, user: Seller, tracking_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, ProductFacts]:
        """Latest good state, current listing and 30-day series of the seller's trackings (ids
        of other sellers are absent from the answer)."""
        return await self._facts(user.id, tracking_ids)

    async def _facts(
        self, user_id: uuid.UUID, tracking_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, ProductFacts]:
        trackings = await self.bulk.trackings(user_id, tracking_ids)
        pids = [r["product_id"] for r in trackings]
        if not pids:
            return {}
        latest = {r["product_id"]: r for r in await self.bulk.latest_good(pids)}
        listings = {r["product_id"]: r for r in await self.bulk.current_listings(pids)}
        series: dict[int, list[FactPoint]] = {}
        since = datetime.now(UTC) - timedelta(days=30)
        for r in await self.bulk.series_since(pids, since):
            series.setdefault(r["product_id"], []).append(
                FactPoint(
                    t=r["captured_at"],
                    price=r["price"],
                    rating=r["rating"],
                    review_count=r["review_count"],
                )
            )
        facts: dict[uuid.UUID, ProductFacts] = {}
        for r in trackings:
            pid = r["product_id"]
            snap, listing = latest.get(pid), listings.get(pid)
            facts[r["tracking_id"]] = ProductFacts(
                tracked_product_id=r["tracking_id"],
                product_id=pid,
                marketplace=r["marketplace"],
                asin=r["asin"],
                alias=r["alias"],
                role=r["role"],
                is_active=r["is_active"],
                last_status=r["last_status"],
                last_good_at=r["last_good_at"],
                last_crawled_at=r["last_crawled_at"],
                crawl_pending=bool(r["crawl_pending"]),
                latest=SnapshotRead.model_validate(
                    {k: v for k, v in snap.items() if k != "product_id"}
                )
                if snap
                else None,
                listing=ListingRead.model_validate(
                    {k: v for k, v in listing.items() if k != "product_id"}
                )
                if listing
                else None,
                series_30d=series.get(pid, []),
            )
        return facts

    async def request_batch_refresh(
        self, user: Seller, tracking_ids: list[uuid.UUID], settings: Settings, older_than_s: int
    ) -> BatchRefreshResult:
        """One batched crawl (on the refresh path) of those products whose last good data is
        older than ``older_than_s``; products already being crawled are not asked twice."""
        now = datetime.now(UTC)
        rows = await self.bulk.trackings(user.id, tracking_ids)
        cutoff = now - timedelta(seconds=older_than_s)
        pending = sorted({r["product_id"] for r in rows if r["crawl_pending"]})
        fresh = sorted(
            {
                r["product_id"]
                for r in rows
                if not r["crawl_pending"] and r["last_good_at"] and r["last_good_at"] >= cutoff
            }
        )
        stale = sorted({r["product_id"] for r in rows} - set(pending) - set(fresh))
        result = await CrawlPlanner(self.uow, settings).create_batches(
            stale, now, trigger=CrawlTrigger.REFRESH
        )
        return BatchRefreshResult(
            crawl_run_ids=result.runs,
            queued_product_ids=stale,
            already_pending_product_ids=pending,
            fresh_product_ids=fresh,
        )

    async def product_facts(self, user_id: uuid.UUID, tracking_id: uuid.UUID) -> ProductFacts:
        """Identity, current listing and latest good state of one of the seller's trackings."""
        found = await self._facts(user_id, [tracking_id])
        if tracking_id not in found:
            raise NotFound("No such tracked product")
        return found[tracking_id]

    async def competitor_facts(
        self,
        user_id: uuid.UUID,
        marketplace: str,
        exclude_product_id: int,
        limit: int = 10,
        only: list[uuid.UUID] | None = None,
    ) -> list[ProductFacts]:
        """The seller's active competitor-role trackings in one marketplace (or just the
        trackings in ``only``, e.g. a competitor group's members)."""
        if only is not None:
            ids = only[:limit]
        else:
            pairs = await self.trackings.list_active_with_role(
                user_id, TrackingRole.COMPETITOR.value
            )
            ids = [
                t.id
                for t, p in pairs
                if p.marketplace == marketplace and p.id != exclude_product_id
            ][:limit]
        found = await self._facts(user_id, ids)
        return [found[i] for i in ids if i in found]

    async def metric_rows(
        self, user_id: uuid.UUID, tracking_id: uuid.UUID, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """Good snapshots of one of the seller's trackings in [start, end), oldest first, with
        price, Buy Box, rating, reviews, stock and BSR: the raw material of daily series."""
        tracking = await self.trackings.get_by_id_for_user(user_id, tracking_id)
        if tracking is None:
            raise NotFound("No such tracked product")
        return [dict(r) for r in await self.bulk.metric_rows(tracking.product_id, start, end)]


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
    "thresholds_of",
]
