"""``junglee/amazon-crawler``.

Mapped fields: ``price`` / ``listPrice`` as ``{"value", "currency"}`` (the currency is often the
storefront's symbol, and "$" is shared by US and CA, so the marketplace decides), ``stars``,
``reviewsCount``, ``inStock`` / ``inStockText``, ``seller {name, id}`` with ``shipsFrom`` (or
``fulfilledBy``), ``bestsellerRanks [{rank, category}]`` main category first, ``breadCrumbs`` (one
string joined by U+203A), ``brand``, ``features``, ``description``, ``highResolutionImages`` (or
``thumbnailImage``), ``videosCount``. An item with ``error`` is NOT_FOUND, or blocked for a
captcha/robot page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from services.product.apify.adapters.base import (
    default_currency,
    fulfillment_of,
    looks_blocked,
    marketplace_of,
)
from services.product.apify.item import BsrEntry, CrawlStatus, ListingContent, ParsedItem
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
_CRUMB_SEPARATORS = re.compile("\\s*[\u203a>\u00bb/]\\s*")


def _money(value: object) -> Decimal | None:
    if isinstance(value, Mapping):
        value = value.get("value")
    return parse_money(value)[0]


def _ranks(value: object) -> tuple[BsrEntry, ...]:
    if isinstance(value, str):
        return parse_bsr(value)
    if not isinstance(value, list):
        return ()
    entries = []
    for entry in value:
        if not isinstance(entry, Mapping):
            continue
        rank = parse_count(entry.get("rank"))
        category = clean_text(entry.get("category"))
        if rank and category:
            entries.append(BsrEntry(rank=rank, category=category))
    return tuple(entries)


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(t for t in (clean_text(v) for v in value) if t)


class JungleeAdapter:
    actor_id = "junglee/amazon-crawler"

    def build_input(self, urls: Sequence[str]) -> dict[str, Any]:
        return {
            "categoryOrProductUrls": [{"url": url} for url in urls],
            "maxItemsPerStartUrl": 1,
            "proxyCountry": "AUTO_SELECT_PROXY_COUNTRY",
        }

    def parse(self, item: Mapping[str, Any]) -> ParsedItem | None:
        url = item.get("url") or item.get("input")
        asin = str(item.get("asin") or item.get("originalAsin") or "").strip().upper()
        if not is_valid_asin(asin):
            match = _ASIN_IN_URL.search(str(url or ""))
            asin = match.group(1).upper() if match else ""
        if not asin:
            return None
        marketplace = marketplace_of(url)
        error = item.get("error")
        if error:
            text = f"{error} {item.get('errorDescription') or ''}".strip()
            if looks_blocked(text):
                return ParsedItem(asin, marketplace, CrawlStatus.BLOCKED, error=text)
            if "NOT_FOUND" in str(error).upper() or "404" in text:
                return ParsedItem(asin, marketplace, CrawlStatus.NOT_FOUND, error=text)
            return ParsedItem(asin, marketplace, CrawlStatus.ERROR, error=text)

        price = _money(item.get("price"))
        list_price = _money(item.get("listPrice"))
        title = clean_text(item.get("title"))
        raw_seller = item.get("seller")
        seller: Mapping[str, Any] = raw_seller if isinstance(raw_seller, Mapping) else {}
        seller_name = clean_text(seller.get("name")) or clean_text(item.get("sellerName"))
        ships_from = clean_text(item.get("shipsFrom") or item.get("fulfilledBy"))
        in_stock = item.get("inStock") if isinstance(item.get("inStock"), bool) else None
        availability = clean_text(item.get("inStockText"))
        images = _strings(item.get("highResolutionImages")) or _strings(
            [item.get("thumbnailImage")] if item.get("thumbnailImage") else []
        )
        crumbs = clean_text(item.get("breadCrumbs")) or ""
        listing = ListingContent(
            title=title,
            brand=clean_text(item.get("brand")),
            bullets=_strings(item.get("features")),
            description=clean_text(item.get("description")),
            images=images,
            video_count=parse_count(item.get("videosCount")) or len(item.get("videos") or []),
            category_path=tuple(p for p in _CRUMB_SEPARATORS.split(crumbs) if p),
        )
        status = CrawlStatus.OK if price is not None and title else CrawlStatus.PARTIAL
        return ParsedItem(
            asin=asin,
            marketplace=marketplace,
            status=status,
            currency=default_currency(marketplace),
            price=price,
            list_price=list_price
            if list_price and (price is None or list_price >= price)
            else None,
            buybox_price=price,
            buybox_seller=seller_name,
            fulfillment=fulfillment_of(seller_name, ships_from),
            is_prime=item.get("isPrime") if isinstance(item.get("isPrime"), bool) else None,
            availability=availability,
            in_stock=in_stock if in_stock is not None else parse_in_stock(availability),
            rating=parse_rating(item.get("stars")),
            review_count=parse_count(item.get("reviewsCount")),
            bsr=_ranks(item.get("bestsellerRanks")),
            listing=listing,
            error=None if status is CrawlStatus.OK else "price or title missing",
        )
