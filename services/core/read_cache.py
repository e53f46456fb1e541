"""Redis read models shared by the modules. Every call degrades to a miss when Redis is away,
so reads fall back to PostgreSQL and still answer.

Versioned entries: a view that depends on data owned by several writers is stored under a key
that embeds each writer's version token (``cache:<view>:<owner>:<token>.<token>:<what>``). A
writer changes its token after its commit, so every entry built from older data is simply never
read again and expires on its TTL; nothing has to find and delete the entries of a view.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# The version tokens and the entry under them in one round trip (a script runs atomically, so
# the entry read is the one stored under exactly those tokens). An absent token reads "0".
# A Lua function, so that another script can do the same lookup in its own call (the gateway's
# rate limiter does it for cached routes): the tokens are KEYS[first..], the entry's key is
# prefix .. tag .. suffix.
VERSIONED_LOOKUP_LUA = """
local function versioned_tag(first)
  local tokens = {}
  for i = first, #KEYS do tokens[#tokens + 1] = redis.call('GET', KEYS[i]) or '0' end
  return table.concat(tokens, '.')
end
local function versioned_lookup(first, prefix, suffix)
  local tag = versioned_tag(first)
  return tag, redis.call('GET', prefix .. tag .. suffix)
end
"""
_VERSIONED_GET = (
    VERSIONED_LOOKUP_LUA
    + """
local tag, body = versioned_lookup(1, ARGV[1], ARGV[2])
return {tag, body}
"""
)


@dataclass(frozen=True, slots=True)
class CachedView:
    """Where one view's encoded answer lives: the version keys whose tokens make up its tag,
    and the entry's key around that tag (``prefix + tag + suffix``)."""

    version_keys: tuple[str, ...]
    prefix: str
    suffix: str
    ttl_s: int | None = None


@dataclass(frozen=True, slots=True)
class ViewLookup:
    """A versioned lookup already made for a view in this request (by the gateway's edge, in
    the round trip that counted the request): the entry's key under the tokens read then, and
    the body stored there, if any."""

    view: CachedView
    key: str
    body: bytes | None


def looked_up(view: CachedView, tag: bytes | str, body: bytes | None) -> ViewLookup:
    """A lookup script's answer for ``view``."""
    tag = tag.decode() if isinstance(tag, bytes) else str(tag)
    return ViewLookup(view, f"{view.prefix}{tag}{view.suffix}", body or None)


class LocalCopies:
    """A process's copies of stored answers, one per view: the entry key it was stored under
    (its version tag included) and the bytes, kept no longer than the entry lives in Redis. A
    reader sends the key it holds with its lookup; the lookup answers "yours" when the current
    tag gives that same key, so a copy is only used while it is the current answer."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._size = 0
        self._by_view: dict[tuple[str, str], tuple[str, bytes, float]] = {}

    def held(self, view: CachedView) -> tuple[str, bytes] | None:
        """The entry key and bytes held for ``view``, while its Redis entry still lives."""
        copy = self._by_view.get((view.prefix, view.suffix))
        if copy is None or copy[2] <= time.monotonic():
            return None
        return copy[0], copy[1]

    def keep(self, view: CachedView, key: str, body: bytes, lifetime_ms: int) -> None:
        """Hold ``body`` (stored under ``key``, which expires in ``lifetime_ms``) for ``view``."""
        if lifetime_ms <= 0 or len(body) > self.max_bytes // 4:
            return  # no expiry known (never stored by us), or too big to be worth holding
        self._drop((view.prefix, view.suffix))
        while self._by_view and self._size + len(body) > self.max_bytes:
            self._drop(next(iter(self._by_view)))  # the oldest
        self._by_view[(view.prefix, view.suffix)] = (
            key,
            body,
            time.monotonic() + lifetime_ms / 1000,
        )
        self._size += len(body)

    def _drop(self, view_id: tuple[str, str]) -> None:
        copy = self._by_view.pop(view_id, None)
        if copy is not None:
            self._size -= len(copy[1])


class ReadCache:
    def __init__(self, redis: Redis | None, ttl_s: int, found: ViewLookup | None = None) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._versioned_get: AsyncScript | None = None  # registered on first use
        # Used once, by the first lookup of exactly that view: a later one (after a write in
        # the same request) reads Redis afresh.
        self._found = found

    async def get(self, key: str) -> Any | None:
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(key)
        except (RedisError, OSError):
            logger.warning("cache read failed; answering from PostgreSQL", extra={"key": key})
            return None
        return json.loads(raw) if raw else None

    async def set_bytes(self, key: str, body: bytes, ttl_s: int | None = None) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.set(key, body, ex=ttl_s or self.ttl_s)
        except (RedisError, OSError):
            logger.warning("cache write failed", extra={"key": key})

    async def set(self, key: str, value: Any) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.set(key, json.dumps(value, default=str), ex=self.ttl_s)
        except (RedisError, OSError):
            logger.warning("cache write failed", extra={"key": key})

    async def delete(self, *keys: str) -> None:
        if self.redis is None or not keys:
            return
        try:
            await self.redis.delete(*keys)
        except (RedisError, OSError):
            logger.warning("cache invalidation failed", extra={"keys": len(keys)})

    async def versioned(self, view: CachedView) -> ViewLookup | None:
        """The entry's key under the current tokens and the stored body, in one round trip
        (none when this request's edge already looked it up). None when Redis cannot say:
        the caller answers from PostgreSQL and stores nothing."""
        found, self._found = self._found, None
        if found is not None and found.view == view:
            return found
        if self.redis is None:
            return None
        if self._versioned_get is None:
            self._versioned_get = self.redis.register_script(_VERSIONED_GET)
        try:
            tag, body = await self._versioned_get(
                keys=list(view.version_keys), args=[view.prefix, view.suffix]
            )
        except (RedisError, OSError):
            logger.warning(
                "cache read failed; answering from PostgreSQL", extra={"key": view.prefix}
            )
            return None
        return looked_up(view, tag, body)

    async def view(self, view: CachedView, build: Callable[[], Awaitable[bytes]]) -> bytes:
        """A view's encoded answer: as stored under the current tokens, else built and stored
        under the tokens read before building (so an answer built from data that a later
        commit changed is stored under a token nobody reads any more)."""
        found = await self.versioned(view)
        if found is not None and found.body is not None:
            return found.body
        body = await build()
        if found is not None:
            await self.set_bytes(found.key, body, view.ttl_s)
        return body

    async def bump(self, *keys: str) -> None:
        """Give each version key a new token. A fresh random token, not a counter: a counter
        that expired would start again at a number whose old entries may still be stored."""
        if self.redis is None or not keys:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(key, uuid.uuid4().hex[:16], ex=self.ttl_s * 2)
                await pipe.execute()
        except (RedisError, OSError):
            logger.warning("cache version bump failed", extra={"keys": len(keys)})
