"""What the other modules ask of the product module: facts about a seller's trackings (competitor
groups, optimization), a crawl run's changes and the trackings they concern (alerts), labels, and
tracking on a seller's behalf (a competitor group's members). They never see its models."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from services.core.errors import FieldError, InvalidInput, NotFound, QuotaExceeded
from services.core.read_cache import ReadCache
from services.core.settings import Settings
from services.core.thresholds import Thresholds
from services.core.uow import OnSession, UnitOfWork
from services.product.crawl import CrawlPlanner
from services.product.marketplaces import Marketplace
from services.product.models import CrawlTrigger, TrackedProduct
from services.product.read_models import latest_state
from services.product.repository import (
    CrawlRunRepository,
    FactsRepository,
    ProductRepository,
    SnapshotRepository,
    TrackingRepository,
)
from services.product.schemas import (
    BatchRefreshResult,
    CrawlChanges,
    FactPoint,
    ListingRead,
    OwnPrice,
    ProductFacts,
    ProductLabel,
    ProductState,
    Seller,
    SnapshotRead,
    StateChange,
    TrackedProductCreate,
    TrackedProductRead,
    TrackingFacts,
    TrackingRole,
    tracked_read,
)
from services.product.service import ProductService
from services.product.tracking import PlanQuota, product_reference

logger = logging.getLogger(__name__)


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


class ProductCatalog:
    """The product module's public API to the other modules; every seller-facing answer is
    scoped to that seller's trackings."""

    def __init__(
        self,
        uow: UnitOfWork,
        data_source: str = "apify",
        cache: ReadCache | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        self.uow = uow
        self.data_source = data_source
        self.cache = cache or ReadCache(None, 0)
        # Tracking on a seller's behalf is the seller's own ``track``, with the same rules.
        self.sellers = ProductService(uow, data_source, self.cache, settings=settings)

    products = OnSession(ProductRepository)
    trackings = OnSession(TrackingRepository)
    snapshots = OnSession(SnapshotRepository)
    runs = OnSession(CrawlRunRepository)
    bulk = OnSession(FactsRepository)
    quota = OnSession(PlanQuota)

    # For the alerts module, after each crawl run -------------------------------------------

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
        """(marketplace, ASIN) of an ASIN or Amazon URL; ``marketplace`` is the bare ASIN's. A
        URL's own marketplace is returned even when it differs: the caller says what is wrong
        (a competitor group names the member)."""
        try:
            # An unknown marketplace code is a ValueError, reported like an unreadable product.
            market = Marketplace(marketplace) if marketplace else None
            return product_reference(product, market, url_must_match=False)
        except ValueError as exc:
            raise InvalidInput(str(exc), field_errors=[FieldError("product", str(exc))]) from exc

    async def tracking_summary(self, user: Seller, tracking_id: uuid.UUID) -> TrackedProductRead:
        """One of the seller's trackings; NotFound for another seller's or an unknown id."""
        tracking, product = await self.sellers.own_tracking(user, tracking_id)
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
                await self.sellers.set_active(user, existing.id, True)
            return existing, False
        created = await self.sellers.track(
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


__all__ = ["ProductCatalog", "thresholds_of"]
