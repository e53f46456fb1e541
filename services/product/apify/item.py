"""The normalised form of one actor output item, whatever actor produced it."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from services.product.marketplaces import Marketplace


class CrawlStatus(StrEnum):
    OK = "ok"
    NOT_FOUND = "not_found"
    BLOCKED = "blocked"  # captcha or robot check
    PARTIAL = "partial"  # found, but key fields (price or title) missing
    ERROR = "error"


class Fulfillment(StrEnum):
    AMAZON = "AMZ"  # sold and shipped by Amazon
    FBA = "FBA"  # third-party seller, fulfilled by Amazon
    FBM = "FBM"  # third-party seller, fulfilled by the merchant


@dataclass(frozen=True, slots=True)
class BsrEntry:
    rank: int
    category: str


@dataclass(frozen=True, slots=True)
class ListingContent:
    title: str | None
    brand: str | None
    bullets: tuple[str, ...] = ()
    description: str | None = None
    images: tuple[str, ...] = ()
    video_count: int = 0
    category_path: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedItem:
    """One product as one crawl saw it. ``None`` means "not reported", never zero."""

    asin: str
    marketplace: Marketplace | None
    status: CrawlStatus
    currency: str | None = None
    price: Decimal | None = None
    list_price: Decimal | None = None
    # The page marks the price as a deal (a limited-time offer the seller runs).
    deal: bool | None = None
    buybox_price: Decimal | None = None
    buybox_seller: str | None = None
    fulfillment: Fulfillment | None = None
    is_prime: bool | None = None
    availability: str | None = None
    in_stock: bool | None = None
    rating: Decimal | None = None
    review_count: int | None = None
    bsr: tuple[BsrEntry, ...] = field(default_factory=tuple)
    listing: ListingContent | None = None
    error: str | None = None
