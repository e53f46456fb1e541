"""The shared LLM layer with the real openai client against the bundled stand-in."""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from arq.connections import ArqRedis
from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.settings import Settings
from services.core.uow import unit_of_work
from services.llm import LlmService, OpenAIConnector, Prompt
from services.llm.models import LlmCachedResult, LlmCall
from simulator.openai_sim import OpenAISimServer


class Figures(BaseModel):
    product: str
    price: float
    competitor_prices: list[float]
    rating: float


class Point(BaseModel):
    text: str
    value: float


class Verdict(BaseModel):
    summary: str
    points: list[Point] = Field(min_length=2, max_length=4)
    rank: int = Field(ge=1, le=10)


PROMPT = Prompt(
    name="test.verdict",
    version="1",
    system="You compare prices.",
    instructions="Say where the product stands.",
    input_model=Figures,
    output_model=Verdict,
)
INPUT = Figures(
    product="B000000001", price=19.99, competitor_prices=[17.5, 24.25, 21.0], rating=4.4
)
INPUT_NUMBERS = {19.99, 17.5, 24.25, 21.0, 4.4}


@pytest.fixture
async def make_llm(
    llm_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], arq: ArqRedis
) -> AsyncIterator[functools.partial[LlmService]]:
    gateways: list[OpenAIConnector] = []

    def make(**openai: object) -> LlmService:
        gateways.append(OpenAIConnector(llm_settings.openai.model_copy(update=openai)))
        return LlmService(functools.partial(unit_of_work, sessionmaker, arq), gateways[-1])

    yield functools.partial(make)
    for gateway in gateways:
        await gateway.aclose()


async def _calls(sessionmaker: async_sessionmaker[AsyncSession]) -> list[LlmCall]:
    async with sessionmaker() as session:
        return list((await session.execute(select(LlmCall).order_by(LlmCall.created_at))).scalars())


async def test_valid_output_cites_the_input_and_costs_tokens(
    make_llm: functools.partial[LlmService],
    openai_sim: OpenAISimServer,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    result = await make_llm().complete(PROMPT, INPUT)

    assert result.ok and result.output is not None, result.failure_reason
    assert not result.cached and result.api_calls == 1 and openai_sim.requests == 1
    assert {p.value for p in result.output.points} <= INPUT_NUMBERS
    assert any(str(n) in result.output.summary for n in INPUT_NUMBERS)
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.usage.cost_usd > 0
    # The request used strict structured outputs with our schema.
    fmt = openai_sim.state.last_request["response_format"]  # type: ignore[index]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    calls = await _calls(sessionmaker)
    assert [(c.outcome, c.prompt_version) for c in calls] == [("ok", "1")]
    assert calls[0].cost_usd == result.usage.cost_usd


async def test_same_input_is_served_from_postgres_with_zero_http_calls(
    make_llm: functools.partial[LlmService],
    openai_sim: OpenAISimServer,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first = await make_llm().complete(PROMPT, INPUT)
    assert first.ok and openai_sim.requests == 1

    # A new service and client (as after a restart) still finds it: the cache is in PostgreSQL.
    again = await make_llm().complete(PROMPT, INPUT.model_copy())

    assert again.ok and again.cached and again.api_calls == 0
    assert openai_sim.requests == 1
    assert again.output == first.output and again.usage.cost_usd == Decimal(0)
    # Another prompt version or model is another key, so it does call the API.
    newer = Prompt(**{**PROMPT.__dict__, "version": "2"})
    await make_llm().complete(newer, INPUT)
    await make_llm(model="gpt-4o").complete(PROMPT, INPUT)
    assert openai_sim.requests == 3
    async with sessionmaker() as session:
        rows = (await session.execute(select(LlmCachedResult))).scalars().all()
    assert sorted((r.prompt_version, r.model) for r in rows) == [
        ("1", "gpt-4o"),
        ("1", "gpt-4o-mini"),
        ("2", "gpt-4o-mini"),
    ]


async def test_invalid_json_then_repaired(
    make_llm: functools.partial[LlmService],
    openai_sim: OpenAISimServer,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    openai_sim.set_faults(invalid_json=1)

    result = await make_llm().complete(PROMPT, INPUT)

    assert result.ok and result.api_calls == 2 and openai_sim.requests == 2
    # The repair request showed the model its bad answer and what was wrong.
    messages = openai_sim.state.last_request["messages"]  # type: ignore[index]
    assert messages[-2]["role"] == "assistant" and "could not be used" in messages[-1]["content"]
    assert [c.outcome for c in await _calls(sessionmaker)] == ["invalid", "ok"]


async def test_invalid_twice_fails_with_the_reason(
    make_llm: functools.partial[LlmService], openai_sim: OpenAISimServer
) -> None:
    openai_sim.set_faults(invalid_json=-1)

    result = await make_llm().complete(PROMPT, INPUT)

    assert result.status == "failed" and openai_sim.requests == 2
    assert result.failure_reason is not None and result.failure_reason.startswith("invalid:")


async def test_rate_limited_then_success_honours_retry_after(
    make_llm: functools.partial[LlmService], openai_sim: OpenAISimServer
) -> None:
    # The client's own first backoff is under 1 s: waiting 1.5 s shows the header was obeyed.
    openai_sim.set_faults(rate_limit=1, retry_after_s=1.5)
    started = time.monotonic()

    result = await make_llm().complete(PROMPT, INPUT)

    assert result.ok and openai_sim.requests == 2
    assert time.monotonic() - started >= 1.5
    assert openai_sim.state.stats()["by_outcome"] == {"rate_limit": 1, "ok": 1}


async def test_server_error_then_success(
    make_llm: functools.partial[LlmService], openai_sim: OpenAISimServer
) -> None:
    openai_sim.set_faults(server_error=1)

    result = await make_llm().complete(PROMPT, INPUT)

    assert result.ok and openai_sim.requests == 2


async def test_timeout_fails_with_reason_after_retries(
    make_llm: functools.partial[LlmService],
    openai_sim: OpenAISimServer,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    openai_sim.set_faults(slow=-1, slow_s=1.5)

    result = await make_llm(timeout_s=0.3, max_retries=1).complete(PROMPT, INPUT)

    assert result.status == "failed" and result.output is None
    assert result.failure_reason is not None and result.failure_reason.startswith("timeout:")
    assert openai_sim.requests == 2  # the first try and one retry
    assert [c.outcome for c in await _calls(sessionmaker)] == ["timeout"]
    async with sessionmaker() as session:
        assert (await session.execute(select(LlmCachedResult))).first() is None


async def test_refusal_is_repaired_once_then_reported(
    make_llm: functools.partial[LlmService], openai_sim: OpenAISimServer
) -> None:
    openai_sim.set_faults(refusal=1)
    repaired = await make_llm().complete(PROMPT, INPUT)
    assert repaired.ok and openai_sim.requests == 2

    openai_sim.reset()
    openai_sim.set_faults(refusal=-1)
    other = INPUT.model_copy(update={"price": 18.0})
    refused = await make_llm().complete(PROMPT, other)
    assert refused.status == "failed" and openai_sim.requests == 2
    assert refused.failure_reason is not None and refused.failure_reason.startswith("refused:")


async def test_without_a_key_nothing_is_called(
    make_llm: functools.partial[LlmService], openai_sim: OpenAISimServer
) -> None:
    from pydantic import SecretStr

    llm = make_llm(api_key=SecretStr(""))

    result = await llm.complete(PROMPT, INPUT)

    assert not llm.enabled and result.status == "failed"
    assert result.failure_reason is not None and result.failure_reason.startswith("not_configured")
    assert openai_sim.requests == 0


async def test_repeats_are_answered_from_redis_and_postgres_when_redis_has_no_copy(
    llm_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    arq: ArqRedis,
    openai_sim: OpenAISimServer,
) -> None:
    gateway = OpenAIConnector(llm_settings.openai)
    try:
        llm = LlmService(functools.partial(unit_of_work, sessionmaker, arq), gateway, arq)
        first = await llm.complete(PROMPT, INPUT)
        assert first.ok and openai_sim.requests == 1
        # The first lookup copies PostgreSQL's row to Redis ...
        assert (await llm.cached(PROMPT, INPUT)) is not None
        assert await arq.exists(f"llm:result:{first.cache_key}")
        # ... so repeats need no database: they are answered with the row gone.
        async with sessionmaker() as session, session.begin():
            await session.execute(delete(LlmCachedResult))
        again = await llm.cached(PROMPT, INPUT)
        assert again is not None and again.cached and again.output == first.output
        # Without the Redis copy (evicted, flushed) PostgreSQL is asked, and has nothing now.
        await arq.delete(f"llm:result:{first.cache_key}")
        assert await llm.cached(PROMPT, INPUT) is None
        assert openai_sim.requests == 1
    finally:
        await gateway.aclose()
