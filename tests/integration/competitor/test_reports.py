"""Positioning reports: background runs, fresh data, the LLM through the stand-in, the cache,
and the rule-based fallback."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.competitor.runner import ReportRunner
from services.core.jobs import Queue, queue_key
from services.core.settings import Settings
from simulator.openai_sim import OpenAISimServer
from tests.factories import ingest, item
from tests.integration.competitor.conftest import (
    MAIN_ITEM,
    Seller,
    competitor_item,
    crawl_competitors,
)

GROUPS = "/api/v1/competitor-groups"
SeedSeller = Callable[..., Awaitable[Seller]]
MakeRunner = Callable[[Settings], ReportRunner]


async def _group(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    seller: Seller,
    age: timedelta = timedelta(minutes=10),
) -> dict[str, Any]:
    r = await client.post(
        GROUPS,
        headers=seller.auth,
        json={
            "name": "rivals",
            "main_tracked_product_id": seller.main_id,
            "competitors": seller.competitors,
        },
    )
    assert r.status_code == 201, r.text
    group: dict[str, Any] = r.json()
    await crawl_competitors(client, sessionmaker, seller, group, age)
    return group


async def _start(
    client: httpx.AsyncClient, seller: Seller, group: dict[str, Any], **params: Any
) -> dict[str, Any]:
    r = await client.post(f"{GROUPS}/{group['id']}/reports", headers=seller.auth, params=params)
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


async def _read(
    client: httpx.AsyncClient, seller: Seller, group: dict[str, Any], report_id: str
) -> dict[str, Any]:
    r = await client.get(f"{GROUPS}/{group['id']}/reports/{report_id}", headers=seller.auth)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"-?\d+(?:\.\d+)?", text))


async def test_without_a_key_the_report_is_rule_based_and_cites_the_comparison(
    client: httpx.AsyncClient,
    seed_seller: SeedSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    make_runner: MakeRunner,
    arq: ArqRedis,
) -> None:
    seller = await seed_seller()
    group = await _group(client, sessionmaker, seller)

    accepted = await _start(client, seller, group)

    assert accepted["status"] == "queued" and not accepted["deduplicated"]
    # The job waits on the low queue (the request itself did no analysis).
    assert await arq.zcard(queue_key(Queue.LOW)) == 1
    assert (await _read(client, seller, group, accepted["id"]))["status"] == "queued"
    outcome = await make_runner(settings).run(accepted["id"])
    assert outcome["status"] == "done"

    report = await _read(client, seller, group, accepted["id"])
    assert report["status"] == "done" and report["source"] == "rule_based"
    assert report["model"] is None and report["usage"]["cost_usd"] == "0.000000"
    assert report["simulated"] is False
    recs = report["report"]["recommendations"]
    assert 3 <= len(recs) <= 8 and [r["priority"] for r in recs] == list(range(1, len(recs) + 1))
    comparison = report["comparison"]
    cited = set().union(*(_numbers(r["rationale"]) for r in recs))
    assert comparison["price"]["median_competitor_price"] in cited  # 32.50
    assert str(comparison["bsr"]["main_rank"]) in cited
    assert all(not f["stale"] for f in report["freshness"])
    history = await client.get(f"{GROUPS}/{group['id']}/reports", headers=seller.auth)
    assert [h["id"] for h in history.json()["items"]] == [accepted["id"]]


async def test_llm_report_records_tokens_and_cost_then_is_served_from_the_cache(
    client: httpx.AsyncClient,
    seed_seller: SeedSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    llm_settings: Settings,
    openai_sim: OpenAISimServer,
    make_runner: MakeRunner,
) -> None:
    seller = await seed_seller()
    group = await _group(client, sessionmaker, seller)
    first = await _start(client, seller, group)
    llm_settings = llm_settings.model_copy(deep=True)
    llm_settings.openai.simulated = True

    await make_runner(llm_settings).run(first["id"])

    report = await _read(client, seller, group, first["id"])
    assert report["status"] == "done", report["failure_reason"]
    assert report["source"] == "llm" and report["model"] == "gpt-4o-mini"
    assert report["simulated"] is True  # said plainly: the stand-in wrote it
    assert report["prompt_version"] == "1" and not report["usage"]["from_cache"]
    assert report["usage"]["input_tokens"] > 0 and report["usage"]["output_tokens"] > 0
    assert float(report["usage"]["cost_usd"]) > 0
    assert openai_sim.requests == 1
    # The stand-in only saw the comparison, and its recommendations cite the comparison's
    # numbers back (so the numbers came from our input).
    sent = openai_sim.state.last_request["messages"][-1]["content"]  # type: ignore[index]
    assert '"median_competitor_price":"32.50"' in sent and "<html" not in sent
    recs = report["report"]["recommendations"]
    assert 3 <= len(recs) <= 8
    cited = set().union(*(re.findall(r"= (-?\d+(?:\.\d+)?)", r["rationale"]) for r in recs))
    assert cited and cited <= _numbers(sent)

    second = await _start(client, seller, group)
    assert second["id"] != first["id"] and not second["deduplicated"]
    await make_runner(llm_settings).run(second["id"])

    again = await _read(client, seller, group, second["id"])
    assert again["status"] == "done" and again["source"] == "llm"
    assert again["usage"]["from_cache"] is True and again["usage"]["cost_usd"] == "0.000000"
    assert again["report"] == report["report"]
    assert openai_sim.requests == 1  # zero calls for the cached report


async def test_running_report_is_deduplicated_unless_forced(
    client: httpx.AsyncClient,
    seed_seller: SeedSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    seller = await seed_seller()
    group = await _group(client, sessionmaker, seller)

    first = await _start(client, seller, group)
    same = await _start(client, seller, group)
    forced = await _start(client, seller, group, force="true")

    assert same == {"id": first["id"], "status": "queued", "deduplicated": True}
    assert forced["id"] != first["id"] and not forced["deduplicated"]
    r = await client.post(
        f"{GROUPS}/{group['id']}/reports", headers=seller.auth, params={"force": "maybe"}
    )
    assert r.status_code == 400


async def test_stale_members_are_refreshed_in_one_batch_without_holding_a_slot(
    client: httpx.AsyncClient,
    seed_seller: SeedSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    make_runner: MakeRunner,
    arq: ArqRedis,
) -> None:
    seller = await seed_seller(age=timedelta(hours=30))
    group = await _group(client, sessionmaker, seller, age=timedelta(hours=30))
    accepted = await _start(client, seller, group)
    runner = make_runner(settings)
    # Tracking the members asked for their first crawl already; only the report's own count.
    await arq.delete(queue_key(Queue.LOW), queue_key(Queue.CRITICAL))

    step = await runner.run(accepted["id"])

    # One crawl batch for all five members on the refresh path, and the report job came back
    # to the low queue with a delay instead of waiting in the worker.
    assert step == {"status": "refreshing_data"}
    assert await arq.zcard(queue_key(Queue.CRITICAL)) == 1
    assert await arq.zcard(queue_key(Queue.LOW)) == 1
    report = await _read(client, seller, group, accepted["id"])
    assert report["status"] == "refreshing_data"
    assert {f["asin"] for f in report["freshness"] if f["stale"]} == {
        seller.main_asin,
        *seller.competitors,
    }
    assert await runner.run(accepted["id"]) == {"status": "refreshing_data"}  # still crawling

    # The crawl brings fresh data for all but one competitor; then the analysis goes on.
    ingested = await client.get(f"/api/v1/products/{seller.main_id}", headers=seller.auth)
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    await ingest(
        sessionmaker, ingested.json()["product_id"], item(seller.main_asin, **MAIN_ITEM), now
    )
    for i, member in enumerate(group["competitors"][:3]):
        product = await client.get(
            f"/api/v1/products/{member['tracked_product_id']}", headers=seller.auth
        )
        await ingest(
            sessionmaker,
            product.json()["product_id"],
            item(member["asin"], **competitor_item(i)),
            now,
        )
    short = settings.model_copy(deep=True)
    short.competitor.fresh_data_wait_s = 0  # the bound has passed for the last one
    done = await make_runner(short).run(accepted["id"])

    assert done["status"] == "done"
    report = await _read(client, seller, group, accepted["id"])
    by_asin = {f["asin"]: f for f in report["freshness"]}
    assert all(f["stale"] for f in by_asin.values())
    assert by_asin[seller.main_asin]["refreshed"] is True
    left = by_asin[group["competitors"][3]["asin"]]
    assert left["refreshed"] is False and float(left["age_hours"]) >= 29.9


async def test_llm_timeout_fails_the_report_with_the_reason(
    client: httpx.AsyncClient,
    seed_seller: SeedSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    llm_settings: Settings,
    openai_sim: OpenAISimServer,
    make_runner: MakeRunner,
) -> None:
    seller = await seed_seller()
    group = await _group(client, sessionmaker, seller)
    accepted = await _start(client, seller, group)
    openai_sim.set_faults(slow=-1, slow_s=1.0)
    tuned = llm_settings.model_copy(deep=True)
    tuned.openai.timeout_s = 0.2
    tuned.openai.max_retries = 0

    await make_runner(tuned).run(accepted["id"])

    report = await _read(client, seller, group, accepted["id"])
    assert report["status"] == "failed" and report["source"] == "llm"
    assert report["failure_reason"].startswith("timeout:")
    assert report["comparison"] is not None and report["report"] is None
    # A failed report no longer blocks a new one.
    assert not (await _start(client, seller, group))["deduplicated"]


async def test_refused_twice_fails_the_report(
    client: httpx.AsyncClient,
    seed_seller: SeedSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    llm_settings: Settings,
    openai_sim: OpenAISimServer,
    make_runner: MakeRunner,
) -> None:
    seller = await seed_seller()
    group = await _group(client, sessionmaker, seller)
    accepted = await _start(client, seller, group)
    openai_sim.set_faults(refusal=-1)

    await make_runner(llm_settings).run(accepted["id"])

    report = await _read(client, seller, group, accepted["id"])
    assert report["status"] == "failed" and report["failure_reason"].startswith("refused:")
    assert openai_sim.requests == 2  # the answer and one repair attempt
