"""Optimization module tasks (all on `low`): suggestion runs and experiment evaluation."""

from __future__ import annotations

import uuid
from typing import Any

from services.competitor.service import CompetitorService
from services.core.jobs import Queue
from services.core.read_cache import ReadCache
from services.core.uow import UnitOfWork
from services.optimization.jobs import OptimizationJob
from services.optimization.runner import OptimizationRunner
from services.optimization.service import OptimizationService
from services.product.catalog import ProductCatalog
from tasks.runtime import TaskContext, task


def optimization_service(ctx: TaskContext, uow: UnitOfWork) -> OptimizationService:
    products = ProductCatalog(
        uow,
        "simulator" if ctx.settings.apify.simulated else "apify",
        ReadCache(ctx.redis, ctx.settings.cache.ttl_s),
    )
    return OptimizationService(
        uow,
        ctx.settings.optimization,
        products,
        llm_configured=ctx.settings.openai.enabled,
        competitors=CompetitorService(uow, products, ctx.settings),
    )


@task(OptimizationJob.RUN_OPTIMIZATION, Queue.LOW)
async def run_optimization(ctx: TaskContext, run_id: str) -> dict[str, Any]:
    """Score the listing and write ranked suggestions (rules, plus the LLM when configured)."""
    runner = OptimizationRunner(
        ctx.unit_of_work,
        lambda uow: optimization_service(ctx, uow),
        ctx.llm() if ctx.settings.openai.enabled else None,
    )
    return await runner.run(uuid.UUID(run_id))


@task(OptimizationJob.EVALUATE_DUE_EXPERIMENTS, Queue.LOW)
async def evaluate_due_experiments(ctx: TaskContext) -> dict[str, Any]:
    """Queue one evaluation per experiment whose measurement window has ended."""
    async with ctx.unit_of_work() as uow:
        count = await optimization_service(ctx, uow).enqueue_due_evaluations()
    return {"queued": count}


@task(OptimizationJob.EVALUATE_EXPERIMENT, Queue.LOW)
async def evaluate_experiment(ctx: TaskContext, experiment_id: str) -> dict[str, Any]:
    """Compare before and after, store each metric's difference and the verdict."""
    async with ctx.unit_of_work() as uow:
        verdict = await optimization_service(ctx, uow).evaluate(uuid.UUID(experiment_id))
    return {"verdict": verdict}
