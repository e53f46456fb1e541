"""Request and response types of the product module."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.alerts.thresholds import Thresholds
from services.product.marketplaces import Marketplace
from services.product.models import Frequency, TrackingRole


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


class BulkTrackItem(TrackedProductCreate):
    pass


class BulkTrackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] = Field(min_length=1, max_length=100)


class BulkLineResult(BaseModel):
    line: int
    product: str | None
    result: str  # tracked | already_tracked | invalid
    reason: str | None = None
    tracked_product_id: uuid.UUID | None = None


class BulkTrackResult(BaseModel):
    tracked: int
    already_tracked: int
    invalid: int
    lines: list[BulkLineResult]


class RefreshAccepted(BaseModel):
    status: str  # queued | already_queued | fresh
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
