"""Reading Amazon's numbers and texts as every supported storefront writes them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.product.apify.item import BsrEntry
from services.product.apify.parsing import (
    Money,
    bsr_entries,
    clean_text,
    clean_texts,
    detect_currency,
    parse_availability,
    parse_bsr,
    parse_count,
    parse_decimal,
    parse_money,
    parse_price,
    parse_rating,
)


@pytest.mark.parametrize(
    ("raw", "amount", "currency"),
    [
        ("$1,299.00", "1299.00", "USD"),
        ("$23.49", "23.49", "USD"),
        ("1.299,00 €", "1299.00", "EUR"),
        ("1\u202f299,00\u00a0€", "1299.00", "EUR"),
        ("1 299,00 €", "1299.00", "EUR"),
        ("12,99 €", "12.99", "EUR"),
        ("0,99 €", "0.99", "EUR"),
        ("1.234.567,89 €", "1234567.89", "EUR"),
        ("EUR 12,99", "12.99", "EUR"),
        ("£12.50", "12.50", "GBP"),
        ("GBP 1,049.00", "1049.00", "GBP"),
        ("￥1,299", "1299", "JPY"),
        ("¥ 12,800", "12800", "JPY"),
        ("2,349円", "2349", "JPY"),
        ("CDN$ 24.99", "24.99", "CAD"),
        ("C$ 1,024.50", "1024.50", "CAD"),
        ("US$ 5.00", "5.00", "USD"),
        ("$12.99 - $19.99", "12.99", "USD"),
        ("$19.99 - $12.99", "12.99", "USD"),
        ("12,99 € \u2013 19,99 €", "12.99", "EUR"),
        ("From $7.99 to $9.99", "7.99", "USD"),
        ("$23.49 ($0.50 / Count)", "23.49", "USD"),
        ("&#36;5.00", "5.00", "USD"),
        ("1299", "1299", None),
    ],
)
def test_money_texts_in_every_convention(raw: str, amount: str, currency: str | None) -> None:
    assert parse_money(raw) == Money(Decimal(amount), currency)


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [
        (23.49, "USD", Money(Decimal("23.49"), "USD")),
        (49, "EUR", Money(Decimal("49"), "EUR")),
        (Decimal("9.90"), None, Money(Decimal("9.90"), None)),
        ("$30.00", "CAD", Money(Decimal("30.00"), "CAD")),  # amazon.ca shows a bare "$" too
        ("$30.00", "EUR", Money(Decimal("30.00"), "USD")),
        ("12,99", "EUR", Money(Decimal("12.99"), "EUR")),
        ("£5.00", "EUR", Money(Decimal("5.00"), "GBP")),  # a shown currency beats the default
    ],
)
def test_money_default_currency(raw: Any, default: str, expected: Money) -> None:
    assert parse_money(raw, default) == expected


@pytest.mark.parametrize(
    "raw", [None, "", "   ", "Currently unavailable", "See price in cart", True, float("nan"), []]
)
def test_no_money_is_none(raw: Any) -> None:
    assert parse_money(raw) is None


@pytest.mark.parametrize(
    ("raw", "price"),
    [("$23.49", Decimal("23.49")), (0, None), (0.0, None), ("$0.00", None), (None, None)],
)
def test_a_price_is_positive_or_none_never_zero(raw: Any, price: Decimal | None) -> None:
    assert parse_price(raw) == price


@pytest.mark.parametrize(
    ("text", "currency"),
    [("CDN$ 5", "CAD"), ("CA$5", "CAD"), ("5 €", "EUR"), ("JPY 500", "JPY"), ("5", None)],
)
def test_detect_currency(text: str, currency: str | None) -> None:
    assert detect_currency(text) == currency


@pytest.mark.parametrize(
    ("text", "number"),
    [("12.5", "12.5"), ("1,299", "1299"), ("1.299", "1299"), ("12,99", "12.99"), ("x", None)],
)
def test_parse_decimal(text: str, number: str | None) -> None:
    assert parse_decimal(text) == (Decimal(number) if number else None)


@pytest.mark.parametrize(
    ("raw", "rating"),
    [
        ("4.4 out of 5 stars", "4.4"),
        ("4,5 von 5 Sternen", "4.5"),
        ("4,1 sur 5 étoiles", "4.1"),
        ("4,6 su 5 stelle", "4.6"),
        ("4,2 de 5 estrellas", "4.2"),
        ("5つ星のうち4.3", "4.3"),
        ("5つ星のうち 3.9", "3.9"),
        ("4.4 4.4 out of 5 stars 6,687 ratings 4.4 out of 5 stars", "4.4"),
        ("5.0 out of 5 stars", "5.0"),
        (4.4, "4.4"),
        (5, "5"),
        (Decimal("3.75"), "3.75"),
    ],
)
def test_ratings_in_every_language(raw: Any, rating: str) -> None:
    assert parse_rating(raw) == Decimal(rating)


@pytest.mark.parametrize("raw", [None, "", "No customer reviews yet", 7, -1, "12 out of 5", True])
def test_no_or_impossible_rating_is_none(raw: Any) -> None:
    assert parse_rating(raw) is None


@pytest.mark.parametrize(
    ("raw", "count"),
    [
        ("1,234 ratings", 1234),
        ("1.234 Sternebewertungen", 1234),
        ("1\u202f234 évaluations", 1234),
        ("12 345 valutazioni", 12345),
        ("2,345個の評価", 2345),
        ("1,234,567 global ratings", 1234567),
        ("87 ratings", 87),
        (6687, 6687),
        (6687.0, 6687),
        ("0", 0),
    ],
)
def test_counts(raw: Any, count: int) -> None:
    assert parse_count(raw) == count


@pytest.mark.parametrize("raw", [None, "", "no ratings", -3, 2.5, True, float("inf")])
def test_no_count_is_none(raw: Any) -> None:
    assert parse_count(raw) is None


@pytest.mark.parametrize(
    ("text", "entries"),
    [
        (
            "#1,234 in Electronics (See Top 100 in Electronics) #5 in Open-Ear Headphones",
            [(1234, "Electronics"), (5, "Open-Ear Headphones")],
        ),
        (
            "#73 in Electronics (See Top 100 in Electronics)\n#1 in Open-Ear Headphones",
            [(73, "Electronics"), (1, "Open-Ear Headphones")],
        ),
        (
            "#45 in Electronics #3 in Earbud & In-Ear Headphones #7 in Open-Ear Headphones",
            [(45, "Electronics"), (3, "Earbud & In-Ear Headphones"), (7, "Open-Ear Headphones")],
        ),
        (
            "Best Sellers Rank: #12 in Tools &amp; Home Improvement #1 in 2-in-1 Laptops",
            [(12, "Tools & Home Improvement"), (1, "2-in-1 Laptops")],
        ),
        ("1,234 in Electronics 5 in Headphones", [(1234, "Electronics"), (5, "Headphones")]),
        ("#3 in Laptop Bags (Refurbished)", [(3, "Laptop Bags (Refurbished)")]),
        (
            "Nr. 1.234 in Elektronik & Foto (Siehe Top 100 in Elektronik & Foto)\n"
            "Nr. 12 in Kopfhörer",
            [(1234, "Elektronik & Foto"), (12, "Kopfhörer")],
        ),
        (
            "1\u202f234 en High-Tech (Voir les 100 premiers en High-Tech) 5 en Écouteurs",
            [(1234, "High-Tech"), (5, "Écouteurs")],
        ),
        (
            "n. 2.345 in Elettronica (Visualizza i Top 100 nella categoria Elettronica) "
            "n. 8 in Cuffie",
            [(2345, "Elettronica"), (8, "Cuffie")],
        ),
        (
            "nº 3.456 en Electrónica (Ver el Top 100 en Electrónica) nº 9 en Auriculares",
            [(3456, "Electrónica"), (9, "Auriculares")],
        ),
        (
            "Amazon 売れ筋ランキング: - 1,234位家電&カメラ (の売れ筋ランキングを見る家電&カメラ)"
            " - 5位イヤホン",
            [(1234, "家電&カメラ"), (5, "イヤホン")],
        ),
        ("#5 in Headphones #5 in Headphones", [(5, "Headphones")]),
    ],
)
def test_bsr_text_gives_every_category(text: str, entries: list[tuple[int, str]]) -> None:
    assert parse_bsr(text) == tuple(BsrEntry(rank, category) for rank, category in entries)


@pytest.mark.parametrize("raw", [None, "", "   ", "Not ranked", 42, ["#1 in X"]])
def test_no_bsr_is_empty(raw: Any) -> None:
    assert parse_bsr(raw) == ()


def test_structured_bsr_skips_bad_pairs() -> None:
    pairs = [(73, "Electronics"), ("#1,234", " Audio "), (None, "X"), (5, None), ("0", "Zero")]
    assert bsr_entries(pairs) == (BsrEntry(73, "Electronics"), BsrEntry(1234, "Audio"))


@pytest.mark.parametrize(
    ("raw", "in_stock"),
    [
        ("In Stock", True),
        ("In stock.", True),
        ("Only 3 left in stock - order soon.", True),
        ("Usually ships within 2 to 3 days.", True),
        ("Auf Lager", True),
        ("Nur noch 4 auf Lager", True),
        ("Gewöhnlich versandfertig in 2 bis 3 Tagen.", True),
        ("En stock", True),
        ("Il ne reste plus que 2 exemplaire(s) en stock.", True),
        ("Disponibilità immediata", True),
        ("Disponible", True),
        ("在庫あり。", True),
        ("残り3点 ご注文はお早めに", True),
        ("Currently unavailable.", False),
        ("Temporarily out of stock.", False),
        ("Not in stock", False),
        ("Derzeit nicht verfügbar.", False),
        ("Actuellement indisponible.", False),
        ("Attualmente non disponibile.", False),
        ("No disponible por el momento.", False),
        ("Temporalmente sin stock.", False),
        ("現在在庫切れです。", False),
        ("Available for Pre-order", None),
        ("Ships in 2 weeks?", None),
        ("", None),
        (None, None),
        (True, True),
        (False, False),
    ],
)
def test_availability(raw: Any, in_stock: bool | None) -> None:
    assert parse_availability(raw) is in_stock


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("  Tom &amp; Jerry&#39;s\n\t Box  ", "Tom & Jerry's Box"),
        ("Fish &amp;amp; Chips", "Fish & Chips"),
        ("Kopfh&ouml;rer&nbsp;mit\u00a0Kabel", "Kopfhörer mit Kabel"),
        ("\u200eSoundcore\u200f", "Soundcore"),
        ("4 &lt; 5", "4 < 5"),
        ("   ", None),
        ("", None),
        (None, None),
        (12, None),
    ],
)
def test_clean_text(raw: Any, text: str | None) -> None:
    assert clean_text(raw) == text


def test_clean_text_can_strip_tags() -> None:
    assert clean_text("<p>Great<br/>sound</p> <b>now</b>", strip_tags=True) == "Great sound now"
    assert clean_text("<b>kept</b>") == "<b>kept</b>"


def test_clean_texts_keeps_order_and_drops_empties() -> None:
    assert clean_texts([" a ", "", None, "b", "a", 3]) == ("a", "b", "a")
    assert clean_texts(["a", "b", "a"], dedupe=True) == ("a", "b")
    assert clean_texts("not a list") == ()
