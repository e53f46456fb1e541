"""The queue benchmark's ceiling: a bare ARQ worker (ARQ's defaults: pickle, max_jobs 10) with
one no-op function, draining its own queue in burst mode.

    python -m bench.bare_arq REDIS_URL QUEUE_NAME
"""

from __future__ import annotations

import sys
from typing import Any

from arq import Worker
from arq.connections import RedisSettings


async def noop(ctx: dict[str, Any]) -> None:
    return None


def main() -> None:
    redis_url, queue = sys.argv[1], sys.argv[2]
    worker = Worker(
        functions=[noop],
        redis_settings=RedisSettings.from_dsn(redis_url),
        queue_name=queue,
        burst=True,
        handle_signals=True,
    )
    worker.run()


if __name__ == "__main__":
    main()
