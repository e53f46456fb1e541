"""The one interface every actor adapter offers, and the judgements all actors share."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit

from services.product.apify.item import CrawlStatus, Fulfillment, ParsedItem
from services.product.apify.parsing import clean_text
from services.product.asin import find_asin_in_url, is_valid_asin
from services.product.marketplaces import MARKETPLACES, Marketplace, marketplace_for_host


class ActorAdapter(Protocol):
    """Builds an actor's run input and reads its dataset items into ``ParsedItem``."""

    actor_id: str

    def build_input(self, urls: Sequence[str]) -> dict[str, Any]:
        """The actor's run input for a batch of canonical product URLs."""
        ...

    def decode_page(self, body: bytes) -> list[Any]:
        """A dataset page's items, in the form ``parse`` reads fastest."""
        ...

    def parse(self, item: Any) -> ParsedItem | None:
        """The normalised item (one of ``decode_page``'s, or a mapping of the actor's JSON);
        None only when it cannot be attributed to an ASIN."""
        ...


_BLOCKED = re.compile(
    r"captcha|robot|blocked|bot[ _-]?check|automated access|access[ _-]?denied|forbidden"
    r"|throttl|rate[ _-]?limit|too many requests",
    re.IGNORECASE,
)
_NOT_FOUND = re.compile(
    r"not[ _-]?found|does ?n[o']t exist|no longer exists|no[ _-]?such|dogs of amazon"
    r"|\b404\b|\b410\b",
    re.IGNORECASE,
)
_BLOCKED_CODES = frozenset({403, 429, 503})
_NOT_FOUND_CODES = frozenset({404, 410})
# "Amazon", "Amazon.com", "Amazon.co.uk", "Amazon EU S.à r.l.", "Amazon.com Services LLC" — but
# not third-party names that merely start with the word ("Amazonas Trading").
_AMAZON = re.compile(r"^amazon(?![a-z0-9])", re.IGNORECASE)
# The byline's "Visit the X Store" in every storefront's language.
_STORE_LINK = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"^visit the (?P<brand>.+?) store$",
        r"^besuchen sie den (?P<brand>.+?)[- ]store$",
        r"^besuche den (?P<brand>.+?)[- ]store$",
        r"^visite[rz]? la boutique (?:de |d')?(?P<brand>.+)$",
        r"^visita lo store di (?P<brand>.+)$",
        r"^visita la tienda de (?P<brand>.+)$",
        r"^(?P<brand>.+?)のストアを表示$",
        r"^(?:brand|marke|marque|marca|ブランド)\s*[:\uff1a]\s*(?P<brand>.+)$",
    )
)


# The canonical product URL (``product_url``), the form every actor input uses and actors echo
# back: its (ASIN, marketplace) is read without a general URL parse.
_CANONICAL_PREFIXES = {
    f"https://www.{info.domain}/dp/": code for code, info in MARKETPLACES.items()
}
_CANONICAL_ASIN = re.compile(r"[A-Z0-9]{10}")


def canonical_of(url: str) -> tuple[str, Marketplace] | None:
    """(ASIN, marketplace) of a URL exactly as ``product_url`` writes it, else None."""
    cut = url.find("/dp/") + 4
    marketplace = _CANONICAL_PREFIXES.get(url[:cut]) if cut > 4 else None
    if marketplace is None or _CANONICAL_ASIN.fullmatch(url, cut) is None:
        return None
    return url[cut:], marketplace


def marketplace_of(*urls: Any) -> Marketplace | None:
    """The marketplace of the first URL whose host is a supported Amazon storefront."""
    for url in urls:
        if isinstance(url, str) and (canonical := canonical_of(url)) is not None:
            return canonical[1]
        if isinstance(url, str) and url.strip():
            text = url.strip()
            host = urlsplit(text if "://" in text else "https://" + text.lstrip("/")).hostname
            found = marketplace_for_host(host or "")
            if found is not None:
                return found
    return None


def currency_of(marketplace: Marketplace | None) -> str | None:
    """The marketplace's currency, the default for amounts shown without one."""
    return MARKETPLACES[marketplace].currency if marketplace is not None else None


def asin_of(*candidates: Any) -> str | None:
    """The first ASIN found among candidates that are ASINs or product URLs."""
    for candidate in candidates:
        if not isinstance(candidate, str):
            continue
        canonical = canonical_of(candidate)
        if canonical is not None:
            return canonical[0]
        if not candidate.strip():
            continue
        text = candidate.strip()
        if is_valid_asin(text.upper()):
            return text.upper()
        found = find_asin_in_url(text) if "/" in text else None
        if found is not None:
            return found
    return None


def status_code_of(value: Any) -> int | None:
    """An HTTP-like status code given as a number or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


# Pure, and nearly every item of a run carries the same code and message ("200", "FOUND"): each
# pair is judged once instead of by two pattern searches per item.
@lru_cache(maxsize=1024)
def failure_of(code: int | None, message: str | None) -> CrawlStatus | None:
    """NOT_FOUND, BLOCKED or ERROR when the code or message says the page was not read."""
    text = message or ""
    if code in _NOT_FOUND_CODES:
        return CrawlStatus.NOT_FOUND
    if code in _BLOCKED_CODES or _BLOCKED.search(text):
        return CrawlStatus.BLOCKED
    if _NOT_FOUND.search(text):
        return CrawlStatus.NOT_FOUND
    if code is not None and not 200 <= code < 300:
        return CrawlStatus.ERROR
    return None


def content_status(
    title: str | None, price: object | None, in_stock: bool | None, bsr: Sequence[object]
) -> tuple[CrawlStatus, str | None]:
    """OK, or PARTIAL with what is missing, for a page that was read.

    Every field a change rule compares must be there for OK: detection compares OK snapshots,
    so an OK page without its BSR would stand in for the last real rank and hide a real move.
    """
    missing = []
    if title is None:
        missing.append("title")
    # An unavailable product legitimately shows no price: that page is complete, and it must
    # stay OK so that "out of stock" is seen by change detection.
    if price is None and in_stock is not False:
        missing.append("price")
    if not bsr:
        missing.append("bsr")
    if missing:
        return CrawlStatus.PARTIAL, "missing " + " and ".join(missing)
    return CrawlStatus.OK, None


def is_amazon(name: str | None) -> bool:
    """Whether a seller or shipper name is Amazon itself."""
    return name is not None and _AMAZON.match(name.strip()) is not None


def fulfillment_of(seller: str | None, shipper: str | None) -> Fulfillment | None:
    """AMAZON when Amazon sells, FBA when Amazon ships for a third party, else FBM."""
    if seller is None:
        return None
    if is_amazon(seller):
        return Fulfillment.AMAZON
    if is_amazon(shipper):
        return Fulfillment.FBA
    return Fulfillment.FBM


def brand_from_byline(value: Any) -> str | None:
    """The brand in a byline such as "Visit the Soundcore Store" or "Brand: Soundcore"."""
    text = clean_text(value)
    if text is None:
        return None
    for pattern in _STORE_LINK:
        match = pattern.match(text)
        if match:
            return clean_text(match.group("brand"))
    return text
