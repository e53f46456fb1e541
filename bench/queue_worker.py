"""``shelfwatch worker`` with two no-op tasks added, for the queue-fairness benchmark: the
product's own worker stack (queue split, serializer, task wrapper, logging, metrics), doing
nothing else, so what is measured is the queueing.

    python -m bench.queue_worker   (settings from the environment, like shelfwatch worker)
"""

from __future__ import annotations

import asyncio

from services.core.jobs import Queue
from services.core.logging import configure_logging
from services.core.settings import get_settings
from tasks.registry import ALL_TASKS
from tasks.runtime import TaskContext, task
from tasks.worker import run_workers


@task("bench.noop_low", Queue.LOW)
async def noop_low(context: TaskContext) -> None:
    return None


@task("bench.noop_critical", Queue.CRITICAL)
async def noop_critical(context: TaskContext) -> None:
    return None


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, process="shelfwatch-worker")
    asyncio.run(run_workers(settings, list(Queue), [*ALL_TASKS, noop_low, noop_critical]))


if __name__ == "__main__":
    main()
