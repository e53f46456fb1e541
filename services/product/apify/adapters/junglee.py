"""Adapter for ``junglee/amazon-crawler`` (Apify Store: "Amazon Product Scraper").

No real item was at hand. The mapping follows the actor's README and published sample output:

- ``input`` (the requested URL), ``originalAsin``, ``asin``, ``url``: the ASIN, in that order of
  trust, since the crawler may land on a variation whose ``asin`` differs from the one asked for;
  the marketplace from the host of ``url`` (else ``input``);
- ``price`` / ``listPrice`` as ``{"value": number, "currency": "$"}``. The currency is usually the
  storefront's *symbol*, and "$" is shared by amazon.com and amazon.ca, so a bare "$" resolves to
  the marketplace's currency; an ISO code or an unambiguous symbol wins. Plain numbers and money
  texts are accepted too; ``dealPrice`` (what a buyer pays now) wins over ``price``; a range
  (``priceRange``, ``{"min", "max"}`` or "10.99 - 15.99") gives its lowest bound;
- ``inStock`` (bool), else ``inStockText`` read as availability text;
- ``stars`` and ``reviewsCount`` (numbers, or texts such as "4.4 out of 5 stars");
- ``bestsellerRanks`` ``[{rank, category}]`` in page order (main category first); a BSR text is
  also accepted;
- ``breadCrumbs``: one string joined by " U+203A " (">" accepted), or a list;
- ``seller`` ``{name, id, url}`` (or a plain name, or ``sellerName``) is the Buy Box seller;
  ``shipsFrom`` (or ``fulfilledBy``) "Amazon" makes a third-party offer FBA; ``isPrime`` if any;
- listing: ``title``, ``brand`` (else the "Visit the X Store" text of ``visitStoreLink``),
  ``features``, ``description``, ``highResolutionImages`` (else ``thumbnailImage``),
  ``videosCount`` (else the length of ``videos``).

A page that could not be scraped comes back as ``{url, asin, input, error, errorDescription}``
(Apify's ``#error``/``#debug`` convention is read too): "NOT_FOUND"/404 → not found, captcha or
robot/blocked → blocked, anything else → error. An item without a title that carries only an
error message is judged by that message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.product.apify.adapters.base import (
    asin_of,
    brand_from_byline,
    content_status,
    currency_of,
    failure_of,
    fulfillment_of,
    marketplace_of,
    status_code_of,
)
from services.product.apify.client import decode_items
from services.product.apify.item import BsrEntry, CrawlStatus, ListingContent, ParsedItem
from services.product.apify.parsing import (
    Money,
    bsr_entries,
    clean_text,
    clean_texts,
    detect_currency,
    parse_availability,
    parse_bsr,
    parse_count,
    parse_money,
    parse_rating,
)

_CRUMB_SEPARATOR = "\u203a"


class JungleeAdapter:
    """Reads ``junglee/amazon-crawler`` items."""

    actor_id = "junglee/amazon-crawler"

    def build_input(self, urls: Sequence[str]) -> dict[str, Any]:
        """One run for the whole batch; each product URL yields exactly one item."""
        return {
            "categoryOrProductUrls": [{"url": url} for url in urls],
            "maxItemsPerStartUrl": 1,
            "proxyCountry": "AUTO_SELECT_PROXY_COUNTRY",
        }

    def decode_page(self, body: bytes) -> list[Any]:
        """A dataset page's items as mappings."""
        return decode_items(body)

    def parse(self, item: Mapping[str, Any]) -> ParsedItem | None:
        """The normalised item; None when no field names an ASIN."""
        requested = _requested_url(item.get("input"))
        url = item.get("url")
        asin = asin_of(requested, item.get("originalAsin"), item.get("asin"), url)
        if asin is None:
            return None
        marketplace = marketplace_of(url, requested)
        title = clean_text(item.get("title"))
        failure = _failure(item, title)
        if failure is not None:
            status, error = failure
            return ParsedItem(asin, marketplace, status, error=error)

        default = currency_of(marketplace)
        # A deal price is what a buyer pays now; a range (variations) gives its lowest bound.
        deal_price = _money(item.get("dealPrice"), default)
        shown = (
            deal_price
            or _money(item.get("price"), default)
            or _money(item.get("priceRange"), default)
        )
        listed = _money(item.get("listPrice"), default)
        price = shown.amount if shown else None
        availability = clean_text(item.get("inStockText"))
        in_stock = parse_availability(item.get("inStock"))
        if in_stock is None:
            in_stock = parse_availability(availability)
        seller = _seller(item)
        bsr = _bsr(item.get("bestsellerRanks"))
        status, missing = content_status(title, price, in_stock, bsr)
        return ParsedItem(
            asin=asin,
            marketplace=marketplace,
            status=status,
            currency=next((m.currency for m in (shown, listed) if m and m.currency), default),
            price=price,
            list_price=listed.amount if listed else None,
            # The item has no deal flag of its own: a deal price shown is the only sign.
            deal=True if deal_price else None,
            buybox_price=price,
            buybox_seller=seller,
            fulfillment=fulfillment_of(
                seller, clean_text(item.get("shipsFrom")) or clean_text(item.get("fulfilledBy"))
            ),
            is_prime=_flag(item, "isPrime", "prime"),
            availability=availability,
            in_stock=in_stock,
            rating=parse_rating(item.get("stars")),
            review_count=parse_count(item.get("reviewsCount")),
            bsr=bsr,
            listing=_listing(item, title),
            error=missing,
        )


def _requested_url(value: Any) -> Any:
    # ``input`` echoes the start URL, either as the URL or as the request object.
    return value.get("url") if isinstance(value, Mapping) else value


def _failure(item: Mapping[str, Any], title: str | None) -> tuple[CrawlStatus, str] | None:
    error = item.get("error") or item.get("#error")
    description = clean_text(item.get("errorDescription")) or _debug_message(item.get("#debug"))
    if not error and (title is not None or description is None):
        return None
    label = clean_text(error) if isinstance(error, str) else None
    message = " ".join(part for part in (label, description) if part) or "scrape failed"
    code = status_code_of(item.get("statusCode"))
    return failure_of(code, message) or CrawlStatus.ERROR, message


def _debug_message(debug: Any) -> str | None:
    if not isinstance(debug, Mapping):
        return None
    return clean_text(debug.get("errorMessage")) or clean_text(debug.get("message"))


def _money(value: Any, default: str | None) -> Money | None:
    symbol: Any = None
    if isinstance(value, Mapping):
        symbol = value.get("currency")
        # {"value": 12.5} or, for a range, {"min": 10.99, "max": 15.99} / {"value": "10 - 15"}.
        value = next(
            (value.get(k) for k in ("value", "min", "from", "low") if value.get(k) is not None),
            None,
        )
    money = parse_money(value, default)
    if money is None or money.amount <= 0:
        return None
    if isinstance(symbol, str) and symbol.strip():
        return Money(money.amount, detect_currency(symbol.strip(), default))
    return money


def _seller(item: Mapping[str, Any]) -> str | None:
    seller = item.get("seller")
    if isinstance(seller, Mapping):
        return clean_text(seller.get("name"))
    return clean_text(seller) or clean_text(item.get("sellerName"))


def _flag(item: Mapping[str, Any], *keys: str) -> bool | None:
    for key in keys:
        value = item.get(key)
        if isinstance(value, bool):
            return value
    return None


def _bsr(value: Any) -> tuple[BsrEntry, ...]:
    if isinstance(value, str):
        return parse_bsr(value)
    if not isinstance(value, list):
        return ()
    pairs = [(e.get("rank"), e.get("category")) for e in value if isinstance(e, Mapping)]
    return bsr_entries(pairs)


def _category_path(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return clean_texts(value)
    text = clean_text(value)
    if text is None:
        return ()
    separator = _CRUMB_SEPARATOR if _CRUMB_SEPARATOR in text else ">"
    return clean_texts(text.split(separator))


def _images(item: Mapping[str, Any]) -> tuple[str, ...]:
    images = clean_texts(item.get("highResolutionImages"), dedupe=True)
    if images:
        return images
    thumbnail = clean_text(item.get("thumbnailImage"))
    return (thumbnail,) if thumbnail else ()


def _video_count(item: Mapping[str, Any]) -> int:
    count = parse_count(item.get("videosCount"))
    if count is not None:
        return count
    videos = item.get("videos")
    return len(videos) if isinstance(videos, list) else 0


def _listing(item: Mapping[str, Any], title: str | None) -> ListingContent:
    store_link = item.get("visitStoreLink")
    byline = store_link.get("text") if isinstance(store_link, Mapping) else store_link
    return ListingContent(
        title=title,
        brand=clean_text(item.get("brand")) or brand_from_byline(byline),
        bullets=clean_texts(item.get("features")),
        description=clean_text(item.get("description"), strip_tags=True),
        images=_images(item),
        video_count=_video_count(item),
        category_path=_category_path(item.get("breadCrumbs")),
    )
