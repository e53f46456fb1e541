"""A versioned lookup already made by the gateway's edge (in the round trip that counted the
request) answers the route's own view, once; anything else reads Redis itself."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from services.core.read_cache import CachedView, ReadCache, ViewLookup

pytestmark = pytest.mark.asyncio

VIEW = CachedView(("cache:list-version:u1",), "cache:list-json:u1:", ":a")
OTHER = CachedView(("cache:list-version:u1",), "cache:list-json:u1:", ":b")


async def never_built() -> bytes:
    raise AssertionError("the stored answer should have been used")


async def test_the_edge_lookup_answers_its_own_view_once(redis: Redis) -> None:
    cache = ReadCache(redis, 60, ViewLookup(VIEW, "cache:list-json:u1:0:a", b"from-the-edge"))
    assert await cache.view(VIEW, never_built) == b"from-the-edge"

    async def build() -> bytes:
        return b"built"

    # A second lookup in the same request (after a write, say) reads Redis afresh: a miss,
    # built and stored under the tokens it read.
    assert await cache.view(VIEW, build) == b"built"
    assert await redis.get("cache:list-json:u1:0:a") == b"built"


async def test_another_view_never_gets_the_edge_lookup(redis: Redis) -> None:
    await redis.set("cache:list-json:u1:0:b", b"stored-b")
    cache = ReadCache(redis, 60, ViewLookup(VIEW, "cache:list-json:u1:0:a", b"from-the-edge"))
    assert await cache.view(OTHER, never_built) == b"stored-b"
