"""Redis read models of the product side. Every call degrades to a miss when Redis is away,
so reads fall back to PostgreSQL and still answer."""

from __future__ import annotations

import json
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def state_key(product_id: int) -> str:
    return f"cache:product-state:{product_id}"


def list_version_key(user_id: object) -> str:
    return f"cache:list-version:{user_id}"


class ReadCache:
    def __init__(self, redis: Redis | None, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s

    async def get(self, key: str) -> Any | None:
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(key)
        except (RedisError, OSError):
            logger.warning("cache read failed; answering from PostgreSQL", extra={"key": key})
            return None
        return json.loads(raw) if raw else None

    async def get_bytes(self, key: str) -> bytes | None:
        """A stored body as it was stored (no decoding): answered to a client as is."""
        if self.redis is None:
            return None
        try:
            raw: bytes | None = await self.redis.get(key)
        except (RedisError, OSError):
            logger.warning("cache read failed; answering from PostgreSQL", extra={"key": key})
            return None
        return raw or None

    async def set_bytes(self, key: str, body: bytes) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.set(key, body, ex=self.ttl_s)
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

    async def version(self, key: str) -> int | None:
        """A counter bumped on every change; None when Redis cannot say."""
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(key)
        except (RedisError, OSError):
            return None
        return int(raw or 0)

    async def bump(self, *keys: str) -> None:
        if self.redis is None or not keys:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.incr(key)
                    pipe.expire(key, self.ttl_s * 2)
                await pipe.execute()
        except (RedisError, OSError):
            logger.warning("cache version bump failed", extra={"keys": len(keys)})
