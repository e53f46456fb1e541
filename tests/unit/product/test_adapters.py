"""Both actors' items, normalised: the real axesso item end to end, junglee items, ugly cases."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.product.apify.adapters import (
    ACTOR_IDS,
    ActorAdapter,
    AxessoAdapter,
    JungleeAdapter,
    adapter_for,
)
from services.product.apify.item import BsrEntry, CrawlStatus, Fulfillment, ParsedItem
from services.product.marketplaces import Marketplace

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "apify"
AXESSO_ID = "axesso_data/amazon-product-details-scraper"
JUNGLEE_ID = "junglee/amazon-crawler"
AXESSO = adapter_for(AXESSO_ID)
JUNGLEE = adapter_for(JUNGLEE_ID)
URLS = ["https://www.amazon.com/dp/B0D2XRXNGY", "https://www.amazon.de/dp/B0BZV2K7QK"]


def _load(name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return items


def axesso_item(**changes: Any) -> dict[str, Any]:
    """The real axesso item, with some fields changed."""
    return _load("axesso_product_details_B0D2XRXNGY.json")[0] | changes


def junglee_items() -> list[dict[str, Any]]:
    return _load("junglee_amazon_crawler_items.json")


def junglee_item(**changes: Any) -> dict[str, Any]:
    """The US junglee item of the fixtures, with some fields changed."""
    return junglee_items()[0] | changes


def parsed(adapter: ActorAdapter, item: dict[str, Any]) -> ParsedItem:
    result = adapter.parse(item)
    assert result is not None
    return result


# --- Registry and run inputs ---------------------------------------------------------------------


def test_the_two_actors_are_registered() -> None:
    assert ACTOR_IDS == (AXESSO_ID, JUNGLEE_ID)
    assert isinstance(AXESSO, AxessoAdapter)
    assert isinstance(JUNGLEE, JungleeAdapter)
    assert (AXESSO.actor_id, JUNGLEE.actor_id) == (AXESSO_ID, JUNGLEE_ID)


@pytest.mark.parametrize("actor_id", ["someone/else", "", "junglee/amazon-crawler "])
def test_an_unknown_actor_is_refused(actor_id: str) -> None:
    with pytest.raises(ValueError, match="Unsupported Apify actor"):
        adapter_for(actor_id)


def test_axesso_input_is_the_url_list() -> None:
    assert AXESSO.build_input(URLS) == {"urls": URLS}


def test_junglee_input_asks_one_item_per_product_url() -> None:
    assert JUNGLEE.build_input(URLS) == {
        "categoryOrProductUrls": [{"url": URLS[0]}, {"url": URLS[1]}],
        "maxItemsPerStartUrl": 1,
        "proxyCountry": "AUTO_SELECT_PROXY_COUNTRY",
    }


def test_inputs_accept_any_sequence_and_do_not_alias_it() -> None:
    urls = tuple(URLS)
    built = AXESSO.build_input(urls)
    assert built["urls"] == URLS
    assert isinstance(built["urls"], list)


# --- axesso: the real item -----------------------------------------------------------------------


def test_real_axesso_item_end_to_end() -> None:
    item = parsed(AXESSO, axesso_item())
    assert (item.asin, item.marketplace, item.status) == ("B0D2XRXNGY", Marketplace.US, "ok")
    assert item.currency == "USD"
    assert item.price == Decimal("23.49")
    assert item.buybox_price == Decimal("23.49")
    assert item.list_price == Decimal("49.99")
    assert item.buybox_seller == "AnkerDirect"
    assert item.fulfillment is Fulfillment.FBA
    assert item.is_prime is True
    assert item.availability == "In Stock"
    assert item.in_stock is True
    assert item.rating == Decimal("4.4")
    assert item.review_count == 6687
    assert item.bsr == (BsrEntry(73, "Electronics"), BsrEntry(1, "Open-Ear Headphones"))
    assert item.error is None


def test_real_axesso_item_listing() -> None:
    listing = parsed(AXESSO, axesso_item()).listing
    assert listing is not None
    assert listing.title == (
        "Soundcore V20i by Anker Open-Ear Headphones, Adjustable Ear Hooks, Ultra-Comfort, Snug "
        "Fit, Powerful Sound, Clear Calls, IP55, 36H Playtime, Bluetooth 5.4 Wireless Earbuds, "
        "Multipoint Connection"
    )
    assert listing.brand == "Soundcore"
    assert len(listing.bullets) == 6
    assert listing.bullets[0].startswith("Ultra-Comfort with Open-Ear Design:")
    assert listing.description is not None
    assert listing.description.endswith("Soundcore Sleep A30")
    assert len(listing.images) == 6
    assert listing.images[0] == "https://m.media-amazon.com/images/I/517WiAmP8qL._AC_SL1500_.jpg"
    assert listing.video_count == 8
    assert listing.category_path == (
        "Electronics",
        "Headphones, Earbuds & Accessories",
        "Headphones & Earbuds",
        "Open-Ear Headphones",
    )


# --- axesso: ugly cases --------------------------------------------------------------------------


def test_axesso_missing_price_while_in_stock_is_partial() -> None:
    item = parsed(AXESSO, axesso_item(price=None, priceRange=None))
    assert item.status is CrawlStatus.PARTIAL
    assert item.error == "missing price"
    assert item.price is None
    assert item.buybox_price is None
    assert item.rating == Decimal("4.4")  # what was read is still reported


def test_axesso_zero_price_counts_as_missing() -> None:
    item = parsed(AXESSO, axesso_item(price=0))
    assert (item.status, item.price) == (CrawlStatus.PARTIAL, None)


def test_axesso_missing_title_is_partial() -> None:
    item = parsed(AXESSO, axesso_item(title="  "))
    assert item.status is CrawlStatus.PARTIAL
    assert item.error == "missing title"
    assert item.listing is not None
    assert item.listing.title is None


def test_axesso_missing_title_and_price_names_both() -> None:
    item = parsed(AXESSO, axesso_item(title=None, price=None))
    assert (item.status, item.error) == (CrawlStatus.PARTIAL, "missing title and price")


def test_axesso_out_of_stock_without_price_is_a_good_observation() -> None:
    item = parsed(
        AXESSO,
        axesso_item(
            price=None,
            soldBy=None,
            fulfilledBy=None,
            warehouseAvailability="Currently unavailable.",
        ),
    )
    assert item.status is CrawlStatus.OK
    assert item.in_stock is False
    assert item.availability == "Currently unavailable."
    assert (item.price, item.buybox_seller, item.fulfillment) == (None, None, None)


def test_axesso_price_range_gives_the_lowest_bound() -> None:
    item = parsed(AXESSO, axesso_item(price=None, priceRange="$19.99 - $24.99"))
    assert (item.status, item.price, item.currency) == (CrawlStatus.OK, Decimal("19.99"), "USD")


@pytest.mark.parametrize("retail", [0, 0.0, None, "", "$0.00"])
def test_axesso_no_list_price(retail: Any) -> None:
    assert parsed(AXESSO, axesso_item(retailPrice=retail)).list_price is None


def test_axesso_without_bsr_is_partial() -> None:
    """Detection compares OK snapshots only: a page without its BSR must not be one."""
    details = [d for d in axesso_item()["productDetails"] if d["name"] != "Best Sellers Rank"]
    item = parsed(AXESSO, axesso_item(productDetails=details))
    assert item.bsr == ()
    assert (item.status, item.error) == (CrawlStatus.PARTIAL, "missing bsr")


def test_axesso_bsr_in_product_specification() -> None:
    spec = [{"name": "Best Sellers Rank", "value": "#9 in Sports #2 in Running Headphones"}]
    item = parsed(AXESSO, axesso_item(productDetails=[], productSpecification=spec))
    assert item.bsr == (BsrEntry(9, "Sports"), BsrEntry(2, "Running Headphones"))


def test_axesso_html_entities_are_unescaped() -> None:
    item = parsed(
        AXESSO,
        axesso_item(
            title="Tom &amp; Jerry&#39;s   Box",
            features=["Soft &amp; light", " ", "Kopfh&ouml;rer"],
            productDescription="<p>Great&nbsp;sound</p><br>Made &quot;well&quot;",
        ),
    )
    assert item.listing is not None
    assert item.listing.title == "Tom & Jerry's Box"
    assert item.listing.bullets == ("Soft & light", "Kopfhörer")
    assert item.listing.description == 'Great sound Made "well"'


@pytest.mark.parametrize(
    ("about", "manufacturer", "brand"),
    [
        ([], "Visit the Soundcore Store", "Soundcore"),
        (None, "Brand: Anker", "Anker"),
        ([], "Besuche den Soundcore-Store", "Soundcore"),
        ([], "Visitez la boutique Soundcore", "Soundcore"),
        ([], "Visita lo Store di Soundcore", "Soundcore"),
        ([], "Visita la tienda de Soundcore", "Soundcore"),
        ([], "Soundcoreのストアを表示", "Soundcore"),
        ([], "Anker", "Anker"),
        ([], None, None),
        ([{"name": "Marke", "value": "JBL"}], "Visit the Soundcore Store", "JBL"),
    ],
)
def test_axesso_brand(about: Any, manufacturer: Any, brand: str | None) -> None:
    item = parsed(AXESSO, axesso_item(aboutProduct=about, manufacturer=manufacturer))
    assert item.listing is not None
    assert item.listing.brand == brand


@pytest.mark.parametrize(
    ("sold_by", "fulfilled_by", "fulfillment"),
    [
        ("AnkerDirect", "Amazon", Fulfillment.FBA),
        ("AnkerDirect", "AnkerDirect", Fulfillment.FBM),
        ("AnkerDirect", None, Fulfillment.FBM),
        ("Amazon.com", "Amazon.com", Fulfillment.AMAZON),
        ("Amazon.co.uk", None, Fulfillment.AMAZON),
        ("Amazon EU S.à r.l.", "Amazon", Fulfillment.AMAZON),
        ("Amazonas Trading GmbH", "Amazonas Trading GmbH", Fulfillment.FBM),
        (None, "Amazon", None),
    ],
)
def test_axesso_fulfillment(sold_by: Any, fulfilled_by: Any, fulfillment: Fulfillment) -> None:
    item = parsed(AXESSO, axesso_item(soldBy=sold_by, fulfilledBy=fulfilled_by))
    assert item.fulfillment is fulfillment
    assert item.buybox_seller == sold_by


def test_axesso_german_item() -> None:
    item = parsed(
        AXESSO,
        axesso_item(
            url="https://www.amazon.de/dp/B0D2XRXNGY",
            price="1.299,00 €",
            retailPrice="1.499,00 €",
            productRating="4,5 von 5 Sternen",
            countReview="1.234",
            warehouseAvailability="Nur noch 2 auf Lager",
            soldBy="Amazon",
            productDetails=[
                {
                    "name": "Amazon Bestseller-Rang",
                    "value": "Nr. 2.345 in Elektronik & Foto (Siehe Top 100 in Elektronik & Foto)"
                    " Nr. 7 in Kopfhörer",
                }
            ],
        ),
    )
    assert item.marketplace is Marketplace.DE
    assert (item.currency, item.price, item.list_price) == (
        "EUR",
        Decimal("1299.00"),
        Decimal("1499.00"),
    )
    assert (item.rating, item.review_count, item.in_stock) == (Decimal("4.5"), 1234, True)
    assert item.fulfillment is Fulfillment.AMAZON
    assert item.bsr == (BsrEntry(2345, "Elektronik & Foto"), BsrEntry(7, "Kopfhörer"))


def test_axesso_french_item_with_float_prices() -> None:
    item = parsed(
        AXESSO,
        axesso_item(
            url="https://www.amazon.fr/dp/B0D2XRXNGY",
            price=21.9,
            productRating="4,1 sur 5 étoiles",
            warehouseAvailability="Actuellement indisponible.",
        ),
    )
    assert (item.marketplace, item.currency, item.price) == (
        Marketplace.FR,
        "EUR",
        Decimal("21.9"),
    )
    assert (item.rating, item.in_stock) == (Decimal("4.1"), False)


def test_axesso_japanese_item() -> None:
    item = parsed(
        AXESSO,
        axesso_item(
            url="https://www.amazon.co.jp/dp/B0D2XRXNGY",
            price="￥2,990",
            retailPrice=0,
            productRating="5つ星のうち4.3",
            warehouseAvailability="在庫あり。",
            productDetails=[
                {
                    "name": "Amazon 売れ筋ランキング",
                    "value": "- 1,234位家電&カメラ (の売れ筋ランキングを見る家電&カメラ)"
                    " - 5位イヤホン",
                }
            ],
        ),
    )
    assert (item.marketplace, item.currency, item.price) == (
        Marketplace.JP,
        "JPY",
        Decimal("2990"),
    )
    assert item.list_price is None
    assert (item.rating, item.in_stock) == (Decimal("4.3"), True)
    assert item.bsr == (BsrEntry(1234, "家電&カメラ"), BsrEntry(5, "イヤホン"))


def test_axesso_canadian_item_takes_cad_even_with_a_bare_dollar() -> None:
    item = parsed(AXESSO, axesso_item(url="https://www.amazon.ca/dp/B0D2XRXNGY", price="$31.99"))
    assert (item.marketplace, item.currency, item.price) == (
        Marketplace.CA,
        "CAD",
        Decimal("31.99"),
    )


def test_axesso_rating_and_count_fall_back_to_customer_reviews_detail() -> None:
    item = parsed(AXESSO, axesso_item(productRating=None, countReview=None))
    assert (item.rating, item.review_count) == (Decimal("4.4"), 6687)


def test_axesso_asin_comes_from_the_url_when_the_field_is_missing() -> None:
    item = parsed(AXESSO, axesso_item(asin=None, url="https://www.amazon.it/dp/b0d2xrxngy?psc=1"))
    assert (item.asin, item.marketplace, item.currency) == ("B0D2XRXNGY", Marketplace.IT, "EUR")


def test_axesso_item_from_an_unknown_host_keeps_its_asin() -> None:
    item = parsed(AXESSO, axesso_item(url="https://www.amazon.in/dp/B0D2XRXNGY"))
    assert (item.asin, item.marketplace, item.currency) == ("B0D2XRXNGY", None, None)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ({"statusCode": 404, "statusMessage": "NOT_FOUND"}, CrawlStatus.NOT_FOUND),
        ({"statusCode": "404", "statusMessage": None}, CrawlStatus.NOT_FOUND),
        ({"statusCode": 200, "statusMessage": "PRODUCT_NOT_FOUND"}, CrawlStatus.NOT_FOUND),
        ({"statusCode": 410, "statusMessage": "GONE"}, CrawlStatus.NOT_FOUND),
        ({"statusCode": 503, "statusMessage": "CAPTCHA"}, CrawlStatus.BLOCKED),
        ({"statusCode": 200, "statusMessage": "Robot check page"}, CrawlStatus.BLOCKED),
        ({"statusCode": 403, "statusMessage": "FORBIDDEN"}, CrawlStatus.BLOCKED),
        ({"statusCode": 429, "statusMessage": "TOO_MANY_REQUESTS"}, CrawlStatus.BLOCKED),
        ({"statusCode": None, "statusMessage": "BLOCKED"}, CrawlStatus.BLOCKED),
        ({"statusCode": 500, "statusMessage": "INTERNAL_ERROR"}, CrawlStatus.ERROR),
    ],
)
def test_axesso_failed_pages(raw: dict[str, Any], status: CrawlStatus) -> None:
    item = parsed(AXESSO, raw | {"url": "https://www.amazon.co.uk/dp/B000000001"})
    assert (item.asin, item.marketplace, item.status) == ("B000000001", Marketplace.UK, status)
    assert item.error
    assert (item.price, item.listing, item.bsr) == (None, None, ())


def test_axesso_failure_message_is_kept() -> None:
    item = parsed(AXESSO, {"statusCode": 404, "statusMessage": "NOT_FOUND", "asin": "B000000001"})
    assert (item.marketplace, item.error) == (None, "404 NOT_FOUND")


@pytest.mark.parametrize(
    "raw",
    [
        {"statusCode": 200, "title": "Something"},
        {"statusCode": 404, "statusMessage": "NOT_FOUND", "url": "https://www.amazon.com/"},
        {"asin": "not-an-asin", "url": "https://www.amazon.com/s?k=x"},
        {},
    ],
)
def test_axesso_items_without_asin_cannot_be_attributed(raw: dict[str, Any]) -> None:
    assert AXESSO.parse(raw) is None


# --- junglee -------------------------------------------------------------------------------------


def test_junglee_us_item() -> None:
    item = parsed(JUNGLEE, junglee_items()[0])
    assert (item.asin, item.marketplace, item.status) == ("B0D2XRXNGY", Marketplace.US, "ok")
    assert (item.currency, item.price, item.buybox_price, item.list_price) == (
        "USD",
        Decimal("23.49"),
        Decimal("23.49"),
        Decimal("49.99"),
    )
    assert (item.buybox_seller, item.fulfillment) == ("AnkerDirect", Fulfillment.FBA)
    assert (item.availability, item.in_stock) == ("In Stock", True)
    assert (item.rating, item.review_count) == (Decimal("4.4"), 6687)
    assert item.bsr == (BsrEntry(73, "Electronics"), BsrEntry(1, "Open-Ear Headphones"))
    assert item.is_prime is None  # the actor does not say
    listing = item.listing
    assert listing is not None
    assert listing.title is not None
    assert listing.title.startswith("Soundcore V20i by Anker")
    assert listing.brand == "Soundcore"
    assert len(listing.bullets) == 3
    assert listing.description == "soundcore V20i \u2013 open-ear comfort for all-day wear."
    assert len(listing.images) == 5
    assert listing.images[0].endswith("517WiAmP8qL._AC_SL1500_.jpg")
    assert listing.video_count == 8
    assert listing.category_path == (
        "Electronics",
        "Headphones, Earbuds & Accessories",
        "Headphones & Earbuds",
        "Open-Ear Headphones",
    )


def test_junglee_german_item_sold_by_amazon() -> None:
    item = parsed(JUNGLEE, junglee_items()[1])
    assert (item.asin, item.marketplace, item.currency) == ("B0BZV2K7QK", Marketplace.DE, "EUR")
    assert (item.price, item.list_price) == (Decimal("59.99"), Decimal("99.99"))
    assert (item.buybox_seller, item.fulfillment) == ("Amazon", Fulfillment.AMAZON)
    assert (item.availability, item.in_stock) == ("Nur noch 4 auf Lager", True)
    assert item.bsr == (BsrEntry(1234, "Elektronik & Foto"), BsrEntry(12, "In-Ear-Kopfhörer"))
    listing = item.listing
    assert listing is not None
    assert listing.title == "Anker Soundcore Liberty 4 NC Kabellose Bluetooth-Kopfhörer"
    assert listing.brand == "Soundcore"  # from "Besuche den Soundcore-Store"
    assert listing.bullets == ("Bis zu 98,5 % Geräuschreduzierung",)
    assert listing.description is None
    assert listing.images == ("https://m.media-amazon.com/images/I/61ld0mQ8ksL._AC_SX466_.jpg",)
    assert (listing.video_count, len(listing.category_path)) == (0, 3)


@pytest.mark.parametrize(
    ("index", "asin", "marketplace", "status"),
    [
        (2, "B000000404", Marketplace.UK, CrawlStatus.NOT_FOUND),
        (3, "B000000503", Marketplace.JP, CrawlStatus.BLOCKED),
    ],
)
def test_junglee_error_items(
    index: int, asin: str, marketplace: Marketplace, status: CrawlStatus
) -> None:
    item = parsed(JUNGLEE, junglee_items()[index])
    assert (item.asin, item.marketplace, item.status) == (asin, marketplace, status)
    assert item.error is not None
    assert item.listing is None


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ({"error": "NOT_FOUND"}, CrawlStatus.NOT_FOUND),
        ({"error": "CAPTCHA"}, CrawlStatus.BLOCKED),
        ({"error": True, "errorDescription": "Blocked by Amazon"}, CrawlStatus.BLOCKED),
        ({"error": "TIMEOUT", "errorDescription": "Navigation timed out"}, CrawlStatus.ERROR),
        ({"#error": True, "#debug": {"errorMessage": "Page not found"}}, CrawlStatus.NOT_FOUND),
        ({"title": None, "errorDescription": "Request blocked (captcha)"}, CrawlStatus.BLOCKED),
        ({"title": None, "errorDescription": "Unexpected page layout"}, CrawlStatus.ERROR),
    ],
)
def test_junglee_failures(raw: dict[str, Any], status: CrawlStatus) -> None:
    base = {"url": "https://www.amazon.fr/dp/B000000001", "asin": "B000000001"}
    item = parsed(JUNGLEE, base | raw)
    assert (item.asin, item.marketplace, item.status) == ("B000000001", Marketplace.FR, status)
    assert item.error


def test_junglee_missing_price_is_partial_and_no_ranks_is_empty() -> None:
    item = parsed(JUNGLEE, junglee_item(price=None, bestsellerRanks=[]))
    assert (item.status, item.error, item.price, item.bsr) == (
        CrawlStatus.PARTIAL,
        "missing price and bsr",
        None,
        (),
    )


def test_junglee_missing_title_is_partial() -> None:
    item = parsed(JUNGLEE, junglee_item(title=None))
    assert (item.status, item.error) == (CrawlStatus.PARTIAL, "missing title")


def test_junglee_out_of_stock_without_price_is_ok() -> None:
    item = parsed(
        JUNGLEE,
        junglee_item(price=None, seller=None, inStock=False, inStockText="Currently unavailable."),
    )
    assert (item.status, item.in_stock, item.fulfillment) == (CrawlStatus.OK, False, None)


def test_junglee_in_stock_text_is_read_when_the_flag_is_absent() -> None:
    item = parsed(JUNGLEE, junglee_item(inStock=None, inStockText="Temporarily out of stock."))
    assert item.in_stock is False


@pytest.mark.parametrize(
    ("url", "price", "currency"),
    [
        ("https://www.amazon.ca/dp/B0D2XRXNGY", {"value": 30, "currency": "$"}, "CAD"),
        ("https://www.amazon.ca/dp/B0D2XRXNGY", {"value": 30, "currency": "USD"}, "USD"),
        ("https://www.amazon.co.uk/dp/B0D2XRXNGY", {"value": 30, "currency": "£"}, "GBP"),
        ("https://www.amazon.co.jp/dp/B0D2XRXNGY", {"value": 2990, "currency": "￥"}, "JPY"),
        ("https://www.amazon.es/dp/B0D2XRXNGY", {"value": 30, "currency": None}, "EUR"),
        ("https://www.amazon.it/dp/B0D2XRXNGY", "29,99 €", "EUR"),
        ("https://www.amazon.com/dp/B0D2XRXNGY", 30, "USD"),
    ],
)
def test_junglee_currency(url: str, price: Any, currency: str) -> None:
    item = parsed(JUNGLEE, junglee_item(url=url, input=url, price=price, listPrice=None))
    assert item.currency == currency
    assert item.price is not None


def test_junglee_currency_symbol_without_a_known_marketplace() -> None:
    item = parsed(
        JUNGLEE,
        junglee_item(url=None, input=None, price={"value": 12.5, "currency": "€"}, listPrice=None),
    )
    assert (item.asin, item.marketplace, item.currency) == ("B0D2XRXNGY", None, "EUR")


def test_junglee_requested_asin_wins_over_a_variation() -> None:
    item = parsed(
        JUNGLEE,
        junglee_item(
            asin="B0D31C567W",
            url="https://www.amazon.com/dp/B0D31C567W",
            input={"url": "https://www.amazon.com/dp/B0D2XRXNGY"},
            originalAsin=None,
        ),
    )
    assert item.asin == "B0D2XRXNGY"


@pytest.mark.parametrize(
    ("ranks", "bsr"),
    [
        (
            [{"rank": "#1,234", "category": "Electronics"}, {"rank": 3, "category": "Earbuds"}],
            (BsrEntry(1234, "Electronics"), BsrEntry(3, "Earbuds")),
        ),
        ([{"rank": None, "category": "Electronics"}, "junk"], ()),
        ("#5 in Electronics #2 in Earbuds", (BsrEntry(5, "Electronics"), BsrEntry(2, "Earbuds"))),
        (None, ()),
    ],
)
def test_junglee_ranks(ranks: Any, bsr: tuple[BsrEntry, ...]) -> None:
    assert parsed(JUNGLEE, junglee_item(bestsellerRanks=ranks)).bsr == bsr


@pytest.mark.parametrize(
    ("crumbs", "path"),
    [
        ("Electronics \u203a Headphones", ("Electronics", "Headphones")),
        ("Electronics > Headphones > Earbuds", ("Electronics", "Headphones", "Earbuds")),
        (["Electronics", " Headphones "], ("Electronics", "Headphones")),
        ("Home &amp; Kitchen", ("Home & Kitchen",)),
        (None, ()),
    ],
)
def test_junglee_breadcrumbs(crumbs: Any, path: tuple[str, ...]) -> None:
    listing = parsed(JUNGLEE, junglee_item(breadCrumbs=crumbs)).listing
    assert listing is not None
    assert listing.category_path == path


@pytest.mark.parametrize(
    ("changes", "seller", "fulfillment"),
    [
        ({"seller": {"name": "Amazon.com", "id": "ATVPDKIKX0DER"}}, "Amazon.com", "AMZ"),
        ({"shipsFrom": "AnkerDirect"}, "AnkerDirect", "FBM"),
        ({"shipsFrom": None, "fulfilledBy": "Amazon"}, "AnkerDirect", "FBA"),
        ({"seller": "GadgetHub", "shipsFrom": "GadgetHub"}, "GadgetHub", "FBM"),
        ({"seller": None, "sellerName": "GadgetHub", "shipsFrom": "Amazon"}, "GadgetHub", "FBA"),
    ],
)
def test_junglee_seller_and_fulfillment(
    changes: dict[str, Any], seller: str, fulfillment: str
) -> None:
    item = parsed(JUNGLEE, junglee_item(**changes))
    assert (item.buybox_seller, item.fulfillment) == (seller, Fulfillment(fulfillment))


def test_junglee_text_rating_and_count_and_video_list() -> None:
    item = parsed(
        JUNGLEE,
        junglee_item(
            stars="4,6 von 5 Sternen", reviewsCount="1.234", videosCount=None, videos=["a", "b"]
        ),
    )
    assert (item.rating, item.review_count) == (Decimal("4.6"), 1234)
    assert item.listing is not None
    assert item.listing.video_count == 2


def test_junglee_prime_flag_is_read_when_present() -> None:
    assert parsed(JUNGLEE, junglee_item(isPrime=True)).is_prime is True


@pytest.mark.parametrize(
    "raw",
    [{"title": "x"}, {"url": "https://www.amazon.com/", "error": "NOT_FOUND"}, {}],
)
def test_junglee_items_without_asin_cannot_be_attributed(raw: dict[str, Any]) -> None:
    assert JUNGLEE.parse(raw) is None
