"""The simulator's own endpoints and its bookkeeping of runs."""

from __future__ import annotations

import httpx
import pytest
from apify_client import ApifyClientAsync

from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer
from tests.integration.simulator.conftest import make_client
from tests.integration.simulator.test_client_flow import AXESSO, JUNGLEE, crawl, urls

pytestmark = pytest.mark.asyncio


async def test_runs_are_listed_with_their_asin_count(
    client: ApifyClientAsync, simulator: SimulatorServer
) -> None:
    await crawl(client, AXESSO, urls(7))
    await crawl(client, JUNGLEE, urls(3), max_items=2)
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        listed = (await http.get("/_sim/runs")).json()
        assert listed["total"] == 2
        assert [(r["actor"], r["asinCount"], r["itemCount"]) for r in listed["runs"]] == [
            (AXESSO, 7, 7),
            (JUNGLEE, 3, 2),
        ]
        assert (await http.get("/_sim/runs", params={"limit": 1})).json()["total"] == 1
        assert (await http.delete("/_sim/runs")).status_code == 200
        assert (await http.get("/_sim/runs")).json()["total"] == 0
        assert (await http.get("/_sim/health")).json() == {"status": "ok"}
    assert simulator.runs() == []


async def test_only_the_newest_runs_are_kept() -> None:
    with SimulatorServer(SimulatorConfig(max_runs=3)) as small:
        client = make_client(small)
        runs = [await crawl(client, AXESSO, urls(1)) for _ in range(5)]
        assert [r["id"] for r in small.runs()] == [run.id for run, _ in runs[2:]]
        assert await client.run(runs[0][0].id).get() is None


async def test_unknown_paths_answer_apify_style(simulator: SimulatorServer) -> None:
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        r = await http.get("/v2/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "page-not-found"
