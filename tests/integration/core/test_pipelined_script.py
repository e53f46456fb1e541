"""Script calls made in one turn of the event loop travel to Redis together, and each caller
still gets its own answer or its own error."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from services.core.embedded import free_port
from services.core.pipelining import PipelinedScript
from tests.integration.conftest import pipelined

pytestmark = pytest.mark.asyncio

# Counts in its key and answers the count and its argument; fails on request.
COUNT = """
if ARGV[1] == 'fail' then return redis.error_reply('asked to fail') end
return {redis.call('INCR', KEYS[1]), ARGV[1]}
"""


def fresh(source: str) -> str:
    """The same script under a SHA Redis has never seen (a comment is part of the source)."""
    return f"-- {uuid.uuid4().hex}\n{source}"


async def test_calls_of_one_turn_share_one_pipeline_and_get_their_own_answers(
    redis: Redis,
) -> None:
    name = f"count-{uuid.uuid4().hex[:8]}"
    script = PipelinedScript(redis, fresh(COUNT), name)
    answers = await asyncio.gather(*(script(["counter"], [f"call-{i}"]) for i in range(20)))
    # Every call ran once, in order, and answered its own caller...
    assert [a[1] for a in answers] == [f"call-{i}".encode() for i in range(20)]
    assert sorted(a[0] for a in answers) == list(range(1, 21))
    assert int(await redis.get("counter")) == 20
    # ...in one pipeline (the script was unknown to Redis: loaded once and sent again).
    assert pipelined(name) == (1.0, 20.0)
    # Calls of a later turn make a pipeline of their own.
    await script(["counter"], ["later"])
    assert pipelined(name) == (2.0, 21.0)


async def test_a_failing_call_fails_alone(redis: Redis) -> None:
    script = PipelinedScript(redis, COUNT, "count-errors")
    results = await asyncio.gather(
        script(["errors"], ["a"]),
        script(["errors"], ["fail"]),
        script(["errors"], ["b"]),
        return_exceptions=True,
    )
    assert results[0] == [1, b"a"] and results[2] == [2, b"b"]
    assert isinstance(results[1], ResponseError) and "asked to fail" in str(results[1])


async def test_a_failed_trip_reaches_every_caller_of_it() -> None:
    unreachable = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    try:
        script = PipelinedScript(unreachable, COUNT, "count-unreachable")
        results = await asyncio.gather(
            *(script(["k"], [str(i)]) for i in range(3)), return_exceptions=True
        )
    finally:
        await unreachable.aclose()
    assert all(isinstance(r, RedisConnectionError) for r in results), results


async def test_a_caller_that_went_away_leaves_the_others_their_answers(redis: Redis) -> None:
    script = PipelinedScript(redis, COUNT, "count-cancelled")
    gone = asyncio.ensure_future(script(["gone"], ["x"]))
    kept = asyncio.ensure_future(script(["gone"], ["y"]))
    gone.cancel()
    assert await kept == [2, b"y"]  # the cancelled call still ran: it was already sent
    with pytest.raises(asyncio.CancelledError):
        await gone
