"""Auth module tasks."""

from __future__ import annotations

from datetime import UTC, datetime

from services.auth.repository import RefreshTokenRepository
from services.core.jobs import Queue
from tasks.runtime import TaskContext, task


@task("auth.purge_expired_tokens", Queue.LOW)
async def purge_expired_tokens(ctx: TaskContext) -> dict[str, int]:
    """Delete refresh tokens past their expiry."""
    async with ctx.unit_of_work() as uow:
        deleted = await RefreshTokenRepository(uow.session).delete_expired(datetime.now(UTC))
    return {"deleted": deleted}
