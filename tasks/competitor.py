"""Competitor module tasks: positioning reports on the low queue."""

from __future__ import annotations

import uuid
from typing import Any

from services.competitor.jobs import CompetitorJob
from services.competitor.runner import ReportRunner
from services.core.jobs import Queue
from tasks.runtime import TaskContext, task


@task(CompetitorJob.RUN_REPORT, Queue.LOW)
async def run_report(ctx: TaskContext, report_id: str) -> dict[str, Any]:
    """Advance one positioning report: fresh data, comparison, then the LLM or the rules."""
    runner = ReportRunner(ctx.unit_of_work, ctx.settings, ctx.redis, ctx.llm())
    return await runner.run(uuid.UUID(report_id))
