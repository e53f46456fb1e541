"""The optimization module over HTTP with a real worker: score, ranked suggestions, decisions,
experiments evaluated after their window, the LLM path against the stand-in, bad inputs, tenancy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler.cron import schedules
from services.core.jobs import JobRequest, Queue, create_arq_pool, send_job
from services.core.settings import Settings
from services.optimization.models import OptimizationRun
from services.optimization.schemas import RULE_BASED_NOTE
from simulator.openai_sim import OpenAISimServer
from tests.factories import ingest, item
from tests.integration.conftest import app_client
from tests.integration.optimization.conftest import (
    COMPETITORS,
    MakeSeller,
    Seeded,
    product_id,
    run_low_queue,
    seed_history,
    seed_seller,
)

pytestmark = pytest.mark.asyncio
PROBLEM = "application/problem+json"


async def finished_run(
    client: httpx.AsyncClient, settings: Settings, seeded: Seeded
) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/products/{seeded.tracking_id}/optimization-runs", headers=seeded.auth
    )
    assert r.status_code == 202, r.text
    await run_low_queue(settings)
    r = await client.get(f"/api/v1/optimization-runs/{r.json()['run_id']}", headers=seeded.auth)
    assert r.status_code == 200
    run: dict[str, Any] = r.json()
    assert run["status"] == "done", run
    return run


def of_type(run: dict[str, Any], kind: str, source: str = "rules") -> dict[str, Any]:
    return next(s for s in run["suggestions"] if s["type"] == kind and s["source"] == source)


async def evaluate_due(settings: Settings) -> None:
    """What the scheduler's cron entry does (enqueue), then a worker drains `low`."""
    assert any(
        s.function == "optimization.evaluate_due_experiments" and s.queue is Queue.LOW
        for s in schedules(settings)
    )
    redis = await create_arq_pool(settings)
    await send_job(
        redis, JobRequest("optimization.evaluate_due_experiments", Queue.LOW, {}, "test-cron")
    )
    await redis.aclose()
    await run_low_queue(settings)


async def test_score_and_ranked_rule_suggestions_through_the_api(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    seeded = await seed_seller(client, make_seller, sessionmaker)
    base = f"/api/v1/products/{seeded.tracking_id}"
    score = (await client.get(f"{base}/listing-score", headers=seeded.auth)).json()
    assert score["total"] < 40
    assert [c["name"] for c in score["components"]] == [
        "title",
        "bullets",
        "description",
        "images",
        "price_position",
        "rating_reviews",
    ]
    assert all(c["raise_by"] for c in score["components"])
    assert score["as_of"] is not None

    first = (await client.post(f"{base}/optimization-runs", headers=seeded.auth)).json()
    again = (await client.post(f"{base}/optimization-runs", headers=seeded.auth)).json()
    assert first["deduplicated"] is False and first["status"] == "queued"
    assert again == {**first, "deduplicated": True}
    await run_low_queue(settings)

    run = (
        await client.get(f"/api/v1/optimization-runs/{first['run_id']}", headers=seeded.auth)
    ).json()
    assert run["status"] == "done" and run["source"] == "rules"
    assert run["note"] == RULE_BASED_NOTE
    assert run["score_total"] == score["total"]
    suggestions = run["suggestions"]
    assert {s["type"] for s in suggestions} == {"title", "pricing", "bullets", "images", "keywords"}
    impacts = [float(s["expected_impact"]) for s in suggestions]
    assert impacts == sorted(impacts, reverse=True)
    assert [s["rank"] for s in suggestions] == list(range(1, len(suggestions) + 1))
    pricing = of_type(run, "pricing")
    assert "29.99" in pricing["reason"] and "21.99" in pricing["reason"]
    assert pricing["proposed_change"]["proposed"] == 21.99
    assert "(3 of 3)" in of_type(run, "keywords")["reason"]
    title = of_type(run, "title")["proposed_change"]
    assert len(title["proposed"]) <= title["limit"] == 200

    latest = (await client.get(f"{base}/suggestions", headers=seeded.auth)).json()
    assert latest["id"] == run["id"]
    history = (await client.get(f"{base}/optimization-runs", headers=seeded.auth)).json()
    assert history["total"] == 1 and history["items"][0]["score_total"] == score["total"]
    # A finished run does not block the next one.
    third = (await client.post(f"{base}/optimization-runs", headers=seeded.auth)).json()
    assert third["deduplicated"] is False and third["run_id"] != first["run_id"]


async def test_accept_dismiss_apply_and_their_refusals(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    seeded = await seed_seller(client, make_seller, sessionmaker)
    run = await finished_run(client, settings, seeded)
    ids = {s["type"]: s["id"] for s in run["suggestions"]}
    auth = seeded.auth

    r = await client.post(f"/api/v1/suggestions/{ids['title']}/accept", headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    r = await client.post(f"/api/v1/suggestions/{ids['title']}/accept", headers=auth)
    assert r.status_code == 409 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["code"] == "suggestion_state"

    for bad in ({}, {"reason": ""}, {"reason": "x" * 501}, {"reason": "ok", "extra": 1}):
        r = await client.post(
            f"/api/v1/suggestions/{ids['images']}/dismiss", headers=auth, json=bad
        )
        assert r.status_code in (400, 422), bad
        assert r.headers["content-type"].startswith(PROBLEM)
    r = await client.post(
        f"/api/v1/suggestions/{ids['images']}/dismiss", headers=auth, json={"reason": "   "}
    )
    assert r.status_code == 422
    r = await client.post(
        f"/api/v1/suggestions/{ids['images']}/dismiss",
        headers=auth,
        json={"reason": "No photographer this month"},
    )
    assert r.json()["status"] == "dismissed"
    assert r.json()["dismiss_reason"] == "No photographer this month"
    r = await client.post(f"/api/v1/suggestions/{ids['images']}/apply", headers=auth, json={})
    assert r.status_code == 409

    now = datetime.now(UTC)
    for bad in (
        {"live_at": (now + timedelta(days=2)).isoformat()},
        {"live_at": (now - timedelta(days=400)).isoformat()},
        {"live_at": "2026-01-01T00:00:00"},
        {"live_at": "yesterday"},
        {"baseline_days": 1},
        {"measure_days": 500},
    ):
        r = await client.post(f"/api/v1/suggestions/{ids['pricing']}/apply", headers=auth, json=bad)
        assert r.status_code in (400, 422), (bad, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
    # Nothing was half-written by the refusals.
    assert (await client.get("/api/v1/experiments", headers=auth)).json()["total"] == 0

    r = await client.post(f"/api/v1/suggestions/{ids['title']}/apply", headers=auth, json={})
    assert r.status_code == 201, r.text
    experiment = r.json()
    assert experiment["status"] == "running" and experiment["verdict"] is None
    live = datetime.fromisoformat(experiment["live_at"])
    assert abs((live - now).total_seconds()) < 60
    assert datetime.fromisoformat(experiment["measure_end"]) - live == timedelta(days=14)
    assert live - datetime.fromisoformat(experiment["baseline_start"]) == timedelta(days=14)
    assert experiment["baseline"]["metrics"]["bsr"]["days"] == 1
    assert experiment["suggestion_summary"] == "Rewrite the title"
    r = await client.post(f"/api/v1/suggestions/{ids['title']}/apply", headers=auth, json={})
    assert r.status_code == 409


async def test_an_applied_change_is_evaluated_after_its_window(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """Done when: suggestions, apply one, read the experiment with figures, method, verdict."""
    live = (datetime.now(UTC) - timedelta(days=20)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    seeded = await seed_seller(client, make_seller, sessionmaker)
    await seed_history(sessionmaker, seeded.product_id, live, before_rank=1000, after_rank=620)
    run = await finished_run(client, settings, seeded)
    auth = seeded.auth
    title_id = of_type(run, "title")["id"]
    r = await client.post(
        f"/api/v1/suggestions/{title_id}/apply", headers=auth, json={"live_at": live.isoformat()}
    )
    assert r.status_code == 201
    experiment_id = r.json()["id"]
    baseline = r.json()["baseline"]
    assert baseline["bsr_category"] == "Earbuds"
    assert baseline["metrics"]["bsr"]["days"] == 14 and baseline["metrics"]["bsr"]["enough"]

    await evaluate_due(settings)
    experiment = (await client.get(f"/api/v1/experiments/{experiment_id}", headers=auth)).json()
    assert experiment["status"] == "evaluated"
    assert experiment["verdict"] == "improved"
    assert "Mann-Whitney" in experiment["method"]
    bsr = next(m for m in experiment["result"]["metrics"] if m["metric"] == "bsr")
    assert bsr["verdict"] == "improved"
    assert bsr["days_before"] == 14 and bsr["days_after"] == 14
    assert 900 < bsr["mean_before"] < 1100 and 550 < bsr["mean_after"] < 700
    assert bsr["p_value"] < 0.01 and bsr["interval"][1] < 0
    price = next(m for m in experiment["result"]["metrics"] if m["metric"] == "price")
    assert price["verdict"] == "no_clear_change"  # constant price: nothing moved
    # Evaluating twice changes nothing.
    await evaluate_due(settings)
    again = (await client.get(f"/api/v1/experiments/{experiment_id}", headers=auth)).json()
    assert again["evaluated_at"] == experiment["evaluated_at"]
    listed = (
        await client.get("/api/v1/experiments", headers=auth, params={"status": "evaluated"})
    ).json()
    assert [e["id"] for e in listed["items"]] == [experiment_id]


async def test_gaps_give_insufficient_data_and_overlaps_are_flagged(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    live = datetime.now(UTC) - timedelta(days=20)
    seeded = await seed_seller(client, make_seller, sessionmaker)
    # Only 3 days of history before the change and 3 after.
    await seed_history(
        sessionmaker,
        seeded.product_id,
        live,
        before_rank=1000,
        after_rank=500,
        days_before=3,
        days_after=3,
    )
    run = await finished_run(client, settings, seeded)
    auth = seeded.auth
    first = await client.post(
        f"/api/v1/suggestions/{of_type(run, 'title')['id']}/apply",
        headers=auth,
        json={"live_at": live.isoformat()},
    )
    second = await client.post(
        f"/api/v1/suggestions/{of_type(run, 'pricing')['id']}/apply",
        headers=auth,
        json={"live_at": (live + timedelta(days=2)).isoformat()},
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["baseline"]["metrics"]["bsr"]["enough"] is False
    await evaluate_due(settings)
    listed = (await client.get("/api/v1/experiments", headers=auth)).json()
    assert listed["total"] == 2
    for experiment in listed["items"]:
        assert experiment["verdict"] == "insufficient_data"
        assert len(experiment["overlapping_experiment_ids"]) == 1
        assert "cannot be told apart" in experiment["overlap_warning"]


async def test_llm_path_against_the_stand_in_and_cache_hits_with_zero_calls(
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    llm_settings: Settings,
    openai_sim: OpenAISimServer,
) -> None:
    async with app_client(llm_settings) as client:
        seeded = await seed_seller(client, make_seller_for(client), sessionmaker)
        run = await finished_run(client, llm_settings, seeded)
        assert openai_sim.requests == 1
        assert run["source"] == "llm" and run["note"] is None
        assert run["llm_status"] == "ok"
        assert run["prompt_version"] == "optimization.suggestions@1"
        assert run["llm_model"] == llm_settings.openai.model
        assert run["input_tokens"] > 0 and run["output_tokens"] > 0
        assert float(run["cost_usd"]) > 0
        sources = {s["source"] for s in run["suggestions"]}
        assert sources == {"rules", "llm"}
        llm = [s for s in run["suggestions"] if s["source"] == "llm"]
        # The stand-in builds its text from the input's figures: the reasons cite them.
        assert all("=" in s["reason"] for s in llm)
        assert all(s["evidence"]["prompt"] == "optimization.suggestions@1" for s in llm)
        impacts = [float(s["expected_impact"]) for s in run["suggestions"]]
        assert impacts == sorted(impacts, reverse=True)

        again = await finished_run(client, llm_settings, seeded)
        assert openai_sim.requests == 1  # served from the PostgreSQL cache: zero calls
        assert again["llm_status"] == "cached" and again["source"] == "llm"
        assert again["input_tokens"] == 0 and float(again["cost_usd"]) == 0
        assert len(again["suggestions"]) == len(run["suggestions"])


async def test_llm_failure_still_answers_with_the_rules(
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    llm_settings: Settings,
    openai_sim: OpenAISimServer,
) -> None:
    openai_sim.set_faults(server_error=-1)
    async with app_client(llm_settings) as client:
        seeded = await seed_seller(client, make_seller_for(client), sessionmaker)
        run = await finished_run(client, llm_settings, seeded)
    assert run["source"] == "rules" and run["llm_status"] == "failed"
    assert "rule-based" in run["note"] and "HTTP 500" in run["note"]
    assert {s["source"] for s in run["suggestions"]} == {"rules"}


def make_seller_for(client: httpx.AsyncClient) -> MakeSeller:
    from tests.integration.conftest import PASSWORD

    async def make(email: str | None = None) -> dict[str, str]:
        email = email or f"llm{uuid.uuid4().hex[:8]}@example.com"
        await client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        r = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    return make


async def test_bad_inputs_are_4xx_problems(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_seller(client, make_seller, sessionmaker)
    auth = seeded.auth
    missing = uuid.uuid4()
    for method, url, params in (
        ("GET", f"/api/v1/products/{missing}/listing-score", None),
        ("POST", f"/api/v1/products/{missing}/optimization-runs", None),
        ("GET", f"/api/v1/products/{missing}/optimization-runs", None),
        ("GET", f"/api/v1/products/{seeded.tracking_id}/suggestions", None),  # no run yet
        ("GET", f"/api/v1/optimization-runs/{missing}", None),
        ("POST", f"/api/v1/suggestions/{missing}/accept", None),
        ("GET", f"/api/v1/experiments/{missing}", None),
        ("GET", "/api/v1/experiments", {"status": "bogus"}),
        ("GET", "/api/v1/experiments", {"limit": 1000}),
        ("GET", "/api/v1/experiments", {"tracked_product_id": "not-a-uuid"}),
        ("GET", "/api/v1/experiments", {"tracked_product_id": str(missing)}),
        ("GET", f"/api/v1/products/{seeded.tracking_id}/optimization-runs", {"offset": -1}),
    ):
        r = await client.request(method, url, headers=auth, params=params)
        assert 400 <= r.status_code < 500, (method, url, params, r.status_code)
        assert r.headers["content-type"].startswith(PROBLEM), (url, r.text)
    r = await client.post(
        f"/api/v1/suggestions/{missing}/apply", headers=auth, content=b"{not json"
    )
    assert r.status_code == 400


async def test_another_seller_reaches_nothing_on_any_route(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    owner = await seed_seller(client, make_seller, sessionmaker)
    run = await finished_run(client, settings, owner)
    suggestion = run["suggestions"][0]["id"]
    applied = run["suggestions"][1]["id"]
    r = await client.post(f"/api/v1/suggestions/{applied}/apply", headers=owner.auth, json={})
    experiment = r.json()["id"]
    intruder = await make_seller()
    product = f"/api/v1/products/{owner.tracking_id}"
    for method, url, body in (
        ("GET", f"{product}/listing-score", None),
        ("POST", f"{product}/optimization-runs", None),
        ("GET", f"{product}/optimization-runs", None),
        ("GET", f"{product}/suggestions", None),
        ("GET", f"/api/v1/optimization-runs/{run['id']}", None),
        ("POST", f"/api/v1/suggestions/{suggestion}/accept", None),
        ("POST", f"/api/v1/suggestions/{suggestion}/dismiss", {"reason": "mine now"}),
        ("POST", f"/api/v1/suggestions/{suggestion}/apply", {}),
        ("GET", f"/api/v1/experiments/{experiment}", None),
    ):
        r = await client.request(method, url, headers=intruder, json=body)
        assert r.status_code == 404, (method, url, r.status_code)
        assert r.headers["content-type"].startswith(PROBLEM)
    r = await client.get(
        "/api/v1/experiments", headers=intruder, params={"tracked_product_id": owner.tracking_id}
    )
    assert r.status_code == 404
    assert (await client.get("/api/v1/experiments", headers=intruder)).json()["total"] == 0
    # The owner's data is untouched.
    after = (await client.get(f"/api/v1/optimization-runs/{run['id']}", headers=owner.auth)).json()
    assert after["suggestions"][0]["status"] == "open"
    for url in (f"{product}/listing-score", "/api/v1/experiments"):
        assert (await client.get(url)).status_code == 401


async def test_a_lost_run_stops_deduplicating_after_the_stale_window(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_seller(client, make_seller, sessionmaker)
    url = f"/api/v1/products/{seeded.tracking_id}/optimization-runs"
    lost = (await client.post(url, headers=seeded.auth)).json()["run_id"]
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(OptimizationRun)
            .where(OptimizationRun.id == uuid.UUID(lost))
            .values(created_at=datetime.now(UTC) - timedelta(hours=2))
        )
    fresh = (await client.post(url, headers=seeded.auth)).json()
    assert fresh["deduplicated"] is False and fresh["run_id"] != lost
    old = (await client.get(f"/api/v1/optimization-runs/{lost}", headers=seeded.auth)).json()
    assert old["status"] == "failed" and old["error"].startswith("abandoned")


async def test_a_competitor_group_chooses_the_competitors(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    seeded = await seed_seller(client, make_seller, sessionmaker)
    # A fourth, much cheaper competitor-role product that is not in the group.
    r = await client.post(
        "/api/v1/products",
        headers=seeded.auth,
        json={"product": "B0OPTCMP04", "marketplace": "US", "role": "competitor"},
    )
    assert r.status_code == 201
    await ingest(
        sessionmaker,
        await product_id(sessionmaker, "B0OPTCMP04"),
        item(asin="B0OPTCMP04", price=Decimal("9.99")),
        datetime.now(UTC) - timedelta(hours=1),
    )
    without_group = await finished_run(client, settings, seeded)
    assert without_group["inputs"]["competitor_source"] == "competitor-role trackings"
    assert len(without_group["inputs"]["competitors"]) == 4
    r = await client.post(
        "/api/v1/competitor-groups",
        headers=seeded.auth,
        json={
            "name": "Open-ear",
            "main_tracked_product_id": seeded.tracking_id,
            "competitors": sorted(COMPETITORS),
        },
    )
    assert r.status_code == 201, r.text
    with_group = await finished_run(client, settings, seeded)
    assert with_group["inputs"]["competitor_source"] == f"group {r.json()['id']}"
    assert sorted(c["asin"] for c in with_group["inputs"]["competitors"]) == sorted(COMPETITORS)
    pricing = of_type(with_group, "pricing")
    assert pricing["evidence"]["competitor_prices"] == [19.99, 21.99, 24.99]
