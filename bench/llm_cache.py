"""Benchmark: the LLM layer's result cache under repeated identical report requests.

Scratch database + Redis DB 11, the bundled OpenAI stand-in (``shelfwatch openai-sim``) in its
own process, the real ``openai`` client. One report request is answered through the API; then
the same request is repeated N times through ``LlmService.complete``. The stand-in's own request
counter says how many reached the API (target 0); each cache lookup (``LlmService.cached``) is
timed, beside the floor: a bare asyncpg primary-key SELECT of the same cached row.

    uv run python -m bench.llm_cache [--repeats 500]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import time
from typing import Any

import asyncpg
import httpx
from pydantic import BaseModel, Field, SecretStr

from bench.common import Bench, bench, machine, percentile, table, verdict
from services.core.db import create_engine, create_sessionmaker
from services.core.embedded import free_port
from services.core.jobs import create_arq_pool
from services.core.settings import Settings
from services.core.uow import unit_of_work
from services.llm import LlmService, OpenAIConnector, Prompt

REDIS_DB = 11
MAX_LOOKUP_MS = 5.0


class Figures(BaseModel):
    product: str
    price: float
    competitor_prices: list[float]
    rating: float


class Point(BaseModel):
    text: str
    value: float


class Report(BaseModel):
    summary: str
    points: list[Point] = Field(min_length=2, max_length=4)
    rank: int = Field(ge=1, le=10)


PROMPT = Prompt(
    name="bench.report",
    version="1",
    system="You compare a product's price with its competitors'.",
    instructions="Say where the product stands.",
    input_model=Figures,
    output_model=Report,
)
INPUT = Figures(product="B000000001", price=19.99, competitor_prices=[17.5, 24.25], rating=4.4)


async def _sim_requests(client: httpx.AsyncClient) -> int:
    return int((await client.get("/_sim/stats")).json()["requests"])


async def _measure(state: Bench, repeats: int) -> dict[str, Any]:
    db_url = await state.fresh_database()
    port = free_port()
    state.spawn(["openai-sim", "--port", str(port)], state.env(), "llm-sim.log")
    sim = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)
    for _ in range(600):
        try:
            await _sim_requests(sim)
            break
        except httpx.HTTPError:
            await asyncio.sleep(0.1)
    settings = Settings().model_copy(deep=True)
    settings.database.url = db_url
    settings.redis.url = state.redis_url
    settings.openai.api_key = SecretStr("bench")
    settings.openai.base_url = f"http://127.0.0.1:{port}/v1"
    engine = create_engine(settings)
    arq = await create_arq_pool(settings)
    gateway = OpenAIConnector(settings.openai)
    llm = LlmService(
        functools.partial(unit_of_work, create_sessionmaker(engine), arq), gateway, arq
    )
    conn = await asyncpg.connect(db_url)
    try:
        before = await _sim_requests(sim)
        first = await llm.complete(PROMPT, INPUT)
        after_first = await _sim_requests(sim)
        completes, lookups, floors = [], [], []
        hits = 0
        for _ in range(repeats):
            started = time.perf_counter()
            result = await llm.complete(PROMPT, INPUT)
            completes.append((time.perf_counter() - started) * 1000)
            hits += result.cached and result.ok
            started = time.perf_counter()
            await llm.cached(PROMPT, INPUT)
            lookups.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await conn.fetchrow("SELECT * FROM llm_results WHERE cache_key = $1", first.cache_key)
            floors.append((time.perf_counter() - started) * 1000)
        after = await _sim_requests(sim)
    finally:
        await conn.close()
        await gateway.aclose()
        await arq.aclose()
        await engine.dispose()
        await sim.aclose()
    return {
        "first_ok": first.ok,
        "first_calls": after_first - before,
        "repeat_calls": after - after_first,
        "hits": hits,
        "repeats": repeats,
        "complete": completes,
        "lookup": lookups,
        "floor": floors,
    }


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    async with bench("llm", REDIS_DB) as state:
        return await _measure(state, args.repeats)


def report(r: dict[str, Any]) -> str:
    def p(values: list[float], pct: float) -> float:
        return percentile(values, pct)

    lookup99, floor99 = p(r["lookup"], 99), p(r["floor"], 99)
    rows = [
        (
            "API calls",
            f"first request: {r['first_calls']} (ok: {r['first_ok']}); "
            f"{r['repeats']} repeats: {r['repeat_calls']}",
            "-",
            "-",
            f"0 on repeats: {verdict(r['repeat_calls'] == 0)}",
        ),
        (
            "cache lookup (LlmService.cached) p50 / p99",
            f"{p(r['lookup'], 50):.2f} / {lookup99:.2f} ms",
            f"{p(r['floor'], 50):.2f} / {floor99:.2f} ms",
            f"{p(r['lookup'], 50) / p(r['floor'], 50):.1f}x",
            f"p99 <= {MAX_LOOKUP_MS:.0f} ms: {verdict(lookup99 <= MAX_LOOKUP_MS)}",
        ),
        (
            "whole repeated request (LlmService.complete) p50 / p99",
            f"{p(r['complete'], 50):.2f} / {p(r['complete'], 99):.2f} ms",
            "-",
            "-",
            f"served from cache: {r['hits']} of {r['repeats']}",
        ),
    ]
    notes = [f"machine: {machine()}"]
    return (
        table(
            "LLM layer: repeated identical report requests",
            ["measure", "LLM layer", "floor: asyncpg PK SELECT", "ratio", "target"],
            rows,
        )
        + "\n\n"
        + "\n".join(f"- {n}" for n in notes)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=500)
    args = parser.parse_args()
    print(report(asyncio.run(_run(args))), flush=True)


if __name__ == "__main__":
    main()
