"""Every Best Sellers Rank form, deal vs list price, price ranges and the partial rule, in every
marketplace, for both actors (built on the real fixture items)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.product.apify.item import BsrEntry, CrawlStatus
from services.product.marketplaces import Marketplace
from tests.unit.product.test_adapters import AXESSO, JUNGLEE, axesso_item, junglee_item, parsed

# (marketplace, domain, the label the storefront uses, the BSR text as that storefront writes it,
#  with the stray whitespace and nbsp scraped pages carry)
BSR_FORMS: list[tuple[Marketplace, str, str, str, tuple[BsrEntry, ...]]] = [
    (
        Marketplace.US,
        "amazon.com",
        "Best Sellers Rank",
        "#1,234 in Electronics (See Top 100 in Electronics)\n   #5 in  Earbud\u00a0Headphones",
        (BsrEntry(1234, "Electronics"), BsrEntry(5, "Earbud Headphones")),
    ),
    (
        Marketplace.UK,
        "amazon.co.uk",
        "Amazon Bestsellers Rank",
        "1,234 in Electronics & Photo (See Top 100 in Electronics & Photo)  5 in Earphones",
        (BsrEntry(1234, "Electronics & Photo"), BsrEntry(5, "Earphones")),
    ),
    (
        Marketplace.CA,
        "amazon.ca",
        "Amazon Best Sellers Rank:",
        "#1,234 in Electronics (See Top 100 in Electronics) #5 in Earbuds",
        (BsrEntry(1234, "Electronics"), BsrEntry(5, "Earbuds")),
    ),
    (
        Marketplace.DE,
        "amazon.de",
        "Amazon Bestseller-Rang",
        "Nr. 1.234 in Elektronik & Foto (Siehe Top 100 in Elektronik & Foto) Nr. 5 in Kopfhörer",
        (BsrEntry(1234, "Elektronik & Foto"), BsrEntry(5, "Kopfhörer")),
    ),
    (
        Marketplace.FR,
        "amazon.fr",
        "Classement des meilleures ventes d'Amazon",
        "1\u202f234 en High-Tech (Voir les 100 premiers en High-Tech) 5 en Écouteurs",
        (BsrEntry(1234, "High-Tech"), BsrEntry(5, "Écouteurs")),
    ),
    (
        Marketplace.IT,
        "amazon.it",
        "Posizione nella classifica Bestseller di Amazon",
        "n. 1.234 in Elettronica (Visualizza i Top 100 nella categoria Elettronica)"
        "  n. 5 in Cuffie",
        (BsrEntry(1234, "Elettronica"), BsrEntry(5, "Cuffie")),
    ),
    (
        Marketplace.ES,
        "amazon.es",
        "Clasificación en los más vendidos de Amazon",
        "n.º 1.234 en Electrónica (Ver el Top 100 en Electrónica)   n.º 5 en Auriculares",
        (BsrEntry(1234, "Electrónica"), BsrEntry(5, "Auriculares")),
    ),
    (
        Marketplace.JP,
        "amazon.co.jp",
        "Amazon 売れ筋ランキング",
        "- 1,234位家電\uff06カメラ (の売れ筋ランキングを見る家電\uff06カメラ) - 5位イヤホン",
        (BsrEntry(1234, "家電\uff06カメラ"), BsrEntry(5, "イヤホン")),
    ),
]


def _axesso_with_bsr(domain: str, label: str, value: Any) -> dict[str, Any]:
    base = axesso_item()
    details = [d for d in base["productDetails"] if d["name"] != "Best Sellers Rank"]
    details.append({"name": label, "value": value})
    return base | {"url": f"https://www.{domain}/dp/B0D2XRXNGY", "productDetails": details}


@pytest.mark.parametrize(("mp", "domain", "label", "text", "expected"), BSR_FORMS)
def test_axesso_bsr_text_under_every_label(
    mp: Marketplace, domain: str, label: str, text: str, expected: tuple[BsrEntry, ...]
) -> None:
    item = parsed(AXESSO, _axesso_with_bsr(domain, label, text))
    assert (item.marketplace, item.bsr, item.status) == (mp, expected, CrawlStatus.OK)


@pytest.mark.parametrize(("mp", "domain", "label", "text", "expected"), BSR_FORMS)
def test_axesso_structured_rank_list(
    mp: Marketplace, domain: str, label: str, text: str, expected: tuple[BsrEntry, ...]
) -> None:
    ranks = [{"rank": f"#{e.rank:,}", "category": e.category} for e in expected]
    item = parsed(AXESSO, _axesso_with_bsr(domain, label, ranks))
    assert (item.marketplace, item.bsr) == (mp, expected)


@pytest.mark.parametrize(("mp", "domain", "label", "text", "expected"), BSR_FORMS)
def test_junglee_bsr_text_and_list(
    mp: Marketplace, domain: str, label: str, text: str, expected: tuple[BsrEntry, ...]
) -> None:
    url = f"https://www.{domain}/dp/B0D2XRXNGY"
    as_text = parsed(JUNGLEE, junglee_item(url=url, input=url, bestsellerRanks=text))
    as_list = parsed(
        JUNGLEE,
        junglee_item(
            url=url,
            input=url,
            bestsellerRanks=[{"rank": e.rank, "category": e.category} for e in expected],
        ),
    )
    assert (as_text.marketplace, as_text.bsr, as_text.status) == (mp, expected, CrawlStatus.OK)
    assert as_list.bsr == expected


def test_axesso_deal_price_is_what_a_buyer_pays() -> None:
    item = parsed(AXESSO, axesso_item(price=39.99, dealPrice=23.49, retailPrice=49.99))
    assert (item.price, item.buybox_price, item.list_price) == (
        Decimal("23.49"),
        Decimal("23.49"),
        Decimal("49.99"),
    )
    # No deal: the price stands, and a zero deal price means none.
    item = parsed(AXESSO, axesso_item(price=39.99, dealPrice=0, retailPrice=49.99))
    assert (item.price, item.list_price) == (Decimal("39.99"), Decimal("49.99"))


@pytest.mark.parametrize(
    ("fields", "deal"),
    [
        ({}, True),  # the real item: "deal": true
        ({"deal": False}, False),
        ({"deal": False, "dealPrice": 23.49}, True),  # a deal price shown is a deal
        ({"deal": "yes"}, None),  # not a flag: not reported
        ({"deal": None}, None),
    ],
)
def test_axesso_reads_whether_the_page_marks_a_deal(
    fields: dict[str, Any], deal: bool | None
) -> None:
    assert parsed(AXESSO, axesso_item(**fields)).deal is deal


def test_junglee_knows_a_deal_only_by_its_deal_price() -> None:
    with_deal = junglee_item(dealPrice={"value": 23.49, "currency": "$"})
    assert parsed(JUNGLEE, with_deal).deal is True
    assert parsed(JUNGLEE, junglee_item()).deal is None


def test_junglee_deal_price_is_what_a_buyer_pays() -> None:
    item = parsed(
        JUNGLEE,
        junglee_item(
            price={"value": 39.99, "currency": "$"},
            dealPrice={"value": 23.49, "currency": "$"},
            listPrice={"value": 49.99, "currency": "$"},
        ),
    )
    assert (item.price, item.list_price) == (Decimal("23.49"), Decimal("49.99"))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"price": None, "priceRange": "$10.99 - $15.99"}, Decimal("10.99")),
        ({"price": {"value": "$10.99 - $15.99", "currency": "$"}}, Decimal("10.99")),
        ({"price": {"min": 10.99, "max": 15.99, "currency": "$"}}, Decimal("10.99")),
        ({"price": None, "priceRange": {"min": 10.99, "max": 15.99}}, Decimal("10.99")),
    ],
)
def test_junglee_price_ranges_like_axesso(fields: dict[str, Any], expected: Decimal) -> None:
    item = parsed(JUNGLEE, junglee_item(**fields))
    assert (item.price, item.status) == (expected, CrawlStatus.OK)
    axesso = parsed(AXESSO, axesso_item(price=None, priceRange="$10.99 - $15.99"))
    assert axesso.price == Decimal("10.99")


@pytest.mark.parametrize("adapter", ["axesso", "junglee"])
def test_missing_bsr_is_partial_not_ok(adapter: str) -> None:
    if adapter == "axesso":
        item = parsed(AXESSO, _axesso_with_bsr("amazon.com", "Manufacturer", "x"))
    else:
        item = parsed(JUNGLEE, junglee_item(bestsellerRanks=[]))
    assert (item.status, item.error) == (CrawlStatus.PARTIAL, "missing bsr")
