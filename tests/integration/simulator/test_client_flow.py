"""The crawl flow of our adapters, through the real apify-client: start, wait, page through."""

from __future__ import annotations

import gzip
import itertools
import json
import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from apify_client import ApifyClientAsync
from apify_client.errors import NotFoundError, UnauthorizedError

from simulator.server import SimulatorServer
from tests.integration.simulator.conftest import TOKEN, make_client

pytestmark = pytest.mark.asyncio

AXESSO = "axesso_data/amazon-product-details-scraper"
JUNGLEE = "junglee/amazon-crawler"


def urls(n: int, domain: str = "amazon.com", prefix: str = "B0SIM") -> list[str]:
    return [f"https://www.{domain}/dp/{prefix}{i:05d}" for i in range(n)]


def actor_input(actor: str, product_urls: list[str]) -> dict[str, Any]:
    if actor == AXESSO:
        return {"urls": product_urls}
    return {"categoryOrProductUrls": [{"url": u} for u in product_urls], "maxItemsPerStartUrl": 1}


async def crawl(
    client: ApifyClientAsync,
    actor: str,
    product_urls: list[str],
    page_size: int = 1000,
    **start: Any,
) -> tuple[Any, list[dict[str, Any]]]:
    """Start a run, wait for it, read every page: the crawler's flow."""
    run = await client.actor(actor).start(run_input=actor_input(actor, product_urls), **start)
    finished = await client.run(run.id).wait_for_finish(wait_duration=timedelta(seconds=30))
    assert finished is not None
    items: list[dict[str, Any]] = []
    while True:
        page = await client.dataset(finished.default_dataset_id).list_items(
            offset=len(items), limit=page_size
        )
        assert page.offset == len(items)
        items.extend(page.items)
        if not page.items or len(items) >= page.total:
            return finished, items


@pytest.mark.parametrize(("actor", "domain"), [(AXESSO, "amazon.com"), (JUNGLEE, "amazon.de")])
async def test_a_batch_run_pages_through_every_item(
    client: ApifyClientAsync, simulator: SimulatorServer, actor: str, domain: str
) -> None:
    product_urls = urls(230, domain)
    started = await client.actor(actor).start(
        run_input=actor_input(actor, product_urls),
        max_items=1000,
        max_total_charge_usd=Decimal("10"),
    )
    assert started.status == "RUNNING"
    assert started.default_dataset_id

    run, items = await crawl(client, actor, product_urls, page_size=100)
    assert run.status == "SUCCEEDED"
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.usage_total_usd == pytest.approx(230 * simulator.config.price_per_item_usd)
    assert [item["asin"] for item in items] == [u.rsplit("/", 1)[1] for u in product_urls]
    found = [i for i in items if i.get("statusCode", 200) == 200 and not i.get("error")]
    assert len(found) >= 200
    if actor == AXESSO:
        assert all(i["url"] in product_urls for i in items)
    else:
        assert all(i["price"] is None or i["price"]["currency"] == "€" for i in found)

    page = await client.dataset(run.default_dataset_id).list_items(offset=200, limit=100)
    assert (page.total, page.count, len(page.items)) == (230, 30, 30)
    assert [s["asinCount"] for s in simulator.runs()] == [230, 230]


async def test_items_are_deterministic_for_a_day_and_move_the_next_day(
    client: ApifyClientAsync, simulator: SimulatorServer
) -> None:
    product_urls = urls(60)
    _, today = await crawl(client, AXESSO, product_urls)
    _, again = await crawl(client, AXESSO, product_urls)
    assert today == again

    simulator.update_config(day_offset=1)
    _, tomorrow = await crawl(client, AXESSO, product_urls)
    changed = [a["asin"] for a, b in zip(today, tomorrow, strict=True) if a != b]
    assert len(changed) >= 20
    prices = sum(a.get("price") != b.get("price") for a, b in zip(today, tomorrow, strict=True))
    assert prices >= 10


async def test_sixty_days_are_eventful(
    client: ApifyClientAsync, simulator: SimulatorServer
) -> None:
    product_urls = urls(40, prefix="B0DAY")
    history: dict[str, list[dict[str, Any]]] = {}
    for day in range(60):
        simulator.update_config(day_offset=day)
        _, items = await crawl(client, JUNGLEE, product_urls)
        for item in items:
            history.setdefault(item["asin"], []).append(item)
    came_back = big_moves = retitled = 0
    for days in history.values():
        if any(d.get("error") for d in days):
            continue
        stock = [d["inStock"] for d in days]
        came_back += any(not a and b for a, b in itertools.pairwise(stock))
        prices = [d["price"]["value"] for d in days if d["price"]]
        big_moves += any(abs(b - a) > 0.1 * a for a, b in itertools.pairwise(prices))
        retitled += len({d["title"] for d in days}) > 1
    assert came_back >= 3
    assert big_moves >= 10
    assert retitled >= 5


async def test_max_items_caps_the_dataset(client: ApifyClientAsync) -> None:
    run, items = await crawl(client, AXESSO, urls(50), max_items=17)
    assert (run.status, len(items)) == ("SUCCEEDED", 17)
    assert run.options.max_items == 17


async def test_max_total_charge_caps_the_cost(
    client: ApifyClientAsync, simulator: SimulatorServer
) -> None:
    price = simulator.config.price_per_item_usd
    run, items = await crawl(client, AXESSO, urls(100), max_total_charge_usd=Decimal("0.1"))
    assert len(items) == math.floor(0.1 / price + 1e-9) < 100
    assert run.usage_total_usd is not None and run.usage_total_usd <= 0.1 + 1e-9


async def test_a_token_is_required_and_never_logged(
    simulator: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    anonymous = make_client(simulator, token=None)
    with pytest.raises(UnauthorizedError) as caught:
        await anonymous.actor(AXESSO).start(run_input={"urls": urls(1)})
    assert caught.value.type == "token-not-provided"
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        r = await http.post(f"/v2/acts/{AXESSO.replace('/', '~')}/runs", json={"urls": []})
        assert r.status_code == 401
        assert set(r.json()["error"]) == {"type", "message"}
        # A token in the URL would end up in access logs: refused even though Apify takes it.
        r = await http.get(f"/v2/actor-runs/x?token={TOKEN}")
        assert r.status_code == 401
    caplog.clear()  # our own httpx client above logged its URL; the simulator must log nothing
    with caplog.at_level("DEBUG"):
        await crawl(make_client(simulator), AXESSO, urls(3))
    assert TOKEN not in caplog.text


async def test_unknown_actor_run_and_dataset_are_404(client: ApifyClientAsync) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.actor("someone/else").start(run_input={"urls": urls(1)})
    assert caught.value.type == "record-not-found"
    assert await client.run("NoSuchRun00000000").get() is None
    assert await client.dataset("NoSuchDataset0000").get() is None


async def test_bad_input_and_parameters_are_400_and_compressed_input_is_read(
    simulator: SimulatorServer,
) -> None:
    path = f"/v2/acts/{AXESSO.replace('/', '~')}/runs"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=simulator.url, headers=auth) as http:
        r = await http.post(path, json={"startUrls": []})
        assert r.status_code == 400
        assert r.json()["error"]["type"] == "invalid-input"
        r = await http.post(path, params={"maxItems": "many"}, json={"urls": []})
        assert r.status_code == 400
        # apify-client gzips bodies of 1 KiB and more.
        body = gzip.compress(json.dumps({"urls": urls(3)}).encode())
        r = await http.post(
            path,
            content=body,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
        assert r.status_code == 201, r.text
        assert simulator.runs()[-1]["asinCount"] == 3


async def test_a_run_with_a_duration_can_be_waited_for_polled_and_aborted(
    client: ApifyClientAsync, simulator: SimulatorServer
) -> None:
    simulator.update_config(run_duration_s=1.0)
    started = await client.actor(AXESSO).start(run_input={"urls": urls(20)})
    assert (await client.run(started.id).get()).status == "RUNNING"  # type: ignore[union-attr]
    short = await client.run(started.id).wait_for_finish(wait_duration=timedelta(seconds=0.2))
    assert short is not None and short.status == "RUNNING"
    done = await client.run(started.id).wait_for_finish(wait_duration=timedelta(seconds=10))
    assert done is not None and done.status == "SUCCEEDED"
    assert (done.finished_at - done.started_at).total_seconds() >= 1.0  # type: ignore[operator]

    simulator.update_config(run_duration_s=30.0)
    long = await client.actor(AXESSO).start(run_input={"urls": urls(20)})
    aborted = await client.run(long.id).abort()
    assert aborted.status == "ABORTED"
    final = await client.run(long.id).wait_for_finish(wait_duration=timedelta(seconds=5))
    assert final is not None and final.status == "ABORTED"


async def test_list_items_options(client: ApifyClientAsync) -> None:
    run, items = await crawl(client, AXESSO, urls(10))
    dataset = client.dataset(run.default_dataset_id)
    newest_first = await dataset.list_items(desc=True, limit=3)
    assert [i["asin"] for i in newest_first.items] == [i["asin"] for i in items[::-1][:3]]
    slim = await dataset.list_items(fields=["asin", "price"], limit=2)
    assert [set(i) for i in slim.items] == [{"asin", "price"}] * 2
    info = await dataset.get()
    assert info is not None and info.item_count == 10
