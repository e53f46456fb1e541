"""Rendering a product state as the dataset item each Apify actor would push.

``axesso_data/amazon-product-details-scraper`` — the same keys, in the same order, as the real
item in ``shared/fixtures/apify/``: the rating is text ("4.4 out of 5 stars"), the BSR exists only
as text in the ``productDetails`` entry "Best Sellers Rank", the brand is in ``aboutProduct``, the
category path in ``categoriesExtended``; prices are floats in the marketplace's currency. As axesso
does, ``retailPrice`` is 0.0 when the page shows no list price. Out of stock: ``price`` null, no
seller, ``warehouseAvailability`` "Currently unavailable.". Not found: ``statusCode`` 404,
``statusMessage`` "NOT_FOUND"; blocked: ``statusCode`` 503, ``statusMessage`` "CAPTCHA"; both keep
only ``url`` and ``asin``.

``junglee/amazon-crawler`` - modelled on the actor's README and published sample items (no real
item was at hand, so these are assumptions): ``price`` and ``listPrice`` are
``{"value": float, "currency": symbol}`` with the storefront's *symbol* ("$", "£", "€", "￥"; the
Canadian store shows "$" too, so the currency must come from the marketplace), ``stars`` a float,
``reviewsCount`` an int, ``breadCrumbs`` one string joined by ``BREADCRUMB_SEPARATOR`` (U+203A
with a space each side, as on the page), ``bestsellerRanks`` a list of ``{rank, category, url}``
with the main category first, ``inStock`` / ``inStockText``, ``seller`` ``{id, name, url}`` (null
without a Buy Box) and, an assumption of ours, ``shipsFrom`` ("Amazon" when Amazon fulfils, else
the seller's name). A page that could not be scraped becomes
``{"url", "asin", "input", "error", "errorDescription"}`` with ``error`` "NOT_FOUND" or "CAPTCHA".

Text stays English on every storefront; money inside text uses the storefront's number format.
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from functools import lru_cache
from typing import Any

from services.product.marketplaces import MARKETPLACES, Marketplace
from simulator.catalog import ProductState
from simulator.vocabulary import COUNTRY_NAME, MONTHS, WEEKDAYS, ProductType

IMAGE_BASE = "https://m.media-amazon.com/images/I/"
VIDEO_BASE = "https://m.media-amazon.com/images/S/vse-vms-transcoding-artifact-us-east-1-prod/"
BREADCRUMB_SEPARATOR = " \u203a "
_FBM_SHIPPING = {
    Marketplace.US: 4.99,
    Marketplace.UK: 3.99,
    Marketplace.DE: 4.49,
    Marketplace.FR: 4.49,
    Marketplace.IT: 4.49,
    Marketplace.ES: 4.49,
    Marketplace.CA: 6.99,
    Marketplace.JP: 500.0,
}
_FREE_OVER = {
    Marketplace.US: 35.0,
    Marketplace.UK: 25.0,
    Marketplace.CA: 35.0,
    Marketplace.JP: 2000.0,
}


class Omission(Enum):
    """A field a scraped page came back without (the missing-fields fault)."""

    NONE = "none"
    PRICE = "price"
    BSR = "bsr"
    TITLE = "title"


def money(amount: float, marketplace: Marketplace) -> str:
    """An amount written the way the storefront writes it: "$1,234.56", "1.234,56 €", "￥2,349"."""
    if marketplace is Marketplace.JP:
        return f"￥{int(amount):,}"
    text = f"{amount:,.2f}"
    if marketplace in (Marketplace.US, Marketplace.CA):
        return f"${text}"
    if marketplace is Marketplace.UK:
        return f"£{text}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".") + " €"


def _delivery_date(day: int) -> str:
    when = date.fromordinal(day)
    return f"{WEEKDAYS[when.weekday()]}, {MONTHS[when.month - 1]} {when.day}"


def _availability(state: ProductState) -> str:
    if not state.in_stock:
        return "Currently unavailable."
    if state.stock_left is not None:
        return f"Only {state.stock_left} left in stock - order soon."
    return "In Stock"


@lru_cache(maxsize=256)
def _shipping_for(day: int, marketplace: Marketplace, amazon_fulfils: bool) -> tuple[float, str]:
    # Cached: a page of a thousand items shares a handful of (day, storefront, fulfilment) keys.
    if amazon_fulfils:
        over = money(_FREE_OVER.get(marketplace, 29.0), marketplace)
        return 0.0, (
            f"FREE delivery {_delivery_date(day + 3)} on orders shipped by Amazon over {over} "
            f"Or Prime members get FREE delivery {_delivery_date(day + 1)}. Join Prime"
        )
    fee = _FBM_SHIPPING[marketplace]
    return fee, f"{money(fee, marketplace)} delivery {_delivery_date(day + 5)}"


def _shipping(state: ProductState) -> tuple[float, str | None]:
    seller = state.seller
    if seller is None:
        return 0.0, None
    return _shipping_for(
        state.day + state.profile.mix % 2, state.marketplace, seller.amazon_fulfils
    )


def _past_sales(rank: int) -> str | None:
    for limit, text in ((200, "10K+"), (2_000, "1K+"), (8_000, "500+"), (40_000, "100+")):
        if rank < limit:
            return f"{text} bought in past month"
    return None


def _bsr_text(state: ProductState) -> str:
    (rank, main), *subs = state.bsr
    parts = [f"#{rank:,} in {main} (See Top 100 in {main})"]
    parts.extend(f"#{sub_rank:,} in {name}" for sub_rank, name in subs)
    return " ".join(parts)


def _saving(price: float | None, list_price: float | None) -> str | None:
    if price is None or not list_price or list_price <= price:
        return None
    return f"-{round(100 * (1 - price / list_price))}%"


@lru_cache(maxsize=64)
def _categories_extended(kind: ProductType) -> list[dict[str, str]]:
    # One shared list per product type: items are encoded right away and never mutated.
    return [
        {
            "name": node.name,
            "url": f"/{node.slug}/b/ref=dp_bc_{i}?ie=UTF8&node={node.node}",
            "node": node.node,
        }
        for i, node in enumerate(kind.path, start=1)
    ]


def axesso_item(
    state: ProductState, url: str, omission: Omission = Omission.NONE
) -> dict[str, Any]:
    """One found product as ``axesso_data/amazon-product-details-scraper`` outputs it."""
    p, seller = state.profile, state.seller
    price = None if omission is Omission.PRICE else state.price
    shipping_price, shipping_text = _shipping(state)
    rating = f"{state.rating:.1f}"
    images = [f"{IMAGE_BASE}{image}._AC_SL1500_.jpg" for image in state.images]
    details = [{"name": name, "value": value} for name, value in p.specs]
    details.append({"name": "Manufacturer", "value": p.brand})
    details.append({"name": "ASIN", "value": p.asin})
    details.append({"name": "Item model number", "value": p.model})
    details.append(
        {
            "name": "Customer Reviews",
            "value": f"{rating} {rating} out of 5 stars {state.review_count:,} ratings "
            f"{rating} out of 5 stars",
        }
    )
    if omission is not Omission.BSR:
        details.append({"name": "Best Sellers Rank", "value": _bsr_text(state)})
    details.append({"name": "Date First Available", "value": p.first_available})
    return {
        "statusCode": 200,
        "statusMessage": "FOUND",
        "url": url,
        "title": None if omission is Omission.TITLE else state.title,
        "manufacturer": f"Visit the {p.brand} Store",
        "countReview": state.review_count,
        "productRating": f"{rating} out of 5 stars",
        "asin": p.asin,
        "soldBy": seller.name if seller else None,
        "fulfilledBy": (("Amazon" if seller.amazon_fulfils else seller.name) if seller else None),
        "sellerId": seller.seller_id if seller else None,
        "warehouseAvailability": _availability(state),
        "retailPrice": state.list_price or 0.0,
        "price": price,
        "priceRange": None,
        "shippingPrice": shipping_price,
        "priceShippingInformation": shipping_text,
        "priceSaving": _saving(price, state.list_price),
        "features": list(state.bullets),
        "imageUrlList": images,
        "videoeUrlList": [
            f"{VIDEO_BASE}{video}/default.jobtemplate.hls.m3u8" for video in p.videos
        ],
        "productDescription": state.description,
        "productDetails": details,
        "minimalQuantity": "1",
        "reviews": [],
        "productSpecification": [],
        "mainImage": {
            "imageUrl": f"{IMAGE_BASE}{state.images[0]}._AC_SX679_.jpg",
            "imageResolution": "679 x 679",
        },
        "variations": [],
        "bookVariations": [],
        "categoriesExtended": _categories_extended(p.kind),
        "deliveryMessage": None,
        "importantInformation": [],
        "buyBoxUsed": None,
        "aboutProduct": [
            {"name": "Brand", "value": p.brand},
            {"name": "Color", "value": p.color},
            {"name": "Model Name", "value": f"{p.brand} {p.model}"},
        ],
        "globalReviews": [],
        "deal": state.deal,
        "prime": bool(seller and seller.amazon_fulfils),
        "used": False,
        "pastSales": _past_sales(state.bsr[0][0]),
        "reviewInsights": None,
    }


def axesso_not_found(url: str, asin: str | None) -> dict[str, Any]:
    """The axesso item of a product page that does not exist."""
    return {"statusCode": 404, "statusMessage": "NOT_FOUND", "url": url, "asin": asin}


def axesso_blocked(url: str, asin: str | None) -> dict[str, Any]:
    """The axesso item of a page Amazon answered with a robot check."""
    return {"statusCode": 503, "statusMessage": "CAPTCHA", "url": url, "asin": asin}


def _stars_breakdown(rating: float) -> dict[str, float]:
    five = min(0.9, max(0.05, (rating - 2.5) * 0.36))
    one = max(0.01, (5.0 - rating) * 0.06)
    rest = 1.0 - five - one
    four, three = rest * 0.55, rest * 0.28
    return {
        "5star": round(five, 2),
        "4star": round(four, 2),
        "3star": round(three, 2),
        "2star": round(rest - four - three, 2),
        "1star": round(one, 2),
    }


def junglee_item(
    state: ProductState, url: str, omission: Omission = Omission.NONE
) -> dict[str, Any]:
    """One found product as ``junglee/amazon-crawler`` outputs it."""
    p, seller, mp = state.profile, state.seller, state.marketplace
    domain = MARKETPLACES[mp].domain
    symbol = state.symbol
    price = None if omission is Omission.PRICE else state.price
    shipping_price, shipping_text = _shipping(state)
    store = p.brand.replace(" ", "")
    return {
        "title": None if omission is Omission.TITLE else state.title,
        "url": f"https://www.{domain}/dp/{p.asin}",
        "asin": p.asin,
        "originalAsin": p.asin,
        "price": None if price is None else {"value": price, "currency": symbol},
        "listPrice": (
            {"value": state.list_price, "currency": symbol} if state.list_price else None
        ),
        "shippingPrice": {"value": shipping_price, "currency": symbol},
        "inStock": state.in_stock,
        "inStockText": _availability(state),
        "brand": p.brand,
        "author": None,
        "stars": state.rating,
        "starsBreakdown": _stars_breakdown(state.rating),
        "reviewsCount": state.review_count,
        "answeredQuestions": state.review_count // 40,
        "breadCrumbs": BREADCRUMB_SEPARATOR.join(node.name for node in p.kind.path),
        "thumbnailImage": f"{IMAGE_BASE}{state.images[0]}._AC_SX466_.jpg",
        "galleryThumbnails": [f"{IMAGE_BASE}{image}._AC_US40_.jpg" for image in state.images],
        "highResolutionImages": [f"{IMAGE_BASE}{image}._AC_SL1500_.jpg" for image in state.images],
        "videosCount": len(p.videos),
        "description": state.description,
        "features": list(state.bullets),
        "attributes": [{"key": name, "value": value} for name, value in p.specs]
        + [
            {"key": "Item model number", "value": p.model},
            {"key": "Date First Available", "value": p.first_available},
        ],
        "productOverview": [
            {"key": "Brand", "value": p.brand},
            {"key": "Color", "value": p.color},
        ],
        "variantAsins": [],
        "reviewsLink": f"https://www.{domain}/product-reviews/{p.asin}",
        "hasReviews": state.review_count > 0,
        "delivery": shipping_text,
        "fastestDelivery": None,
        "returnPolicy": "Eligible for Return, Refund or Replacement within 30 days of receipt",
        "seller": (
            {
                "id": seller.seller_id,
                "name": seller.name,
                "url": f"https://www.{domain}/sp?seller={seller.seller_id}",
            }
            if seller
            else None
        ),
        "shipsFrom": (("Amazon" if seller.amazon_fulfils else seller.name) if seller else None),
        "bestsellerRanks": []
        if omission is Omission.BSR
        else [
            {
                "rank": rank,
                "category": category,
                "url": f"https://www.{domain}/gp/bestsellers/{node.slug.lower()}",
            }
            for (rank, category), node in zip(
                state.bsr, (p.kind.path[0], *p.kind.path[-len(state.bsr) + 1 :]), strict=False
            )
        ],
        "isAmazonChoice": state.bsr[-1][0] <= 3,
        "monthlyPurchaseVolume": _past_sales(state.bsr[0][0]),
        "visitStoreLink": {
            "text": f"Visit the {p.brand} Store",
            "url": f"https://www.{domain}/stores/{store}/page/{p.upc}",
        },
        "locationText": f"Deliver to {COUNTRY_NAME[mp]}",
        "loadedCountryCode": mp.value if mp is not Marketplace.UK else "GB",
        "input": url,
    }


def junglee_error(url: str, asin: str | None, error: str, description: str) -> dict[str, Any]:
    """The junglee item of a page that could not be scraped."""
    return {"url": url, "asin": asin, "input": url, "error": error, "errorDescription": description}
