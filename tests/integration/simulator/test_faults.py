"""Every fault switch has an effect the real client (and so the crawler) can observe."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from apify_client import ApifyClientAsync
from apify_client.errors import RateLimitError, ServerError

from simulator.server import SimulatorServer
from tests.integration.simulator.conftest import make_client
from tests.integration.simulator.test_client_flow import AXESSO, JUNGLEE, crawl, urls

pytestmark = pytest.mark.asyncio


async def test_429s_are_retried_by_the_client_and_the_flow_succeeds(
    client: ApifyClientAsync, simulator: SimulatorServer
) -> None:
    simulator.update_config(rate_429=0.3)
    run, items = await crawl(client, AXESSO, urls(120), page_size=10)
    assert (run.status, len(items)) == ("SUCCEEDED", 120)
    assert simulator.injected_errors().get(429, 0) > 0


async def test_5xx_are_retried_by_the_client_and_the_flow_succeeds(
    client: ApifyClientAsync, simulator: SimulatorServer
) -> None:
    simulator.update_config(rate_5xx=0.3)
    run, items = await crawl(client, JUNGLEE, urls(120), page_size=10)
    assert (run.status, len(items)) == ("SUCCEEDED", 120)
    assert sum(n for code, n in simulator.injected_errors().items() if code >= 500) > 0


async def test_transport_faults_exhaust_a_client_without_retries(
    simulator: SimulatorServer,
) -> None:
    simulator.update_config(rate_429=1.0)
    with pytest.raises(RateLimitError):
        await make_client(simulator, max_retries=1).actor(AXESSO).start(run_input={"urls": []})
    simulator.update_config(rate_429=0.0, rate_5xx=1.0)
    with pytest.raises(ServerError):
        await make_client(simulator, max_retries=0).actor(AXESSO).start(run_input={"urls": []})


async def test_failed_runs_come_back_failed_with_a_partial_dataset(
    client: ApifyClientAsync, simulator: SimulatorServer
) -> None:
    simulator.update_config(failed_run_rate=1.0)
    run, items = await crawl(client, AXESSO, urls(40))
    assert run.status == "FAILED"
    assert run.exit_code == 1
    assert len(items) == 20


@pytest.mark.parametrize("actor", [AXESSO, JUNGLEE])
async def test_blocked_items_appear(
    client: ApifyClientAsync, simulator: SimulatorServer, actor: str
) -> None:
    simulator.update_config(blocked_rate=0.5)
    _, items = await crawl(client, actor, urls(100))
    if actor == AXESSO:
        blocked = [i for i in items if i["statusCode"] == 503 and i["statusMessage"] == "CAPTCHA"]
    else:
        blocked = [i for i in items if i.get("error") == "CAPTCHA"]
    assert 25 <= len(blocked) <= 75
    assert len(items) == 100


async def test_items_with_missing_fields_appear(
    client: ApifyClientAsync, simulator: SimulatorServer
) -> None:
    _, complete = await crawl(client, JUNGLEE, urls(60))
    simulator.update_config(missing_fields_rate=1.0)
    _, partial = await crawl(client, JUNGLEE, urls(60))
    lacking = {"title": 0, "price": 0, "bsr": 0}
    for before, after in zip(complete, partial, strict=True):
        if before.get("error"):
            continue
        lacking["title"] += after["title"] is None and before["title"] is not None
        lacking["price"] += after["price"] is None and before["price"] is not None
        lacking["bsr"] += after["bestsellerRanks"] == [] != before["bestsellerRanks"]
    assert all(n > 0 for n in lacking.values()), lacking


async def test_missing_asins_are_silently_absent(
    client: ApifyClientAsync, simulator: SimulatorServer
) -> None:
    product_urls = urls(200)
    simulator.update_config(missing_asin_rate=0.3)
    run, items = await crawl(client, AXESSO, product_urls)
    assert run.status == "SUCCEEDED"
    present = [i["asin"] for i in items]
    asked = [u.rsplit("/", 1)[1] for u in product_urls]
    assert 30 <= len(asked) - len(present) <= 90
    assert present == [a for a in asked if a in set(present)]  # order kept, nothing invented
    simulator.update_config(missing_asin_rate=1.0)
    _, none = await crawl(client, AXESSO, product_urls)
    assert none == []


async def test_latency_slows_every_api_request(
    client: ApifyClientAsync, simulator: SimulatorServer
) -> None:
    simulator.update_config(latency_ms=150)
    begin = time.perf_counter()
    run = await client.actor(AXESSO).start(run_input={"urls": urls(2)})
    await client.run(run.id).wait_for_finish(wait_duration=timedelta(seconds=5))
    assert time.perf_counter() - begin >= 0.3


async def test_faults_can_be_switched_at_runtime_over_http(simulator: SimulatorServer) -> None:
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        r = await http.put("/_sim/config", json={"blocked_rate": 0.25, "day_offset": 3})
        assert r.status_code == 200, r.text
        assert (r.json()["blocked_rate"], r.json()["day_offset"]) == (0.25, 3)
        assert simulator.config.blocked_rate == 0.25
        assert (await http.get("/_sim/config")).json()["day_offset"] == 3
        bad = await http.put("/_sim/config", json={"rate_429": 2})
        assert bad.status_code == 400
        assert bad.json()["error"]["type"] == "invalid-input"
        unknown = await http.put("/_sim/config", json={"nonsense": 1})
        assert unknown.status_code == 400
        assert simulator.config.rate_429 == 0.0
        status = (await http.get("/_sim")).json()
        assert status["simulated"] is True and status["config"]["day_offset"] == 3
