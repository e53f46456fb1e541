"""Amazon marketplaces Shelfwatch knows, with their storefront domain and currency."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Marketplace(StrEnum):
    US = "US"
    UK = "UK"
    DE = "DE"
    FR = "FR"
    IT = "IT"
    ES = "ES"
    CA = "CA"
    JP = "JP"


@dataclass(frozen=True, slots=True)
class MarketplaceInfo:
    code: Marketplace
    domain: str
    currency: str


MARKETPLACES: dict[Marketplace, MarketplaceInfo] = {
    Marketplace.US: MarketplaceInfo(Marketplace.US, "amazon.com", "USD"),
    Marketplace.UK: MarketplaceInfo(Marketplace.UK, "amazon.co.uk", "GBP"),
    Marketplace.DE: MarketplaceInfo(Marketplace.DE, "amazon.de", "EUR"),
    Marketplace.FR: MarketplaceInfo(Marketplace.FR, "amazon.fr", "EUR"),
    Marketplace.IT: MarketplaceInfo(Marketplace.IT, "amazon.it", "EUR"),
    Marketplace.ES: MarketplaceInfo(Marketplace.ES, "amazon.es", "EUR"),
    Marketplace.CA: MarketplaceInfo(Marketplace.CA, "amazon.ca", "CAD"),
    Marketplace.JP: MarketplaceInfo(Marketplace.JP, "amazon.co.jp", "JPY"),
}

_BY_DOMAIN = {info.domain: info.code for info in MARKETPLACES.values()}


def marketplace_for_host(host: str) -> Marketplace | None:
    """The marketplace of an Amazon host name such as ``www.amazon.co.uk``."""
    host = host.lower().removeprefix("www.").removeprefix("smile.")
    return _BY_DOMAIN.get(host)


def product_url(marketplace: Marketplace, asin: str) -> str:
    """The canonical product page URL, the form every actor input uses."""
    return f"https://www.{MARKETPLACES[marketplace].domain}/dp/{asin}"
