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
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# The version tokens and the entry under them in one round trip (a script runs atomically, so
# the entry read is the one stored under exactly those tokens). An absent token reads "0".
_VERSIONED_GET = """
local tokens = {}
for i, key in ipairs(KEYS) do tokens[i] = redis.call('GET', key) or '0' end
local tag = table.concat(tokens, '.')
return {tag, redis.call('GET', ARGV[1] .. tag .. ARGV[2])}
"""


class ReadCache:
    def __init__(self, redis: Redis | None, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._versioned_get: AsyncScript | None = None  # registered on first use

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

    async def versioned(
        self, version_keys: Sequence[str], prefix: str, suffix: str
    ) -> tuple[str | None, bytes | None]:
        """(the entry's key under the current tokens, the stored body or None): one round
        trip. ``(None, None)`` when Redis cannot say: the caller answers from PostgreSQL and
        stores nothing."""
        if self.redis is None:
            return None, None
        if self._versioned_get is None:
            self._versioned_get = self.redis.register_script(_VERSIONED_GET)
        try:
            tag, body = await self._versioned_get(keys=list(version_keys), args=[prefix, suffix])
        except (RedisError, OSError):
            logger.warning("cache read failed; answering from PostgreSQL", extra={"key": prefix})
            return None, None
        tag = tag.decode() if isinstance(tag, bytes) else str(tag)
        return f"{prefix}{tag}{suffix}", body or None

    async def view(
        self,
        version_keys: Sequence[str],
        prefix: str,
        suffix: str,
        build: Callable[[], Awaitable[bytes]],
        ttl_s: int | None = None,
    ) -> bytes:
        """A view's encoded answer: as stored under the current tokens, else built and stored
        under the tokens read before building (so an answer built from data that a later
        commit changed is stored under a token nobody reads any more)."""
        key, cached = await self.versioned(version_keys, prefix, suffix)
        if cached is not None:
            return cached
        body = await build()
        if key is not None:
            await self.set_bytes(key, body, ttl_s)
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
