"""Reading Amazon's numbers and texts in every marketplace's format."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.product.apify.item import BsrEntry
from services.product.apify.parsing import (
    clean_text,
    parse_bsr,
    parse_count,
    parse_in_stock,
    parse_money,
    parse_rating,
)
from services.product.asin import InvalidProductReference, parse_product_reference
from services.product.marketplaces import Marketplace


@pytest.mark.parametrize(
    ("raw", "amount", "currency"),
    [
        ("$1,299.00", "1299.00", "USD"),
        ("1.299,00 €", "1299.00", "EUR"),
        ("£12.50", "12.50", "GBP"),
        ("EUR 12,99", "12.99", "EUR"),
        ("12,5 €", "12.50", "EUR"),
        ("￥1,299", "1299.00", "JPY"),
        ("¥ 12,800", "12800.00", "JPY"),
        ("CDN$ 24.99", "24.99", "CAD"),
        ("$12.99 - $19.99", "12.99", "USD"),
        ("1 299,00 €", "1299.00", "EUR"),
        (23.49, "23.49", None),
        ("&#36;5.00", "5.00", "USD"),
    ],
)
def test_money(raw: object, amount: str, currency: str | None) -> None:
    assert parse_money(raw) == (Decimal(amount), currency)


@pytest.mark.parametrize("raw", [None, "", "Currently unavailable", 0, 0.0, "$0.00", True])
def test_missing_money_is_none_never_zero(raw: object) -> None:
    assert parse_money(raw)[0] is None


@pytest.mark.parametrize(
    ("raw", "rating"),
    [
        ("4.4 out of 5 stars", "4.40"),
        ("4,5 von 5 Sternen", "4.50"),
        ("4,1 sur 5 étoiles", "4.10"),
        ("5つ星のうち4.3", "4.30"),
        (4.4, "4.40"),
    ],
)
def test_rating(raw: object, rating: str) -> None:
    assert parse_rating(raw) == Decimal(rating)


@pytest.mark.parametrize("raw", [None, "", "no rating", 7, "12 out of 5"])
def test_bad_rating(raw: object) -> None:
    assert parse_rating(raw) is None


@pytest.mark.parametrize(
    ("raw", "count"),
    [("1,234 ratings", 1234), ("1.234 Sternebewertungen", 1234), ("1 234", 1234), (6687, 6687)],
)
def test_counts(raw: object, count: int) -> None:
    assert parse_count(raw) == count


def test_bsr_every_category_main_first() -> None:
    text = "#1,234 in Electronics (See Top 100 in Electronics) #5 in Open-Ear Headphones"
    assert parse_bsr(text) == (
        BsrEntry(1234, "Electronics"),
        BsrEntry(5, "Open-Ear Headphones"),
    )


def test_bsr_three_entries_and_german() -> None:
    assert [e.rank for e in parse_bsr("#45 in Electronics #3 in Earbuds #7 in Open-Ear")] == [
        45,
        3,
        7,
    ]
    german = (
        "Nr. 1.234 in Elektronik & Foto (Siehe Top 100 in Elektronik & Foto)\nNr. 12 in Kopfhörer"
    )
    assert parse_bsr(german) == (BsrEntry(1234, "Elektronik & Foto"), BsrEntry(12, "Kopfhörer"))


@pytest.mark.parametrize("raw", [None, "", "not ranked"])
def test_no_bsr(raw: object) -> None:
    assert parse_bsr(raw) == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("In Stock", True),
        ("Only 3 left in stock - order soon.", True),
        ("Currently unavailable.", False),
        ("Temporarily out of stock.", False),
        ("Auf Lager", True),
        ("Derzeit nicht verfügbar.", False),
        ("En stock", True),
        ("", None),
        ("Ships in 2 weeks?", None),
    ],
)
def test_availability(raw: str, expected: bool | None) -> None:
    assert parse_in_stock(raw) is expected


def test_html_entities_and_whitespace() -> None:
    assert clean_text("  Tom &amp; Jerry&#39;s\n\u200e Box  ") == "Tom & Jerry's Box"
    assert clean_text("   ") is None


@pytest.mark.parametrize(
    ("raw", "asin", "marketplace"),
    [
        ("B0D2XRXNGY", "B0D2XRXNGY", None),
        (" b0d2xrxngy ", "B0D2XRXNGY", None),
        ("https://www.amazon.com/dp/B0D2XRXNGY", "B0D2XRXNGY", Marketplace.US),
        (
            "https://www.amazon.de/Soundcore-V20i/dp/B0D2XRXNGY/ref=sr_1_1?th=1",
            "B0D2XRXNGY",
            Marketplace.DE,
        ),
        ("amazon.co.uk/gp/product/B0D2XRXNGY?psc=1", "B0D2XRXNGY", Marketplace.UK),
        ("https://www.amazon.co.jp/gp/aw/d/B0D2XRXNGY#x", "B0D2XRXNGY", Marketplace.JP),
        ("https://smile.amazon.ca/dp/B0D2XRXNGY/", "B0D2XRXNGY", Marketplace.CA),
    ],
)
def test_product_references(raw: str, asin: str, marketplace: Marketplace | None) -> None:
    ref = parse_product_reference(raw)
    assert (ref.asin, ref.marketplace) == (asin, marketplace)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "B0D2XRXNG",
        "B0D2XRXNGY1",
        "B0D2-RXNGY",
        "https://example.com/dp/B0D2XRXNGY",
        "https://www.amazon.com/s?k=headphones",
        "https://www.amazon.com.br/dp/B0D2XRXNGY",
    ],
)
def test_bad_references(raw: str) -> None:
    with pytest.raises(InvalidProductReference):
        parse_product_reference(raw)
