"""Items in each actor's output format: the shape our adapters parse."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from services.product.marketplaces import Marketplace, product_url
from simulator.catalog import ProductState, product_state, simulated_day
from simulator.formats import (
    BREADCRUMB_SEPARATOR,
    Omission,
    axesso_blocked,
    axesso_item,
    axesso_not_found,
    junglee_error,
    junglee_item,
)

FIXTURE = (
    Path(__file__).resolve().parents[2] / "fixtures/apify/axesso_product_details_B0D2XRXNGY.json"
)
BSR_TEXT = re.compile(r"^#[\d,]+ in (.+?) \(See Top 100 in \1\)( #[\d,]+ in [^#]+){1,2}$")
TODAY = simulated_day()


def found(asin: str = "B0FORMAT01", marketplace: Marketplace = Marketplace.US) -> ProductState:
    for day in range(TODAY, TODAY + 30):
        state = product_state(0, marketplace, asin, day, not_found_share=0.0)
        if state is not None and state.in_stock:
            return state
    raise AssertionError("no in-stock day in a month")


def detail(item: dict[str, Any], name: str) -> str | None:
    return next((d["value"] for d in item["productDetails"] if d["name"] == name), None)


def test_axesso_item_has_the_real_items_keys_in_order() -> None:
    real = json.loads(FIXTURE.read_text())[0]
    assert list(axesso_item(found(), "https://www.amazon.com/dp/B0FORMAT01")) == list(real)


def test_axesso_item_reads_like_the_real_one() -> None:
    state = found()
    item = axesso_item(state, "https://www.amazon.com/dp/B0FORMAT01")
    assert (item["statusCode"], item["statusMessage"]) == (200, "FOUND")
    assert item["url"] == "https://www.amazon.com/dp/B0FORMAT01"
    assert item["asin"] == "B0FORMAT01"
    assert item["manufacturer"] == f"Visit the {state.profile.brand} Store"
    assert re.fullmatch(r"[1-5]\.\d out of 5 stars", item["productRating"])
    assert isinstance(item["countReview"], int)
    assert isinstance(item["price"], float)
    assert item["aboutProduct"][0] == {"name": "Brand", "value": state.profile.brand}
    assert [c["name"] for c in item["categoriesExtended"]] == [
        n.name for n in state.profile.kind.path
    ]
    bsr = detail(item, "Best Sellers Rank")
    assert bsr is not None and BSR_TEXT.match(bsr), bsr
    assert (
        item["warehouseAvailability"] in ("In Stock",)
        or "left in stock" in item["warehouseAvailability"]
    )
    assert all(url.startswith("https://m.media-amazon.com/") for url in item["imageUrlList"])
    assert item["prime"] == (state.seller is not None and state.seller.amazon_fulfils)


def test_axesso_out_of_stock_has_no_price_and_no_seller() -> None:
    for day in range(TODAY, TODAY + 120):
        state = product_state(0, Marketplace.US, "B0FORMAT02", day, 0.0)
        if state is not None and not state.in_stock:
            item = axesso_item(state, "u")
            assert item["warehouseAvailability"] == "Currently unavailable."
            assert item["price"] is None and item["soldBy"] is None and not item["prime"]
            return
    pytest.fail("no stock-out in 120 days")


def test_axesso_error_items() -> None:
    assert axesso_not_found("u", "B0X") == {
        "statusCode": 404,
        "statusMessage": "NOT_FOUND",
        "url": "u",
        "asin": "B0X",
    }
    assert axesso_blocked("u", "B0X")["statusCode"] == 503
    assert axesso_blocked("u", "B0X")["statusMessage"] == "CAPTCHA"


@pytest.mark.parametrize(
    ("omission", "check"),
    [
        (Omission.PRICE, lambda item: item["price"] is None),
        (Omission.TITLE, lambda item: item["title"] is None),
        (Omission.BSR, lambda item: detail(item, "Best Sellers Rank") is None),
    ],
)
def test_axesso_missing_fields(omission: Omission, check: Any) -> None:
    complete = axesso_item(found(), "u")
    assert not check(complete)
    assert check(axesso_item(found(), "u", omission))


def test_junglee_item_shape() -> None:
    state = found("B0FORMAT03", Marketplace.DE)
    item = junglee_item(state, "https://www.amazon.de/dp/B0FORMAT03")
    assert item["asin"] == "B0FORMAT03"
    assert item["url"] == "https://www.amazon.de/dp/B0FORMAT03"
    assert item["price"] == {"value": state.price, "currency": "€"}
    assert isinstance(item["stars"], float) and isinstance(item["reviewsCount"], int)
    assert item["inStock"] is True
    assert item["breadCrumbs"].split(BREADCRUMB_SEPARATOR) == [
        n.name for n in state.profile.kind.path
    ]
    ranks = item["bestsellerRanks"]
    assert ranks[0]["category"] == state.profile.kind.department
    assert [r["rank"] for r in ranks] == [rank for rank, _ in state.bsr]
    assert item["brand"] == state.profile.brand
    assert item["features"] == list(state.bullets)
    assert item["seller"]["name"] == state.seller.name  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("omission", "field", "empty"),
    [
        (Omission.PRICE, "price", None),
        (Omission.TITLE, "title", None),
        (Omission.BSR, "bestsellerRanks", []),
    ],
)
def test_junglee_missing_fields(omission: Omission, field: str, empty: object) -> None:
    assert junglee_item(found(), "u")[field] != empty
    assert junglee_item(found(), "u", omission)[field] == empty


@pytest.mark.parametrize("marketplace", list(Marketplace))
def test_the_products_adapters_read_every_simulated_item(marketplace: Marketplace) -> None:
    """Contract with services/product/apify/adapters: what we emit is what they parse."""
    from services.product.apify.adapters import AxessoAdapter, JungleeAdapter
    from services.product.apify.item import CrawlStatus

    axesso, junglee = AxessoAdapter(), JungleeAdapter()
    statuses = set()
    for i in range(60):
        asin = f"B0ADAPT{i:03d}"
        url = product_url(marketplace, asin)
        state = product_state(0, marketplace, asin, TODAY)
        if state is None:
            a = axesso.parse(axesso_not_found(url, asin))
            j = junglee.parse(junglee_error(url, asin, "NOT_FOUND", "Product page returned 404"))
            assert a is not None and j is not None
            assert a.status is j.status is CrawlStatus.NOT_FOUND
            continue
        for parsed, item in (
            (axesso.parse(axesso_item(state, url)), "axesso"),
            (junglee.parse(junglee_item(state, url)), "junglee"),
        ):
            assert parsed is not None, item
            assert (parsed.asin, parsed.marketplace) == (asin, marketplace)
            assert parsed.currency == state.currency
            assert parsed.in_stock is state.in_stock
            assert parsed.review_count == state.review_count
            assert parsed.rating is not None and float(parsed.rating) == state.rating
            assert [(b.rank, b.category) for b in parsed.bsr] == list(state.bsr), item
            assert parsed.listing is not None
            assert parsed.listing.title == state.title
            assert parsed.listing.brand == state.profile.brand
            assert list(parsed.listing.category_path) == [n.name for n in state.profile.kind.path]
            if state.in_stock:
                assert parsed.status is CrawlStatus.OK, item
                assert parsed.price is not None and float(parsed.price) == state.price
                assert parsed.buybox_seller == state.seller.name  # type: ignore[union-attr]
            statuses.add(parsed.status)
        blocked = axesso.parse(axesso_blocked(url, asin))
        assert blocked is not None and blocked.status is CrawlStatus.BLOCKED
    assert CrawlStatus.OK in statuses
