"""First data fast: a newly tracked product is crawled within a minute, in a small batch with the
other new products, without waiting for the next planning tick."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.embedded import free_port
from services.product.models import CrawlRun, Product
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e, pytest.mark.timeout(180)]
PASSWORD = "a-Strong-passw0rd"


async def test_new_products_are_crawled_together_within_a_minute(
    stack: Stack, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    port = free_port()
    # The planning tick comes once an hour, and its start-up pass runs before anything is
    # tracked: only the first-crawl pass can crawl these products inside the minute.
    hourly = {"SHELFWATCH_CRAWL__PLAN_INTERVAL_MINUTES": "60"}
    stack.start("sim", "apify-sim", "--port", stack.env["SHELFWATCH_SIM_PORT"])
    stack.start("gateway", "gateway", "--port", str(port))
    stack.start("worker", "worker", extra_env=hourly)
    stack.start("scheduler", "scheduler", extra_env=hourly)
    stack.wait_port("sim", int(stack.env["SHELFWATCH_SIM_PORT"]), 60)
    stack.wait_port("gateway", port, 90)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        await http.post(
            "/api/v1/auth/register", json={"email": "first@example.com", "password": PASSWORD}
        )
        r = await http.post(
            "/api/v1/auth/login", json={"email": "first@example.com", "password": PASSWORD}
        )
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        tracked_at = time.monotonic()
        r = await http.post(
            "/api/v1/products", headers=auth, json={"product": "B000F1RST1", "marketplace": "US"}
        )
        assert r.status_code == 201, r.text
        r = await http.post(
            "/api/v1/products/bulk",
            headers=auth,
            json={
                "items": [
                    {"product": "B000F1RST2", "marketplace": "US"},
                    {"product": "B000F1RST3", "marketplace": "US"},
                ]
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["tracked"] == 2, r.text

    asins = {"B000F1RST1", "B000F1RST2", "B000F1RST3"}
    while True:
        async with sessionmaker() as session:
            products = {
                p.id: p
                for p in (await session.execute(select(Product).where(Product.asin.in_(asins))))
                .scalars()
                .all()
            }
            runs = [
                run
                for run in (await session.execute(select(CrawlRun))).scalars().all()
                if set(run.product_ids) & set(products)
            ]
        # A product's crawl time is written with its page, a run's end just after: wait for both.
        crawled = len(products) == 3 and all(
            p.last_crawled_at is not None for p in products.values()
        )
        if crawled and all(r.status not in ("queued", "running") for r in runs):
            break
        assert time.monotonic() - tracked_at < 60, (
            f"not crawled within a minute: runs {[(r.trigger, r.status) for r in runs]}\n"
            + stack.log("worker")[-3000:]
        )
        await asyncio.sleep(0.5)
    assert {r.trigger for r in runs} == {"first"}
    assert {r.status for r in runs} == {"succeeded"}
    # Tracked within a second of each other: one batch (two if a batching window closed between).
    assert len(runs) <= 2
    assert sorted(pid for r in runs for pid in r.product_ids) == sorted(products)
