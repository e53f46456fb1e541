"""Reading what a seller pastes — a bare ASIN or an Amazon product URL — into (ASIN, marketplace).

Accepted URL shapes: ``/dp/ASIN``, ``/<slug>/dp/ASIN/ref=…``, ``/gp/product/ASIN``,
``/gp/aw/d/ASIN`` (mobile), ``/gp/offer-listing/ASIN`` and ``/exec/obidos/ASIN/<ASIN>``, with or
without scheme, query string or fragment, on any supported storefront (``www.``, ``smile.`` and
``m.`` hosts included). The marketplace always comes from the host, never from a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.product.marketplaces import MARKETPLACES, Marketplace, marketplace_for_host

ASIN_PATTERN = re.compile(r"^[A-Z0-9]{10}$")

# The path segment that introduces the ASIN, then the ASIN as a whole segment.
_PATH_ASIN = re.compile(
    r"/(?:dp|gp/product|gp/aw/d|gp/offer-listing|exec/obidos/asin|exec/obidos/tg/detail/-)"
    r"/([A-Za-z0-9]{10})(?=/|$)",
    re.IGNORECASE,
)
# Another Amazon storefront (amazon.in, amazon.com.br, …), to say "unsupported", not "not Amazon".
_OTHER_AMAZON = re.compile(r"(?:^|\.)amazon\.(?:com?\.)?[a-z]{2,3}$")
_SHORT_LINK_HOSTS = frozenset({"amzn.to", "amzn.eu", "amzn.asia", "a.co"})
_SUPPORTED = ", ".join(info.domain for info in MARKETPLACES.values())


class InvalidProductReference(ValueError):
    """The text is neither a valid ASIN nor a product URL of a supported Amazon storefront."""


@dataclass(frozen=True, slots=True)
class ProductReference:
    asin: str
    marketplace: Marketplace | None


def is_valid_asin(value: str) -> bool:
    """Whether ``value`` is exactly an ASIN: 10 upper-case letters or digits."""
    return ASIN_PATTERN.fullmatch(value) is not None


def find_asin_in_url(url: str) -> str | None:
    """The ASIN in an Amazon product URL's path, whatever its host; None when there is none."""
    path = urlsplit(url if "://" in url else "https://" + url.lstrip("/")).path
    match = _PATH_ASIN.search(path)
    return match.group(1).upper() if match else None


def parse_product_reference(
    text: str, default_marketplace: Marketplace | None = None
) -> ProductReference:
    """The ASIN and marketplace a seller means by an ASIN or an Amazon product URL."""
    value = text.strip()
    if not value:
        raise InvalidProductReference("Enter an ASIN or an Amazon product URL")
    if "/" in value or "." in value:
        return _from_url(value)
    asin = value.upper()
    if not is_valid_asin(asin):
        raise InvalidProductReference(
            f"{_shown(value)} is not an ASIN (10 letters and digits) nor an Amazon product URL"
        )
    return ProductReference(asin, default_marketplace)


def _from_url(value: str) -> ProductReference:
    url = value if "://" in value else "https://" + value.lstrip("/")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:  # "Invalid IPv6 URL" and the like
        raise InvalidProductReference(f"{_shown(value)} is not a valid URL") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidProductReference(f"{_shown(value)} is not an http(s) URL")
    host = (hostname or "").lower().rstrip(".")
    marketplace = _marketplace(host, value)
    match = _PATH_ASIN.search(parts.path)
    if match is None:
        raise InvalidProductReference(
            f"No ASIN found in {_shown(value)}: paste a product page URL (…/dp/ASIN) or the ASIN"
        )
    return ProductReference(match.group(1).upper(), marketplace)


def _marketplace(host: str, value: str) -> Marketplace:
    if host in _SHORT_LINK_HOSTS:
        raise InvalidProductReference(
            "Short links cannot be read; open the link and paste the full product URL"
        )
    # Mobile hosts are not in the marketplace table, but point at the same storefront.
    marketplace = marketplace_for_host(host) or marketplace_for_host(host.removeprefix("m."))
    if marketplace is not None:
        return marketplace
    if _OTHER_AMAZON.search(host):
        raise InvalidProductReference(
            f"{host} is not a supported Amazon marketplace (supported: {_SUPPORTED})"
        )
    raise InvalidProductReference(f"{_shown(value)} is not an Amazon product URL")


def _shown(value: str) -> str:
    # Error messages go back to the seller: quote what they pasted, but not a whole essay.
    return repr(value if len(value) <= 80 else value[:77] + "...")
