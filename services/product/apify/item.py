"""The normalised form of one actor output item, whatever actor produced it."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

import msgspec

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


# msgspec Structs rather than frozen dataclasses: a crawl page builds a ParsedItem, a
# ListingContent and a few BsrEntry per product, and a Struct is made in a fraction of the time
# (its __init__ is C; a frozen dataclass sets each field through object.__setattr__). Frozen:
# hashable and compared by value, as before. gc=False: they hold only strings, numbers, enums
# and tuples of each other, so they cannot be part of a reference cycle.
class BsrEntry(msgspec.Struct, frozen=True, gc=False):
    rank: int
    category: str


class ListingContent(msgspec.Struct, frozen=True, gc=False):
    title: str | None
    brand: str | None
    bullets: tuple[str, ...] = ()
    description: str | None = None
    images: tuple[str, ...] = ()
    video_count: int = 0
    category_path: tuple[str, ...] = ()


class ParsedItem(msgspec.Struct, frozen=True, gc=False):
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
    bsr: tuple[BsrEntry, ...] = ()
    listing: ListingContent | None = None
    error: str | None = None
