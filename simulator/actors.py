"""The actors the simulator knows: how each one reads its input and renders its items."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from services.product.marketplaces import Marketplace, marketplace_for_host
from simulator.catalog import ProductState
from simulator.formats import (
    Omission,
    axesso_blocked,
    axesso_item,
    axesso_not_found,
    junglee_error,
    junglee_item,
)

# Scheme, host, then a product path anywhere before the query: /dp/ASIN, /gp/product/ASIN, …
_PRODUCT_URL = re.compile(
    r"^https?://([^/?#:]+)(?::\d+)?(?:/[^?#]*?)?/(?:dp|gp/product|gp/aw/d)/([A-Z0-9]{10})(?=[/?#]|$)",
    re.IGNORECASE,
)
_HOST = re.compile(r"^https?://([^/?#:]+)", re.IGNORECASE)


class InputError(ValueError):
    """The run input does not match the actor's input schema."""


@dataclass(frozen=True, slots=True)
class Actor:
    """One simulated actor."""

    name: str
    actor_id: str
    input_urls: Callable[[dict[str, Any]], list[str]]
    render: Callable[[ProductState, str, Omission], dict[str, Any]]
    not_found: Callable[[str, str | None], dict[str, Any]]
    blocked: Callable[[str, str | None], dict[str, Any]]


def _string_list(value: object, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(url, str) for url in value):
        raise InputError(f"Input is not valid: field input.{field} must be an array of strings")
    return value


def _axesso_urls(run_input: dict[str, Any]) -> list[str]:
    if "urls" not in run_input:
        raise InputError("Input is not valid: field input.urls is required")
    return _string_list(run_input["urls"], "urls")


def _junglee_urls(run_input: dict[str, Any]) -> list[str]:
    raw = run_input.get("categoryOrProductUrls")
    if not isinstance(raw, list):
        raise InputError("Input is not valid: field input.categoryOrProductUrls is required")
    # Request-list sources are objects with a "url"; plain strings are accepted as Apify does.
    urls = [entry.get("url") if isinstance(entry, dict) else entry for entry in raw]
    return _string_list(urls, "categoryOrProductUrls")


AXESSO = Actor(
    name="axesso_data/amazon-product-details-scraper",
    actor_id="7KgyOHHEiPEcilZXM",
    input_urls=_axesso_urls,
    render=axesso_item,
    not_found=axesso_not_found,
    blocked=axesso_blocked,
)
JUNGLEE = Actor(
    name="junglee/amazon-crawler",
    actor_id="BG3WDrGdteHgZgbPK",
    input_urls=_junglee_urls,
    render=junglee_item,
    not_found=lambda url, asin: junglee_error(
        url, asin, "NOT_FOUND", "Product page returned 404 Not Found"
    ),
    blocked=lambda url, asin: junglee_error(
        url, asin, "CAPTCHA", "Request was blocked by Amazon with a robot check (captcha)"
    ),
)
ACTORS: dict[str, Actor] = {actor.name: actor for actor in (AXESSO, JUNGLEE)}


def actor_for(reference: str) -> Actor | None:
    """The actor a URL path names: ``user~name`` (as the client sends it), ``user/name`` or id."""
    wanted = unquote(reference).replace("~", "/").lower()
    for actor in ACTORS.values():
        if wanted in (actor.name, actor.actor_id.lower()):
            return actor
    return None


def parse_product_url(url: str) -> tuple[Marketplace | None, str | None]:
    """The marketplace (from the host) and ASIN (from the path) of a product page URL."""
    match = _PRODUCT_URL.match(url)
    if match is None:
        host = _HOST.match(url)
        return (marketplace_for_host(host.group(1)) if host else None), None
    return marketplace_for_host(match.group(1)), match.group(2).upper()
