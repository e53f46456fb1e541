"""Request and response types of the product module."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
