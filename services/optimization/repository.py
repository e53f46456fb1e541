"""All SQL of the optimization module."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.optimization.models import Experiment, OptimizationRun, Suggestion


class RunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active_for(self, tracked_product_id: uuid.UUID) -> OptimizationRun | None:
        return await self.session.scalar(
            select(OptimizationRun).where(
                OptimizationRun.tracked_product_id == tracked_product_id,
                OptimizationRun.status.in_(("queued", "running")),
            )
        )

    async def add(self, run: OptimizationRun) -> OptimizationRun:
        self.session.add(run)
        await self.session.flush()
        return run

    async def get(self, run_id: uuid.UUID, for_update: bool = False) -> OptimizationRun | None:
        stmt = select(OptimizationRun).where(OptimizationRun.id == run_id)
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def get_for_user(self, user_id: uuid.UUID, run_id: uuid.UUID) -> OptimizationRun | None:
        return await self.session.scalar(
            select(OptimizationRun).where(
                OptimizationRun.id == run_id, OptimizationRun.user_id == user_id
            )
        )

    async def list_for_tracking(
        self, user_id: uuid.UUID, tracked_product_id: uuid.UUID, limit: int, offset: int
    ) -> tuple[list[OptimizationRun], int]:
        where = (
            OptimizationRun.user_id == user_id,
            OptimizationRun.tracked_product_id == tracked_product_id,
        )
        total = await self.session.scalar(
            select(func.count()).select_from(OptimizationRun).where(*where)
        )
        rows = await self.session.scalars(
            select(OptimizationRun)
            .where(*where)
            .order_by(OptimizationRun.created_at.desc(), OptimizationRun.id)
            .limit(limit)
            .offset(offset)
        )
        return list(rows), int(total or 0)

    async def latest_done(
        self, user_id: uuid.UUID, tracked_product_id: uuid.UUID
    ) -> OptimizationRun | None:
        return await self.session.scalar(
            select(OptimizationRun)
            .where(
                OptimizationRun.user_id == user_id,
                OptimizationRun.tracked_product_id == tracked_product_id,
                OptimizationRun.status == "done",
            )
            .order_by(OptimizationRun.finished_at.desc())
            .limit(1)
        )


class SuggestionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, suggestions: Sequence[Suggestion]) -> None:
        self.session.add_all(suggestions)
        await self.session.flush()

    async def for_run(self, run_id: uuid.UUID) -> list[Suggestion]:
        rows = await self.session.scalars(
            select(Suggestion).where(Suggestion.run_id == run_id).order_by(Suggestion.rank)
        )
        return list(rows)

    async def get_for_user(
        self, user_id: uuid.UUID, suggestion_id: uuid.UUID, for_update: bool = False
    ) -> Suggestion | None:
        stmt = select(Suggestion).where(
            Suggestion.id == suggestion_id, Suggestion.user_id == user_id
        )
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def summaries(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not ids:
            return {}
        rows = await self.session.execute(
            select(Suggestion.id, Suggestion.summary).where(Suggestion.id.in_(ids))
        )
        return {row[0]: row[1] for row in rows.all()}


class ExperimentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, experiment: Experiment) -> Experiment:
        self.session.add(experiment)
        await self.session.flush()
        return experiment

    async def get(self, experiment_id: uuid.UUID, for_update: bool = False) -> Experiment | None:
        stmt = select(Experiment).where(Experiment.id == experiment_id)
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def get_for_user(self, user_id: uuid.UUID, experiment_id: uuid.UUID) -> Experiment | None:
        return await self.session.scalar(
            select(Experiment).where(Experiment.id == experiment_id, Experiment.user_id == user_id)
        )

    async def list_for_user(
        self,
        user_id: uuid.UUID,
        *,
        status: str | None,
        tracked_product_id: uuid.UUID | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Experiment], int]:
        where = [Experiment.user_id == user_id]
        if status:
            where.append(Experiment.status == status)
        if tracked_product_id:
            where.append(Experiment.tracked_product_id == tracked_product_id)
        total = await self.session.scalar(
            select(func.count()).select_from(Experiment).where(*where)
        )
        rows = await self.session.scalars(
            select(Experiment)
            .where(*where)
            .order_by(Experiment.live_at.desc(), Experiment.id)
            .limit(limit)
            .offset(offset)
        )
        return list(rows), int(total or 0)

    async def overlapping(self, experiment: Experiment) -> list[uuid.UUID]:
        """Other experiments on the same tracked product whose windows (baseline through
        measurement) intersect this one's: their effects cannot be told apart."""
        rows = await self.session.scalars(
            select(Experiment.id).where(
                Experiment.tracked_product_id == experiment.tracked_product_id,
                Experiment.id != experiment.id,
                Experiment.baseline_start < experiment.measure_end,
                Experiment.measure_end > experiment.baseline_start,
            )
        )
        return list(rows)

    async def due_ids(self, now: datetime, limit: int) -> list[uuid.UUID]:
        rows = await self.session.scalars(
            select(Experiment.id)
            .where(Experiment.status == "running", Experiment.measure_end <= now)
            .order_by(Experiment.measure_end)
            .limit(limit)
        )
        return list(rows)

    async def mark_evaluated(self, experiment_id: uuid.UUID, **values: object) -> None:
        await self.session.execute(
            update(Experiment).where(Experiment.id == experiment_id).values(**values)
        )
