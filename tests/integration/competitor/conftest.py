"""A seller with a main product and competitors that have crawled data."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.competitor.runner import ReportRunner
from services.core.settings import Settings
from services.core.uow import unit_of_work
from services.llm import LlmService, OpenAIConnector
from services.product.apify.item import BsrEntry, ListingContent
from tests.factories import ingest, item, make_asin

MakeSeller = Callable[..., Awaitable[dict[str, str]]]
PROBLEM = "application/problem+json"


@dataclass
class Seller:
    auth: dict[str, str]
    main_id: str
    main_asin: str
    main_product_id: int
    competitors: list[str]


def listing(title: str, bullets: tuple[str, ...], images: int = 5) -> ListingContent:
    return ListingContent(
        title=title,
        brand="Acme",
        bullets=bullets,
        images=tuple(f"{i}.jpg" for i in range(images)),
    )


MAIN_ITEM = {
    "price": Decimal("25.00"),
    "buybox_price": Decimal("25.00"),
    "rating": Decimal("4.5"),
    "review_count": 800,
    "bsr": (BsrEntry(3000, "Electronics"), BsrEntry(25, "Open-Ear Headphones")),
    "listing": listing(
        "Acme Open-Ear Headphones Bluetooth 5.4 with Titanium Frame",
        ("Stay Aware: hear traffic.", "Titanium Frame: bends without breaking."),
    ),
}
COMPETITOR_PRICES = [Decimal("20.00"), Decimal("40.00"), Decimal("30.00"), Decimal("35.00")]


def competitor_item(i: int) -> dict[str, Any]:
    return {
        "price": COMPETITOR_PRICES[i],
        "buybox_price": COMPETITOR_PRICES[i],
        "buybox_seller": f"Shop{i}",
        "rating": Decimal("4.2"),
        "review_count": 1000 + 100 * i,
        "bsr": (BsrEntry(4000 + i, "Electronics"), BsrEntry(10 + 10 * i, "Open-Ear Headphones")),
        "listing": listing(
            f"Rival {i} Open-Ear Headphones",
            ("Long Battery Life: 36 hours.", "Clear Calls: four mics."),
        ),
    }


@pytest.fixture
def seed_seller(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> Callable[..., Awaitable[Seller]]:
    """A seller tracking one own product; ``crawled`` writes data for it and 4 competitor ASINs
    (the competitors are not tracked yet: the group tracks them)."""

    async def make(age: timedelta = timedelta(minutes=10), crawled: bool = True) -> Seller:
        auth = await make_seller()
        main_asin = make_asin("B0M")
        r = await client.post(
            "/api/v1/products", headers=auth, json={"product": main_asin, "marketplace": "US"}
        )
        assert r.status_code == 201, r.text
        main = r.json()
        competitors = [make_asin("B0C") for _ in range(4)]
        when = datetime.now(UTC) - age
        if crawled:
            await ingest(sessionmaker, main["product_id"], item(main_asin, **MAIN_ITEM), when)
        return Seller(auth, main["id"], main_asin, main["product_id"], competitors)

    return make


async def crawl_competitors(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    seller: Seller,
    group: dict[str, Any],
    age: timedelta = timedelta(minutes=10),
) -> None:
    """Good data for the group's competitors, captured ``age`` ago."""
    when = datetime.now(UTC) - age
    for member in group["competitors"]:
        r = await client.get(
            f"/api/v1/products/{member['tracked_product_id']}", headers=seller.auth
        )
        index = (
            seller.competitors.index(member["asin"]) if member["asin"] in seller.competitors else 0
        )
        await ingest(
            sessionmaker,
            r.json()["product_id"],
            item(member["asin"], **competitor_item(index)),
            when,
        )


@pytest.fixture
async def make_runner(
    sessionmaker: async_sessionmaker[AsyncSession], arq: ArqRedis
) -> AsyncIterator[Callable[[Settings], ReportRunner]]:
    """The report runner as a worker builds it, for the given settings."""
    gateways: list[OpenAIConnector] = []

    def make(settings: Settings) -> ReportRunner:
        gateways.append(OpenAIConnector(settings.openai))
        factory = functools.partial(unit_of_work, sessionmaker, arq)
        return ReportRunner(factory, settings, arq, LlmService(factory, gateways[-1]))

    yield make
    for gateway in gateways:
        await gateway.aclose()
