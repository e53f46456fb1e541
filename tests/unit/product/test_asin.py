"""What a seller pastes, an ASIN or an Amazon URL, becomes (ASIN, marketplace) or a clear error."""

from __future__ import annotations

import re

import pytest

from services.product.asin import (
    ASIN_PATTERN,
    InvalidProductReference,
    ProductReference,
    find_asin_in_url,
    is_valid_asin,
    parse_product_reference,
)
from services.product.marketplaces import Marketplace

ASIN = "B0D2XRXNGY"


@pytest.mark.parametrize(
    ("text", "marketplace"),
    [
        ("https://www.amazon.com/dp/B0D2XRXNGY", Marketplace.US),
        ("https://www.amazon.co.uk/dp/B0D2XRXNGY", Marketplace.UK),
        ("https://www.amazon.de/dp/B0D2XRXNGY", Marketplace.DE),
        ("https://www.amazon.fr/dp/B0D2XRXNGY", Marketplace.FR),
        ("https://www.amazon.it/dp/B0D2XRXNGY", Marketplace.IT),
        ("https://www.amazon.es/dp/B0D2XRXNGY", Marketplace.ES),
        ("https://www.amazon.ca/dp/B0D2XRXNGY", Marketplace.CA),
        ("https://www.amazon.co.jp/dp/B0D2XRXNGY", Marketplace.JP),
        ("https://amazon.com/dp/B0D2XRXNGY", Marketplace.US),
        ("https://smile.amazon.com/dp/B0D2XRXNGY", Marketplace.US),
        ("https://m.amazon.de/dp/B0D2XRXNGY", Marketplace.DE),
        ("http://WWW.AMAZON.CO.UK/dp/B0D2XRXNGY", Marketplace.UK),
        ("www.amazon.fr/dp/B0D2XRXNGY", Marketplace.FR),
        ("amazon.co.jp/dp/B0D2XRXNGY", Marketplace.JP),
        ("https://www.amazon.com/dp/B0D2XRXNGY/", Marketplace.US),
        ("https://www.amazon.com/dp/B0D2XRXNGY?psc=1&th=1", Marketplace.US),
        ("https://www.amazon.com/dp/B0D2XRXNGY#customerReviews", Marketplace.US),
        (
            "https://www.amazon.com/Soundcore-Open-Ear-Headphones/dp/B0D2XRXNGY/ref=sr_1_3"
            "?crid=2X&keywords=open+ear&qid=1726000000&sr=8-3",
            Marketplace.US,
        ),
        ("https://www.amazon.it/gp/product/B0D2XRXNGY", Marketplace.IT),
        ("https://www.amazon.es/gp/product/B0D2XRXNGY/ref=ppx_yo_dt_b_asin_title", Marketplace.ES),
        ("https://www.amazon.ca/gp/aw/d/B0D2XRXNGY?th=1", Marketplace.CA),
        ("https://www.amazon.com/dp/b0d2xrxngy", Marketplace.US),
        ("  https://www.amazon.com/dp/B0D2XRXNGY \n", Marketplace.US),
    ],
)
def test_product_urls_give_the_asin_and_the_host_marketplace(
    text: str, marketplace: Marketplace
) -> None:
    assert parse_product_reference(text) == ProductReference(ASIN, marketplace)


@pytest.mark.parametrize(
    "text", ["B0D2XRXNGY", "b0d2xrxngy", "  B0D2XRXNGY\t", "0123456789", "HEADPHONES"]
)
def test_a_bare_asin_is_normalised_and_takes_the_default_marketplace(text: str) -> None:
    ref = parse_product_reference(text, Marketplace.DE)
    assert ref == ProductReference(text.strip().upper(), Marketplace.DE)


def test_a_bare_asin_without_default_has_no_marketplace() -> None:
    assert parse_product_reference("B0D2XRXNGY") == ProductReference(ASIN, None)


def test_the_url_host_wins_over_the_default_marketplace() -> None:
    ref = parse_product_reference("https://www.amazon.co.uk/dp/B0D2XRXNGY", Marketplace.US)
    assert ref.marketplace is Marketplace.UK


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter an ASIN"),
        ("   ", "Enter an ASIN"),
        ("B0D2XRXNG", "is not an ASIN"),
        ("B0D2XRXNGY1", "is not an ASIN"),
        ("B0D2-XRXNG", "is not an ASIN"),
        ("B0D2XRXNGÉ", "is not an ASIN"),
        ("earbuds", "is not an ASIN"),
        ("https://www.example.com/dp/B0D2XRXNGY", "not an Amazon product URL"),
        ("https://www.amazon.com.evil.example/dp/B0D2XRXNGY", "not an Amazon product URL"),
        ("https://www.amazon.in/dp/B0D2XRXNGY", "amazon.in is not a supported Amazon marketplace"),
        ("https://www.amazon.com.br/dp/B0D2XRXNGY", "not a supported Amazon marketplace"),
        ("https://www.amazon.com/s?k=open+ear+headphones", "No ASIN found"),
        ("https://www.amazon.com/", "No ASIN found"),
        ("https://www.amazon.com/dp/B0D2XRXN", "No ASIN found"),
        ("https://www.amazon.com/dp/B0D2XRXNGY123", "No ASIN found"),
        ("https://www.amazon.com/product-reviews/B0D2XRXNGY", "No ASIN found"),
        ("https://amzn.to/3XyZabc", "Short links cannot be read"),
        ("ftp://www.amazon.com/dp/B0D2XRXNGY", "not an http(s) URL"),
    ],
)
def test_anything_else_is_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(InvalidProductReference, match=re.escape(message)):
        parse_product_reference(text)


def test_the_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="is not an ASIN"):
        parse_product_reference("nope")


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("B0D2XRXNGY", True),
        ("0123456789", True),
        ("b0d2xrxngy", False),
        ("B0D2XRXNG", False),
        ("B0D2XRXNGY ", False),
        ("B0D2XRXNGY\n", False),
        ("", False),
    ],
)
def test_is_valid_asin(value: str, valid: bool) -> None:
    assert is_valid_asin(value) is valid
    assert (ASIN_PATTERN.fullmatch(value) is not None) is valid


@pytest.mark.parametrize(
    ("url", "asin"),
    [
        ("https://www.amazon.com.br/dp/B0D2XRXNGY?psc=1", ASIN),
        ("https://www.amazon.de/Soundcore/dp/b0d2xrxngy/ref=x", ASIN),
        ("www.amazon.com/gp/product/B0D2XRXNGY", ASIN),
        ("https://www.amazon.com/s?k=B0D2XRXNGY", None),
    ],
)
def test_find_asin_in_url_reads_any_host(url: str, asin: str | None) -> None:
    assert find_asin_in_url(url) == asin


def test_a_long_paste_is_quoted_shortened_in_the_message() -> None:
    with pytest.raises(InvalidProductReference) as caught:
        parse_product_reference("x" * 500)
    assert str(caught.value).startswith("'" + "x" * 77 + "...'")
    assert len(str(caught.value)) < 160
