"""Admin module tasks: the archive's retention, and probe jobs to see (or flood) a queue."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from services.admin.jobs import AdminJob
from services.admin.service import DeadLetterService
from services.core.errors import TransientError
from services.core.jobs import Queue
from tasks.runtime import TaskContext, task


@task(AdminJob.PURGE_DEAD_LETTERS, Queue.LOW)
async def purge_dead_letters(ctx: TaskContext) -> dict[str, int]:
    """Delete archived jobs older than the configured retention."""
    async with ctx.unit_of_work() as uow:
        deleted = await DeadLetterService(uow).purge(ctx.settings.admin.dead_letter_retention_days)
    return {"deleted": deleted}


class ProbeFailed(Exception):
    """A probe asked to fail for good."""


async def _probe(
    ctx: TaskContext,
    sleep_ms: int = 0,
    fail: str = "none",
    fail_until: float = 0.0,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    # Fails (transiently: retried; permanently: archived at once) until fail_until passes, so
    # an operator can watch retries, the archive and a successful replay end to end.
    if sleep_ms:
        await asyncio.sleep(sleep_ms / 1000)
    if fail != "none" and time.time() < fail_until:
        if fail == "transient":
            raise TransientError("probe asked to fail (transient)")
        raise ProbeFailed("probe asked to fail (permanent)")
    return {"ok": True, "slept_ms": sleep_ms, "payload": payload}


# One probe per queue under one name: each queue's worker registers its own.
probe_critical = task(AdminJob.PROBE, Queue.CRITICAL)(_probe)
probe_default = task(AdminJob.PROBE, Queue.DEFAULT)(_probe)
probe_low = task(AdminJob.PROBE, Queue.LOW)(_probe)
