"""``axesso_data/amazon-product-details-scraper``.

Mapped fields (see the real item in the fixtures): ``price`` (Buy Box price, a float),
``retailPrice`` (list price, 0 when none), ``priceRange`` (text range when no single price),
``productRating`` ("4.4 out of 5 stars"), ``countReview``, ``soldBy`` / ``fulfilledBy``,
``warehouseAvailability``, ``prime``, ``productDetails`` (the "Best Sellers Rank" text holds every
rank), ``aboutProduct`` ("Brand"), ``manufacturer`` ("Visit the X Store", brand fallback),
``features`` (bullets), ``productDescription``, ``imageUrlList``, ``videoeUrlList`` (the typo is
the actor's), ``categoriesExtended`` (category path). ``statusCode`` 404 / ``statusMessage``
NOT_FOUND is a missing product; 503 or a captcha message is a blocked crawl.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from services.product.apify.adapters.base import (
    default_currency,
    fulfillment_of,
    looks_blocked,
    marketplace_of,
)
from services.product.apify.item import CrawlStatus, ListingContent, ParsedItem
from services.product.apify.parsing import (
    clean_text,
    parse_bsr,
    parse_count,
    parse_in_stock,
    parse_money,
    parse_rating,
)
from services.product.asin import is_valid_asin

_ASIN_IN_URL = re.compile(r"/(?:dp|gp/product)/([A-Z0-9]{10})", re.IGNORECASE)


def _named(entries: object, name: str) -> Any:
    if not isinstance(entries, list):
        return None
    wanted = name.lower()
    for entry in entries:
        if isinstance(entry, Mapping) and str(entry.get("name", "")).strip().lower() == wanted:
            return entry.get("value")
    return None


def _brand(item: Mapping[str, Any]) -> str | None:
    brand = clean_text(_named(item.get("aboutProduct"), "Brand"))
    if brand:
        return brand
    brand = clean_text(_named(item.get("productDetails"), "Brand"))
    if brand:
        return brand
    manufacturer = clean_text(item.get("manufacturer")) or ""
    match = re.match(
        r"(?:Visit the|Besuchen Sie den|Visitez la boutique)\s+(.+?)(?:\s+Store|-Store)?$",
        manufacturer,
    )
    return match.group(1).strip() if match else (manufacturer or None)


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(t for t in (clean_text(v) for v in value) if t)


class AxessoAdapter:
    actor_id = "axesso_data/amazon-product-details-scraper"

    def build_input(self, urls: Sequence[str]) -> dict[str, Any]:
        return {"urls": list(urls)}

    def parse(self, item: Mapping[str, Any]) -> ParsedItem | None:
        url = item.get("url")
        asin = str(item.get("asin") or "").strip().upper()
        if not is_valid_asin(asin):
            match = _ASIN_IN_URL.search(str(url or ""))
            asin = match.group(1).upper() if match else ""
        if not asin:
            return None
        marketplace = marketplace_of(url)
        status_code = item.get("statusCode")
        message = str(item.get("statusMessage") or "")
        if status_code == 404 or "NOT_FOUND" in message.upper():
            return ParsedItem(
                asin, marketplace, CrawlStatus.NOT_FOUND, error=message or "not found"
            )
        if status_code in (503, 429) or looks_blocked(message):
            return ParsedItem(asin, marketplace, CrawlStatus.BLOCKED, error=message or "blocked")
        if isinstance(status_code, int) and status_code >= 400:
            return ParsedItem(
                asin, marketplace, CrawlStatus.ERROR, error=f"{status_code} {message}"
            )

        price, shown_currency = parse_money(item.get("price"))
        if price is None:
            price, shown_currency = parse_money(item.get("priceRange"))
        list_price, list_currency = parse_money(item.get("retailPrice"))
        currency = shown_currency or list_currency or default_currency(marketplace)
        title = clean_text(item.get("title"))
        bsr_text = _named(item.get("productDetails"), "Best Sellers Rank")
        if bsr_text is None:
            bsr_text = _named(item.get("productInformation"), "Best Sellers Rank")
        availability = clean_text(item.get("warehouseAvailability"))
        sold_by = clean_text(item.get("soldBy"))
        categories = item.get("categoriesExtended") or []
        listing = ListingContent(
            title=title,
            brand=_brand(item),
            bullets=_strings(item.get("features")),
            description=clean_text(item.get("productDescription")),
            images=_strings(item.get("imageUrlList")),
            video_count=len(item.get("videoeUrlList") or []),
            category_path=tuple(
                name
                for name in (
                    clean_text(c.get("name")) for c in categories if isinstance(c, Mapping)
                )
                if name
            ),
        )
        status = CrawlStatus.OK if price is not None and title else CrawlStatus.PARTIAL
        return ParsedItem(
            asin=asin,
            marketplace=marketplace,
            status=status,
            currency=currency,
            price=price,
            list_price=list_price
            if list_price and (price is None or list_price >= price)
            else None,
            buybox_price=price,
            buybox_seller=sold_by,
            fulfillment=fulfillment_of(sold_by, clean_text(item.get("fulfilledBy"))),
            is_prime=item.get("prime") if isinstance(item.get("prime"), bool) else None,
            availability=availability,
            in_stock=parse_in_stock(availability),
            rating=parse_rating(item.get("productRating")),
            review_count=parse_count(item.get("countReview")),
            bsr=parse_bsr(bsr_text),
            listing=listing,
            error=None if status is CrawlStatus.OK else "price or title missing",
        )
