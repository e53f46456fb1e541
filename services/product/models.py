"""The shared catalogue (products), each seller's tracking, crawl runs, snapshots and listings."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, StrEnumType, TimestampMixin
from services.product.apify.item import CrawlStatus


class TrackingRole(StrEnum):
    OWN = "own"
    COMPETITOR = "competitor"


class Frequency(StrEnum):
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"


class CrawlRunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class CrawlTrigger(StrEnum):
    SCHEDULE = "schedule"
    REFRESH = "refresh"
    # The first crawl of a newly tracked product, so the seller sees data within a minute.
    FIRST = "first"


class Product(Base):
    """One Amazon product, shared by every seller who tracks it and crawled once per cycle."""

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("marketplace", "asin"),
        CheckConstraint("asin ~ '^[A-Z0-9]{10}$'", name="asin_format"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    marketplace: Mapped[str] = mapped_column(String(2))
    asin: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Last time a crawl was attempted / returned good data, and its status.
    last_crawled_at: Mapped[datetime | None]
    last_good_at: Mapped[datetime | None]
    last_status: Mapped[CrawlStatus | None] = mapped_column(StrEnumType(CrawlStatus, 20))
    # While a batch holds the product, planners skip it (until this moment passes).
    crawl_pending_until: Mapped[datetime | None]
    # Consecutive runs whose results lacked this ASIN; it is retried until a limit.
    missing_count: Mapped[int] = mapped_column(server_default="0")
    # The content hash and capture time of the newest listing version: a crawled page's listing
    # is compared with these instead of looking the newest version up among all of them.
    listing_hash: Mapped[str | None] = mapped_column(String(64))
    listing_hash_at: Mapped[datetime | None]


class TrackedProduct(TimestampMixin, Base):
    """A seller's tracking of a product: private to that seller."""

    __tablename__ = "tracked_products"
    __table_args__ = (
        UniqueConstraint("user_id", "product_id"),
        CheckConstraint("role IN ('own', 'competitor')", name="role_known"),
        CheckConstraint("frequency IN ('hourly', 'daily', 'weekly')", name="frequency_known"),
        Index("ix_tracked_products_product_id_active", "product_id", "is_active"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    alias: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), server_default="{}")
    role: Mapped[TrackingRole] = mapped_column(
        StrEnumType(TrackingRole, 20), default=TrackingRole.OWN
    )
    frequency: Mapped[Frequency] = mapped_column(
        StrEnumType(Frequency, 10), default=Frequency.DAILY
    )
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    is_active: Mapped[bool] = mapped_column(server_default="true", default=True)


class CrawlRun(Base):
    """One actor run over a batch of products: what it was asked, what it returned, what it cost."""

    __tablename__ = "crawl_runs"
    __table_args__ = (
        Index("ix_crawl_runs_created_at", "created_at"),
        # Open runs only, a handful among a year of finished ones: "is this product in a pending
        # batch?" on every refresh (see docs/queries.md).
        Index(
            "ix_crawl_runs_open_created_at",
            "created_at",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        # The stalled-batch pass: open runs whose lease lapsed.
        Index(
            "ix_crawl_runs_open_leased_until",
            "leased_until",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    actor: Mapped[str] = mapped_column(String(100))
    product_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    asin_count: Mapped[int]
    status: Mapped[CrawlRunStatus] = mapped_column(
        StrEnumType(CrawlRunStatus, 20), default=CrawlRunStatus.QUEUED
    )
    trigger: Mapped[CrawlTrigger] = mapped_column(
        StrEnumType(CrawlTrigger, 20), default=CrawlTrigger.SCHEDULE
    )
    # The moment every snapshot of this run is stamped with: fixed once, so a re-run of the
    # same batch writes the same keys and duplicates are impossible.
    captured_at: Mapped[datetime] = mapped_column(server_default=func.now())
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    apify_run_id: Mapped[str | None] = mapped_column(String(64))
    dataset_id: Mapped[str | None] = mapped_column(String(64))
    # Written and committed before the Apify run is asked for: a job that finds it set without
    # an apify_run_id looks the run up at Apify instead of paying for a second one.
    start_requested_at: Mapped[datetime | None]
    # The job holding the batch (its ARQ job id) and until when; renewed while it runs, so a
    # killed worker's batch is sent again once the lease lapses.
    lease_token: Mapped[str | None] = mapped_column(String(200))
    leased_until: Mapped[datetime | None]
    # Jobs sent for this batch after the first (polls, re-sends): numbers their job ids.
    steps: Mapped[int] = mapped_column(server_default="0")
    # Of those, the ones sent because the lease lapsed; bounded, so a batch whose job fails
    # every time is given up instead of being sent again forever.
    resends: Mapped[int] = mapped_column(server_default="0")
    item_count: Mapped[int] = mapped_column(server_default="0")
    ok_count: Mapped[int] = mapped_column(server_default="0")
    failed_count: Mapped[int] = mapped_column(server_default="0")
    missing_count: Mapped[int] = mapped_column(server_default="0")
    pages_ingested: Mapped[int] = mapped_column(server_default="0")
    duration_s: Mapped[float | None]
    cost_usd: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    error: Mapped[str | None] = mapped_column(Text)


class Snapshot(Base):
    """One product as one crawl saw it. Range-partitioned by month on ``captured_at``."""

    __tablename__ = "snapshots"
    __table_args__ = (
        PrimaryKeyConstraint("product_id", "crawl_run_id", "captured_at"),
        Index("ix_snapshots_product_id_captured_at", "product_id", "captured_at"),
        {"postgresql_partition_by": "RANGE (captured_at)"},
    )

    product_id: Mapped[int] = mapped_column(BigInteger)
    crawl_run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    captured_at: Mapped[datetime]
    status: Mapped[CrawlStatus] = mapped_column(StrEnumType(CrawlStatus, 20))
    currency: Mapped[str | None] = mapped_column(String(3))
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    list_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # The page showed the price as a deal (a limited-time offer); None when not reported.
    deal: Mapped[bool | None]
    buybox_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    buybox_seller: Mapped[str | None] = mapped_column(String(200))
    fulfillment: Mapped[str | None] = mapped_column(String(3))
    is_prime: Mapped[bool | None]
    availability: Mapped[str | None] = mapped_column(String(200))
    in_stock: Mapped[bool | None]
    rating: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    review_count: Mapped[int | None]
    # Every Best Sellers Rank entry: [{"rank": 1234, "category": "Electronics"}, ...]
    bsr: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    error: Mapped[str | None] = mapped_column(Text)


class ListingVersion(Base):
    """Listing content, stored again only when it changed."""

    __tablename__ = "listing_versions"
    __table_args__ = (
        # At most one version per product per crawl keeps re-runs idempotent.
        UniqueConstraint("product_id", "crawl_run_id"),
        Index("ix_listing_versions_product_id_captured_at", "product_id", "captured_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    crawl_run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    captured_at: Mapped[datetime]
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    brand: Mapped[str | None] = mapped_column(String(200))
    bullets: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    description: Mapped[str | None] = mapped_column(Text)
    images: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    video_count: Mapped[int] = mapped_column(server_default="0")
    category_path: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
