"""Auth module tasks."""

from __future__ import annotations

from services.auth.jobs import AuthJob
from services.auth.service import AuthService
from services.core.jobs import Queue
from tasks.runtime import TaskContext, task


@task(AuthJob.PURGE_EXPIRED_TOKENS, Queue.LOW)
async def purge_expired_tokens(ctx: TaskContext) -> dict[str, int]:
    """Delete refresh tokens past their expiry."""
    async with ctx.unit_of_work() as uow:
        deleted = await AuthService(
            uow.session, ctx.redis, ctx.settings.auth
        ).purge_expired_tokens()
    return {"deleted": deleted}
