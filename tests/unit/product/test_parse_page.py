"""A dataset page read into the batch's products: what is attributed, what is not, and the
per-status item counts operators watch."""

from __future__ import annotations

import uuid
from typing import Any

from prometheus_client import REGISTRY

from services.product.apify.adapters import adapter_for
from services.product.apify.item import CrawlStatus
from services.product.crawl import ProductLookup, parse_page
from tests.unit.product.test_adapters import AXESSO_ID, axesso_item

ACTOR = AXESSO_ID


def _items_counted(status: str) -> float:
    value = REGISTRY.get_sample_value(
        "shelfwatch_crawl_items_total", {"actor": ACTOR, "status": status}
    )
    return value or 0.0


class _Unreadable(dict[str, Any]):
    """An item whose every field read fails, as a malformed one can."""

    def get(self, key: str, default: Any = None) -> Any:
        raise ValueError("unreadable")


def test_a_page_is_read_into_the_batch_products_and_counted_per_status() -> None:
    lookup = ProductLookup([(11, "US", "B0D2XRXNGY"), (12, "DE", "B0BZV2K7QK")])
    page = [
        axesso_item(),
        axesso_item(url="https://www.amazon.de/dp/B0BZV2K7QK", productDetails=[]),  # no BSR
        axesso_item(url="https://www.amazon.com/dp/B000000001", asin="B000000001"),  # not ours
        axesso_item(url="https://www.amazon.com/gp/help", asin=None),  # no ASIN at all
        axesso_item(url="https://www.amazon.com/dp/B0D2XRXNGY", statusCode=503),
        _Unreadable(),
    ]
    before = {s: _items_counted(s) for s in ("ok", "partial", "blocked")}

    parsed, unattributed = parse_page(adapter_for(ACTOR), lookup, page, ACTOR, uuid.uuid4())

    assert [(pid, item.status) for pid, item in parsed] == [
        (11, CrawlStatus.OK),
        (12, CrawlStatus.PARTIAL),
        (11, CrawlStatus.BLOCKED),
    ]
    assert unattributed == 3
    assert {s: _items_counted(s) - before[s] for s in before} == {
        "ok": 1,
        "partial": 1,
        "blocked": 1,
    }
