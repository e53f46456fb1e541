"""Both actor formats, normalised: the real fixture and the ugly cases."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.product.apify.adapters import ACTOR_IDS, adapter_for
from services.product.apify.item import BsrEntry, CrawlStatus, Fulfillment
from services.product.marketplaces import Marketplace

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "apify"
AXESSO = adapter_for("axesso_data/amazon-product-details-scraper")
JUNGLEE = adapter_for("junglee/amazon-crawler")


def real_item() -> dict[str, Any]:
    items: list[dict[str, Any]] = json.loads(
        (FIXTURE / "axesso_product_details_B0D2XRXNGY.json").read_text()
    )
    return items[0]


def test_real_axesso_fixture() -> None:
    item = AXESSO.parse(real_item())
    assert item is not None
    assert item.asin == "B0D2XRXNGY"
    assert item.marketplace is Marketplace.US
    assert item.status is CrawlStatus.OK
    assert item.currency == "USD"
    assert item.price == Decimal("23.49")
    assert item.buybox_price == Decimal("23.49")
    assert item.list_price == Decimal("49.99")
    assert item.rating == Decimal("4.4")
    assert item.review_count == 6687
    assert item.bsr == (BsrEntry(73, "Electronics"), BsrEntry(1, "Open-Ear Headphones"))
    assert item.in_stock is True
    assert item.buybox_seller == "AnkerDirect"
    assert item.fulfillment is Fulfillment.FBA
    assert item.is_prime is True
    assert item.listing is not None
    assert item.listing.brand == "Soundcore"
    assert item.listing.category_path == (
        "Electronics",
        "Headphones, Earbuds & Accessories",
        "Headphones & Earbuds",
        "Open-Ear Headphones",
    )
    assert len(item.listing.images) == 6
    assert item.listing.video_count == 8
    assert len(item.listing.bullets) == 6
    assert item.listing.title is not None
    assert item.listing.title.startswith("Soundcore V20i")


def test_axesso_inputs() -> None:
    urls = ["https://www.amazon.com/dp/B0D2XRXNGY"]
    assert AXESSO.build_input(urls) == {"urls": urls}
    assert JUNGLEE.build_input(urls)["categoryOrProductUrls"] == [{"url": urls[0]}]


def test_axesso_missing_price_is_partial_and_range_gives_lowest() -> None:
    raw = real_item() | {"price": None, "priceRange": None}
    item = AXESSO.parse(raw)
    assert item is not None
    assert item.status is CrawlStatus.PARTIAL
    assert item.price is None
    ranged = AXESSO.parse(real_item() | {"price": None, "priceRange": "$19.99 - $24.99"})
    assert ranged is not None
    assert ranged.price == Decimal("19.99")
    assert ranged.status is CrawlStatus.OK


def test_axesso_without_bsr_and_with_entities() -> None:
    raw = real_item() | {
        "productDetails": [],
        "title": "Tom &amp; Jerry&#39;s   Box",
        "retailPrice": 0,
    }
    item = AXESSO.parse(raw)
    assert item is not None
    assert item.bsr == ()
    assert item.list_price is None
    assert item.listing is not None
    assert item.listing.title == "Tom & Jerry's Box"


def test_axesso_german_item() -> None:
    raw = real_item() | {
        "url": "https://www.amazon.de/dp/B0D2XRXNGY",
        "productRating": "4,5 von 5 Sternen",
        "warehouseAvailability": "Derzeit nicht verfügbar.",
        "soldBy": "Amazon.de",
        "productDetails": [
            {
                "name": "Best Sellers Rank",
                "value": "Nr. 2.345 in Elektronik & Foto Nr. 7 in Kopfhörer",
            }
        ],
    }
    item = AXESSO.parse(raw)
    assert item is not None
    assert item.marketplace is Marketplace.DE
    assert item.currency == "EUR"
    assert item.rating == Decimal("4.5")
    assert item.in_stock is False
    assert item.fulfillment is Fulfillment.AMAZON
    assert item.bsr[0] == BsrEntry(2345, "Elektronik & Foto")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (
            {"statusCode": 404, "statusMessage": "NOT_FOUND", "asin": "B000000001"},
            CrawlStatus.NOT_FOUND,
        ),
        (
            {"statusCode": 503, "statusMessage": "CAPTCHA", "asin": "B000000001"},
            CrawlStatus.BLOCKED,
        ),
        (
            {"statusCode": 200, "statusMessage": "Robot check", "asin": "B000000001"},
            CrawlStatus.BLOCKED,
        ),
        (
            {
                "statusCode": 500,
                "statusMessage": "boom",
                "url": "https://www.amazon.com/dp/B000000001",
            },
            CrawlStatus.ERROR,
        ),
    ],
)
def test_axesso_failures(raw: dict[str, Any], status: CrawlStatus) -> None:
    item = AXESSO.parse(raw)
    assert item is not None
    assert item.status is status
    assert item.asin == "B000000001"


def test_items_without_any_asin_are_unattributable() -> None:
    assert AXESSO.parse({"statusCode": 200, "title": "x"}) is None
    assert JUNGLEE.parse({"title": "x"}) is None


def junglee_item(**overrides: Any) -> dict[str, Any]:
    item = {
        "title": "Soundcore V20i Open-Ear Headphones",
        "url": "https://www.amazon.co.uk/dp/B0D2XRXNGY",
        "asin": "B0D2XRXNGY",
        "brand": "Soundcore",
        "price": {"value": 21.99, "currency": "£"},
        "listPrice": {"value": 39.99, "currency": "£"},
        "inStock": True,
        "inStockText": "In stock",
        "stars": 4.4,
        "reviewsCount": 6687,
        "breadCrumbs": "Electronics \u203a Headphones \u203a Open-Ear Headphones",
        "bestsellerRanks": [
            {"rank": 80, "category": "Electronics"},
            {"rank": 2, "category": "Open-Ear Headphones"},
        ],
        "features": ["Comfort", "Sound"],
        "description": "Great",
        "highResolutionImages": ["a.jpg", "b.jpg"],
        "videosCount": 2,
        "seller": {"name": "AnkerDirect", "id": "A1"},
        "shipsFrom": "Amazon",
    }
    item.update(overrides)
    return item


def test_junglee_item() -> None:
    item = JUNGLEE.parse(junglee_item())
    assert item is not None
    assert item.status is CrawlStatus.OK
    assert item.marketplace is Marketplace.UK
    assert item.currency == "GBP"
    assert item.price == Decimal("21.99")
    assert item.list_price == Decimal("39.99")
    assert item.rating == Decimal("4.4")
    assert item.review_count == 6687
    assert item.bsr == (BsrEntry(80, "Electronics"), BsrEntry(2, "Open-Ear Headphones"))
    assert item.fulfillment is Fulfillment.FBA
    assert item.listing is not None
    assert item.listing.category_path == ("Electronics", "Headphones", "Open-Ear Headphones")
    assert item.listing.video_count == 2


def test_junglee_canadian_dollar_comes_from_the_marketplace() -> None:
    item = JUNGLEE.parse(
        junglee_item(
            url="https://www.amazon.ca/dp/B0D2XRXNGY", price={"value": 30, "currency": "$"}
        )
    )
    assert item is not None
    assert item.currency == "CAD"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("NOT_FOUND", CrawlStatus.NOT_FOUND),
        ("CAPTCHA", CrawlStatus.BLOCKED),
        ("TIMEOUT", CrawlStatus.ERROR),
    ],
)
def test_junglee_errors(error: str, status: CrawlStatus) -> None:
    raw = {"url": "https://www.amazon.com/dp/B000000001", "asin": "B000000001", "error": error}
    item = JUNGLEE.parse(raw)
    assert item is not None
    assert item.status is status


def test_junglee_missing_price_and_no_ranks() -> None:
    item = JUNGLEE.parse(junglee_item(price=None, bestsellerRanks=[]))
    assert item is not None
    assert item.status is CrawlStatus.PARTIAL
    assert item.bsr == ()


def test_unknown_actor() -> None:
    assert set(ACTOR_IDS) == {
        "axesso_data/amazon-product-details-scraper",
        "junglee/amazon-crawler",
    }
    with pytest.raises(ValueError, match="unsupported actor"):
        adapter_for("someone/else")
