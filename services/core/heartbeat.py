"""Workers announce themselves in Redis so readiness and the admin can see them."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from redis.asyncio import Redis

_PREFIX = "shelfwatch:worker:"


def worker_name(queues: list[str]) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{'+'.join(queues)}"


async def beat(redis: Redis, name: str, queues: list[str], ttl_s: int) -> None:
    payload = {"name": name, "queues": queues, "at": time.time()}
    await redis.set(_PREFIX + name, json.dumps(payload), ex=ttl_s)


async def forget(redis: Redis, name: str) -> None:
    await redis.delete(_PREFIX + name)


async def live_workers(redis: Redis) -> list[dict[str, Any]]:
    workers = []
    async for key in redis.scan_iter(match=_PREFIX + "*", count=100):
        raw = await redis.get(key)
        if raw:
            workers.append(json.loads(raw))
    return sorted(workers, key=lambda w: str(w["name"]))
