"""Adapter for ``axesso_data/amazon-product-details-scraper``.

Fields read (see the real item in ``tests/fixtures/apify/``):

- ``url`` (the requested product URL: ASIN and marketplace), ``asin`` as fallback;
- ``statusCode`` / ``statusMessage``: 404 or "NOT_FOUND"/"PRODUCT_NOT_FOUND" → not found;
  403/429/503 or a message about a captcha, robot check or block → blocked; any other non-2xx →
  error;
- ``dealPrice`` when positive (the price a buyer pays now), else ``price`` (the Buy Box price, a
  number or money text), else ``priceRange`` (lowest bound); ``retailPrice`` (list price; 0
  means none); ``deal`` (the page marks the price as a limited-time deal; a ``dealPrice`` is one
  too);
- ``soldBy`` (Buy Box seller), ``fulfilledBy`` (Amazon → FBA for a third-party seller), ``prime``;
- ``warehouseAvailability`` (availability text → in stock);
- ``productRating`` ("4.4 out of 5 stars") and ``countReview``, with the "Customer Reviews" entry
  of ``productDetails`` as fallback;
- the Best Sellers Rank entry of ``productDetails`` (or ``productSpecification``) under any
  storefront's label ("Amazon Bestsellers Rank", "Amazon Bestseller-Rang", …): a text holding
  every category's rank, or a structured ``[{rank, category}]`` list;
- listing: ``title``, brand from ``aboutProduct`` "Brand" (else the ``manufacturer`` byline,
  "Visit the X Store" → X), ``features`` (bullets), ``productDescription``, ``imageUrlList``,
  ``videoeUrlList`` (the typo is the actor's), ``categoriesExtended`` names (category path).

An item without title, price (unless unavailable) or BSR is partial: detection compares only OK
pages, so a missing field must never stand in for a real value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

import msgspec

from services.product.apify.adapters.base import (
    asin_of,
    brand_from_byline,
    canonical_of,
    content_status,
    currency_of,
    failure_of,
    fulfillment_of,
    marketplace_of,
    status_code_of,
)
from services.product.apify.client import decode_items
from services.product.apify.item import BsrEntry, ListingContent, ParsedItem
from services.product.apify.parsing import (
    Money,
    bsr_entries,
    clean_text,
    clean_texts,
    parse_availability,
    parse_bsr,
    parse_count,
    parse_money,
    parse_rating,
)
from services.product.marketplaces import Marketplace

_BRAND_NAMES = ("brand", "brand name", "marke", "marque", "marca", "ブランド")
# Compared as letters only (``_label_key``): "Best Sellers Rank", "Best-Sellers Rank",
# "Amazon Bestsellers Rank", "Amazon Best Sellers Rank :" all read the same.
_BSR_NAMES = frozenset(
    {
        "bestsellersrank",
        "bestsellerrank",
        "amazonbestsellersrank",
        "amazonbestsellerrank",
        "amazonbestsellerrang",
        "bestsellerrang",
        "classementdesmeilleuresventesdamazon",
        "classementdesmeilleuresventes",
        "posizionenellaclassificabestsellerdiamazon",
        "posizionenellaclassificabestseller",
        "clasificaciónenlosmásvendidosdeamazon",
        "clasificaciónenlosmásvendidos",
        "amazon売れ筋ランキング",
        "売れ筋ランキング",
    }
)
_NON_LETTERS = re.compile(r"[\W_]+")
_REVIEW_NAMES = (
    "customer reviews",
    "kundenrezensionen",
    "commentaires client",
    "カスタマーレビュー",
)
_RATINGS_COUNT = re.compile(
    r"(\d[\d.,\s]*)\s*(?:global\s+)?(?:ratings?|reviews?|sternebewertungen|bewertungen"
    r"|évaluations|valutazioni|valoraciones|個の評価|件のカスタマーレビュー)",
    re.IGNORECASE,
)


class AxessoItem(msgspec.Struct, rename="camel", gc=False):
    """The fields of an axesso item this adapter reads, each as the JSON holds it (any type).

    A dataset page is decoded straight into these: msgspec skips the rest of a ~3.4 KB item
    (reviews, variations, shipping texts, ...) without making Python objects of it, and the
    parser reads attributes instead of looking keys up. A field the item lacks is None, as
    ``dict.get`` gave. gc=False: decoded JSON holds no reference back to the item.
    """

    url: Any = None
    asin: Any = None
    status_code: Any = None
    status_message: Any = None
    deal_price: Any = None
    price: Any = None
    price_range: Any = None
    deal: Any = None
    retail_price: Any = None
    warehouse_availability: Any = None
    sold_by: Any = None
    fulfilled_by: Any = None
    prime: Any = None
    product_rating: Any = None
    count_review: Any = None
    product_details: Any = None
    product_specification: Any = None
    about_product: Any = None
    manufacturer: Any = None
    categories_extended: Any = None
    title: Any = None
    features: Any = None
    product_description: Any = None
    image_url_list: Any = None
    videoe_url_list: Any = None  # the actor's typo
    video_url_list: Any = None


# (attribute, JSON key) of each field, for items given as mappings.
_FIELDS = tuple((f.name, f.encode_name) for f in msgspec.structs.fields(AxessoItem))
# A page is a list of items (a single item is read as a page of one, as apify-client does).
_PAGE = msgspec.json.Decoder(list[AxessoItem] | AxessoItem)


def _from_mapping(item: Mapping[str, Any]) -> AxessoItem:
    # Not a mapping (a stray string or list): AttributeError, as reading it as a dict raised.
    return AxessoItem(**{name: item.get(key) for name, key in _FIELDS})


class AxessoAdapter:
    """Reads ``axesso_data/amazon-product-details-scraper`` items."""

    actor_id = "axesso_data/amazon-product-details-scraper"

    def build_input(self, urls: Sequence[str]) -> dict[str, Any]:
        """One run for the whole batch: the actor takes a plain list of product URLs."""
        return {"urls": list(urls)}

    def decode_page(self, body: bytes) -> list[Any]:
        """A dataset page's items, each an ``AxessoItem``; a page holding anything but JSON
        objects is decoded as any actor's (``decode_items``) and its items read as mappings."""
        try:
            page = _PAGE.decode(body)
        except msgspec.ValidationError:
            return decode_items(body)
        return page if isinstance(page, list) else [page]

    def parse(self, item: AxessoItem | Mapping[str, Any]) -> ParsedItem | None:
        """The normalised item; None when neither the URL nor the item names an ASIN."""
        return _parse(item if isinstance(item, AxessoItem) else _from_mapping(item))


def _parse(item: AxessoItem) -> ParsedItem | None:
    url = item.url
    # The canonical URL every input uses names both at once; else each is looked for.
    canonical = canonical_of(url) if isinstance(url, str) else None
    asin: str | None
    marketplace: Marketplace | None
    if canonical is not None:
        asin, marketplace = canonical
    else:
        asin = asin_of(url, item.asin)
        if asin is None:
            return None
        marketplace = marketplace_of(url)
    code = status_code_of(item.status_code)
    message = clean_text(item.status_message)
    failure = failure_of(code, message)
    if failure is not None:
        error = " ".join(part for part in (str(code or ""), message or "") if part)
        return ParsedItem(asin, marketplace, failure, error=error or failure.value)

    currency = currency_of(marketplace)
    # A deal price is what a buyer pays now; "price" may then still show the regular one.
    deal_price = _positive(parse_money(item.deal_price, currency))
    shown = (
        deal_price
        or _positive(parse_money(item.price, currency))
        or _positive(parse_money(item.price_range, currency))
    )
    flag = item.deal
    retail = _positive(parse_money(item.retail_price, currency))
    price = shown.amount if shown else None
    availability = clean_text(item.warehouse_availability)
    in_stock = parse_availability(availability)
    seller = clean_text(item.sold_by)
    listing = _listing(item)
    bsr = _bsr(item)
    status, missing = content_status(listing.title, price, in_stock, bsr)
    # The currency a price shows, else the list price's, else the marketplace's.
    if shown is not None and shown.currency:
        currency = shown.currency
    elif retail is not None and retail.currency:
        currency = retail.currency
    return ParsedItem(
        asin=asin,
        marketplace=marketplace,
        status=status,
        currency=currency,
        price=price,
        list_price=retail.amount if retail else None,
        deal=True if deal_price else flag if isinstance(flag, bool) else None,
        buybox_price=price,
        buybox_seller=seller,
        fulfillment=fulfillment_of(seller, clean_text(item.fulfilled_by)),
        is_prime=item.prime if isinstance(item.prime, bool) else None,
        availability=availability,
        in_stock=in_stock,
        rating=_rating(item),
        review_count=_review_count(item),
        bsr=bsr,
        listing=listing,
        error=missing,
    )


def _positive(money: Money | None) -> Money | None:
    # Axesso writes 0 for "no such price"; Amazon never sells for nothing.
    return money if money is not None and money.amount > 0 else None


def _label_key(name: str) -> str:
    return _NON_LETTERS.sub("", name.casefold())


@lru_cache(maxsize=4096)
def _labels(raw: str) -> tuple[str, str] | None:
    """A ``{name, value}`` entry's name as compared: (plain, letters only); None when empty.

    The same few dozen names repeat in every item of a run, so each is cleaned once.
    """
    name = clean_text(raw)
    if name is None:
        return None
    return name.rstrip(" :").casefold(), _label_key(name)


def _named(
    lists: tuple[Any, ...],
    names: Sequence[str] | frozenset[str],
    *,
    by_letters: bool = False,
) -> Any:
    """The value of the first ``{name, value}`` entry called one of ``names`` in the lists."""
    for entries in lists:
        if not isinstance(entries, list):
            continue
        for entry in entries:
            # A dict is a Mapping: skip the slower ABC check for what JSON gives.
            if type(entry) is not dict and not isinstance(entry, Mapping):
                continue
            raw = entry.get("name")
            labels = _labels(raw) if isinstance(raw, str) else None
            if labels is None:
                continue
            if labels[1 if by_letters else 0] in names:
                return entry.get("value")
    return None


def _rating(item: AxessoItem) -> Decimal | None:
    rating = parse_rating(item.product_rating)
    if rating is None:
        rating = parse_rating(_named((item.product_details,), _REVIEW_NAMES))
    return rating


def _review_count(item: AxessoItem) -> int | None:
    count = parse_count(item.count_review)
    if count is not None:
        return count
    text = clean_text(_named((item.product_details,), _REVIEW_NAMES))
    match = _RATINGS_COUNT.search(text) if text else None
    return parse_count(match.group(1)) if match else None


def _bsr(item: AxessoItem) -> tuple[BsrEntry, ...]:
    value = _named((item.product_details, item.product_specification), _BSR_NAMES, by_letters=True)
    if isinstance(value, list):
        # Structured: [{rank, category}] (as junglee writes it), or a list of text lines.
        pairs = [(v.get("rank"), v.get("category")) for v in value if isinstance(v, Mapping)]
        if pairs:
            return bsr_entries(pairs)
        value = " ".join(v for v in value if isinstance(v, str))
    return parse_bsr(value)


def _brand(item: AxessoItem) -> str | None:
    named = _named(
        (item.about_product, item.product_details, item.product_specification), _BRAND_NAMES
    )
    return clean_text(named) or brand_from_byline(item.manufacturer)


def _category_path(item: AxessoItem) -> tuple[str, ...]:
    nodes = item.categories_extended
    if not isinstance(nodes, list):
        return ()
    # The non-empty cleaned names, in order: what clean_texts gives for the list of names.
    return clean_texts(
        [node.get("name") for node in nodes if type(node) is dict or isinstance(node, Mapping)]
    )


def _listing(item: AxessoItem) -> ListingContent:
    videos = item.videoe_url_list or item.video_url_list
    return ListingContent(
        title=clean_text(item.title),
        brand=_brand(item),
        bullets=clean_texts(item.features),
        description=clean_text(item.product_description, strip_tags=True),
        images=clean_texts(item.image_url_list, dedupe=True),
        video_count=len(clean_texts(videos, dedupe=True)),
        category_path=_category_path(item),
    )
