"""Request and response types of the product module."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from services.core.pagination import MAX_PAGE_SIZE, PageParams, SortOrder
from services.core.thresholds import Thresholds
from services.product.apify.item import CrawlStatus
from services.product.marketplaces import Marketplace
from services.product.models import CrawlRunStatus, CrawlTrigger, Frequency, TrackingRole

__all__ = [
    "CrawlRunStatus",
    "CrawlStatus",
    "CrawlTrigger",
    "Frequency",
    "Marketplace",
    "TrackingRole",
]


class Seller(Protocol):
    """Whoever a tracking belongs to: the product module needs only the account's id."""

    @property
    def id(self) -> uuid.UUID: ...


class TrackedSort(StrEnum):
    """Sort keys of the seller's product list."""

    CREATED_AT = "created_at"
    ALIAS = "alias"
    ASIN = "asin"
    PRICE = "price"
    RATING = "rating"
    REVIEWS = "reviews"
    PRICE_CHANGE_7D = "price_change_7d"
    AS_OF = "as_of"


class TrackedProductFilter(PageParams):
    """Which of the seller's tracked products to list, and in which order."""

    tag: str | None = Field(default=None, max_length=200)
    role: TrackingRole | None = None
    active: bool | None = None
    crawl_status: CrawlStatus | None = None
    q: str | None = Field(default=None, max_length=100, description="Search ASIN, alias, title")
    sort: TrackedSort = TrackedSort.CREATED_AT
    order: SortOrder = SortOrder.DESC


class ListingVersionFilter(PageParams):
    """A page of a product's listing versions, newest first."""

    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


class HistoryMetric(StrEnum):
    PRICE = "price"
    BUYBOX_PRICE = "buybox_price"
    BSR = "bsr"
    RATING = "rating"
    REVIEW_COUNT = "review_count"
    IN_STOCK = "in_stock"


class HistoryRange(StrEnum):
    D7 = "7d"
    D30 = "30d"
    D90 = "90d"
    Y1 = "1y"

    @property
    def days(self) -> int:
        return {"7d": 7, "30d": 30, "90d": 90, "1y": 365}[self.value]


class BulkOutcome(StrEnum):
    TRACKED = "tracked"
    ALREADY_TRACKED = "already_tracked"
    INVALID = "invalid"


class RefreshOutcome(StrEnum):
    QUEUED = "queued"
    ALREADY_QUEUED = "already_queued"
    FRESH = "fresh"


# What other modules learn about products through ProductService (never the models).


@dataclass(frozen=True, slots=True)
class ProductLabel:
    product_id: int
    marketplace: str
    asin: str


@dataclass(frozen=True, slots=True)
class TrackingFacts:
    """One active tracking, as alert detection needs it."""

    id: uuid.UUID
    user_id: uuid.UUID
    product_id: int
    role: TrackingRole
    tags: tuple[str, ...]
    thresholds: Thresholds


@dataclass(frozen=True, slots=True)
class ProductState:
    """The comparable state of a product at one good crawl."""

    price: Decimal | None
    buybox_price: Decimal | None
    buybox_seller: str | None
    in_stock: bool | None
    rating: Decimal | None
    review_count: int | None
    bsr: list[dict[str, Any]] = field(default_factory=list)
    title: str | None = None
    bullets: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    currency: str | None = None
    deal: bool | None = None  # the page showed the price as a deal


@dataclass(frozen=True, slots=True)
class StateChange:
    """A product's state at a crawl beside its previous good state."""

    product_id: int
    current: ProductState
    previous: ProductState
    # BSR lists of the good snapshots of the week before the current one, up to and including
    # ``previous`` (at most seven, oldest first): what a rank usually is, besides what it was.
    recent_bsr: list[list[dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CrawlChanges:
    run_id: uuid.UUID
    captured_at: datetime
    changes: list[StateChange]


@dataclass(frozen=True, slots=True)
class OwnPrice:
    """The latest price of one of a seller's own products, under one of its tags."""

    user_id: uuid.UUID
    tag: str
    label: str
    price: Decimal


class TrackedProductCreate(BaseModel):
    """Track a product by ASIN or by any Amazon product URL."""

    model_config = ConfigDict(extra="forbid")

    product: str = Field(
        min_length=10,
        max_length=2000,
        examples=["B0D2XRXNGY", "https://www.amazon.de/dp/B0D2XRXNGY"],
    )
    marketplace: Marketplace | None = Field(
        default=None, description="Required with a bare ASIN; taken from the URL otherwise"
    )
    alias: str | None = Field(default=None, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=20)
    role: TrackingRole = TrackingRole.OWN
    frequency: Frequency = Frequency.DAILY
    thresholds: Thresholds = Field(default_factory=Thresholds)


class BsrEntryRead(BaseModel):
    rank: int
    category: str


class SnapshotRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    captured_at: datetime
    status: str
    currency: str | None
    price: Decimal | None
    list_price: Decimal | None
    buybox_price: Decimal | None
    buybox_seller: str | None
    fulfillment: str | None
    is_prime: bool | None
    availability: str | None
    in_stock: bool | None
    rating: Decimal | None
    review_count: int | None
    bsr: list[BsrEntryRead]


class TrackedProductRead(BaseModel):
    id: uuid.UUID
    product_id: int
    marketplace: str
    asin: str
    alias: str | None
    tags: list[str]
    role: str
    frequency: str
    is_active: bool
    created_at: datetime
    latest: SnapshotRead | None = None
    # When the data shown was captured: the seller always knows how fresh it is.
    as_of: datetime | None = None
    last_crawl_status: str | None = None
    data_source: str = Field(description="'apify', or 'simulator' when crawls are simulated")


def tracked_read(
    tracking: Any, product: Any, latest: Any | None, data_source: str
) -> TrackedProductRead:
    return TrackedProductRead(
        id=tracking.id,
        product_id=product.id,
        marketplace=product.marketplace,
        asin=product.asin,
        alias=tracking.alias,
        tags=list(tracking.tags or []),
        role=tracking.role,
        frequency=tracking.frequency,
        is_active=tracking.is_active,
        created_at=tracking.created_at,
        latest=SnapshotRead.model_validate(latest) if latest is not None else None,
        as_of=latest.captured_at if latest is not None else None,
        last_crawl_status=product.last_status,
        data_source=data_source,
    )


class TrackedProductUpdate(BaseModel):
    """Settings a seller may change on a tracking; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    alias: str | None = Field(default=None, max_length=200)
    tags: list[str] | None = Field(default=None, max_length=20)
    role: TrackingRole | None = None
    frequency: Frequency | None = None
    thresholds: Thresholds | None = None


class TrackedProductRow(BaseModel):
    """One line of the seller's product list."""

    id: uuid.UUID
    product_id: int
    marketplace: str
    asin: str
    alias: str | None
    title: str | None
    tags: list[str]
    role: str
    frequency: str
    is_active: bool
    currency: str | None
    price: Decimal | None
    buybox_price: Decimal | None
    in_stock: bool | None
    rating: Decimal | None
    review_count: int | None
    main_bsr: BsrEntryRead | None
    price_change_7d_pct: Decimal | None
    last_crawl_status: str | None
    as_of: datetime | None


class ListingRead(BaseModel):
    captured_at: datetime
    title: str | None
    brand: str | None
    bullets: list[str]
    description: str | None
    images: list[str]
    video_count: int
    category_path: list[str]


class ListingVersionRead(ListingRead):
    id: int
    changes: dict[str, Any] = Field(
        default_factory=dict, description="What changed against the previous version"
    )


class TrackedProductDetail(TrackedProductRead):
    thresholds: Thresholds
    listing: ListingRead | None = None
    recent_alerts: list[dict[str, Any]] = Field(default_factory=list)
    last_crawled_at: datetime | None = None


class SeriesPoint(BaseModel):
    t: datetime
    v: Any


class HistoryRead(BaseModel):
    metric: str
    start: datetime
    end: datetime
    currency: str | None
    series: dict[str, list[SeriesPoint]]
    as_of: datetime | None


class BulkLineResult(BaseModel):
    line: int
    product: str | None
    result: BulkOutcome
    reason: str | None = None
    tracked_product_id: uuid.UUID | None = None


class BulkTrackResult(BaseModel):
    tracked: int
    already_tracked: int
    invalid: int
    lines: list[BulkLineResult]


class RefreshAccepted(BaseModel):
    status: RefreshOutcome
    job_id: str | None = None
    crawl_run_id: uuid.UUID | None = None
    as_of: datetime | None = None


class CrawlRunRead(BaseModel):
    """What one actor run was asked, returned and cost: the operator's view of crawling."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    actor: str
    trigger: str
    status: str
    asin_count: int
    item_count: int
    ok_count: int
    failed_count: int
    missing_count: int
    duration_s: float | None
    cost_usd: Decimal | None
    apify_run_id: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class CrawlCostSummary(BaseModel):
    runs: int
    asins: int
    items: int
    failed: int
    missing: int
    cost_usd: Decimal
    runs_list: list[CrawlRunRead]


class FactPoint(BaseModel):
    t: datetime
    price: Decimal | None
    rating: Decimal | None
    review_count: int | None


class ProductFacts(BaseModel):
    """Everything another module may read about one of a seller's tracked products at once:
    the latest good state, the current listing and the last 30 days (for comparisons)."""

    tracked_product_id: uuid.UUID
    product_id: int
    marketplace: str
    asin: str
    alias: str | None
    role: str
    is_active: bool
    last_status: str | None
    last_good_at: datetime | None
    last_crawled_at: datetime | None
    crawl_pending: bool
    latest: SnapshotRead | None
    listing: ListingRead | None
    series_30d: list[FactPoint]


class BatchRefreshResult(BaseModel):
    """A refresh of several products asked at once: one batched crawl for the stale ones."""

    crawl_run_ids: list[uuid.UUID]
    queued_product_ids: list[int]
    already_pending_product_ids: list[int]
    fresh_product_ids: list[int]


class CrawlCostDay(BaseModel):
    day: date
    runs: int
    asins: int
    cost_usd: Decimal


class CrawlCostProduct(BaseModel):
    """One product's share of the runs that crawled it (a run's cost split over its ASINs)."""

    product_id: int
    marketplace: str
    asin: str
    runs: int
    cost_usd: Decimal
    cost_per_month_usd: Decimal


class CrawlCostBreakdown(BaseModel):
    days: int
    runs: int
    total_cost_usd: Decimal
    per_day: list[CrawlCostDay]
    per_product: list[CrawlCostProduct]
