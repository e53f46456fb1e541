"""The one interface every actor's adapter offers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from services.product.apify.item import Fulfillment, ParsedItem
from services.product.marketplaces import MARKETPLACES, Marketplace, marketplace_for_host


class ActorAdapter(Protocol):
    actor_id: str

    def build_input(self, urls: Sequence[str]) -> dict[str, Any]:
        """The actor's run input for a batch of canonical product URLs."""
        ...

    def parse(self, item: Mapping[str, Any]) -> ParsedItem | None:
        """The normalised item; None only when it names no ASIN at all."""
        ...


def marketplace_of(url: object) -> Marketplace | None:
    if not isinstance(url, str) or not url:
        return None
    return marketplace_for_host(urlsplit(url if "://" in url else "https://" + url).hostname or "")


def default_currency(marketplace: Marketplace | None) -> str | None:
    return MARKETPLACES[marketplace].currency if marketplace else None


def fulfillment_of(sold_by: str | None, fulfilled_by: str | None) -> Fulfillment | None:
    """Sold by Amazon → AMZ; a third party shipped by Amazon → FBA; else FBM."""
    seller = (sold_by or "").strip().lower()
    shipper = (fulfilled_by or "").strip().lower()
    if seller.startswith("amazon"):
        return Fulfillment.AMAZON
    if shipper.startswith("amazon"):
        return Fulfillment.FBA
    if seller:
        return Fulfillment.FBM
    return None


_BLOCKED_WORDS = ("captcha", "robot", "blocked", "automated access", "access denied")


def looks_blocked(*texts: object) -> bool:
    joined = " ".join(str(t).lower() for t in texts if t)
    return any(word in joined for word in _BLOCKED_WORDS)
