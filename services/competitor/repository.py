"""All SQL of the competitor module."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.competitor.models import (
    ACTIVE_REPORT_STATUSES,
    CompetitorGroup,
    CompetitorGroupMember,
    CompetitorReport,
)


class GroupRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, group: CompetitorGroup, members: list[CompetitorGroupMember]) -> None:
        self.session.add(group)
        await self.session.flush()
        self.session.add_all(members)
        await self.session.flush()

    async def get_for_user(
        self, user_id: uuid.UUID, group_id: uuid.UUID, *, for_update: bool = False
    ) -> CompetitorGroup | None:
        query = select(CompetitorGroup).where(
            CompetitorGroup.id == group_id, CompetitorGroup.user_id == user_id
        )
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def list_for_user(
        self, user_id: uuid.UUID, limit: int, offset: int
    ) -> tuple[list[CompetitorGroup], int]:
        total = await self.session.scalar(
            select(func.count())
            .select_from(CompetitorGroup)
            .where(CompetitorGroup.user_id == user_id)
        )
        rows = await self.session.execute(
            select(CompetitorGroup)
            .where(CompetitorGroup.user_id == user_id)
            .order_by(CompetitorGroup.created_at.desc(), CompetitorGroup.id)
            .limit(limit)
            .offset(offset)
        )
        return list(rows.scalars()), int(total or 0)

    async def newest_with_main(
        self, user_id: uuid.UUID, main_tracking_id: uuid.UUID
    ) -> CompetitorGroup | None:
        return await self.session.scalar(
            select(CompetitorGroup)
            .where(
                CompetitorGroup.user_id == user_id,
                CompetitorGroup.main_tracking_id == main_tracking_id,
            )
            .order_by(CompetitorGroup.created_at.desc(), CompetitorGroup.id)
            .limit(1)
        )

    async def members(self, group_ids: list[uuid.UUID]) -> list[CompetitorGroupMember]:
        rows = await self.session.execute(
            select(CompetitorGroupMember)
            .where(CompetitorGroupMember.group_id.in_(group_ids))
            .order_by(CompetitorGroupMember.position, CompetitorGroupMember.asin)
        )
        return list(rows.scalars())

    async def add_members(self, members: list[CompetitorGroupMember]) -> None:
        self.session.add_all(members)
        await self.session.flush()

    async def remove_member(self, group_id: uuid.UUID, tracking_id: uuid.UUID) -> int:
        result = await self.session.execute(
            delete(CompetitorGroupMember).where(
                CompetitorGroupMember.group_id == group_id,
                CompetitorGroupMember.tracking_id == tracking_id,
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def delete(self, group: CompetitorGroup) -> None:
        await self.session.delete(group)
        await self.session.flush()


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, report: CompetitorReport) -> CompetitorReport:
        self.session.add(report)
        await self.session.flush()
        await self.session.refresh(report)
        return report

    async def active_for_group(self, group_id: uuid.UUID) -> CompetitorReport | None:
        rows = await self.session.execute(
            select(CompetitorReport)
            .where(
                CompetitorReport.group_id == group_id,
                CompetitorReport.status.in_(ACTIVE_REPORT_STATUSES),
            )
            .order_by(CompetitorReport.created_at.desc())
            .limit(1)
        )
        return rows.scalar_one_or_none()

    async def get(
        self, report_id: uuid.UUID, *, for_update: bool = False
    ) -> CompetitorReport | None:
        query = select(CompetitorReport).where(CompetitorReport.id == report_id)
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def get_for_user(
        self, user_id: uuid.UUID, group_id: uuid.UUID, report_id: uuid.UUID
    ) -> CompetitorReport | None:
        rows = await self.session.execute(
            select(CompetitorReport).where(
                CompetitorReport.id == report_id,
                CompetitorReport.group_id == group_id,
                CompetitorReport.user_id == user_id,
            )
        )
        return rows.scalar_one_or_none()

    async def list_for_group(
        self, group_id: uuid.UUID, limit: int, offset: int
    ) -> tuple[list[CompetitorReport], int]:
        total = await self.session.scalar(
            select(func.count())
            .select_from(CompetitorReport)
            .where(CompetitorReport.group_id == group_id)
        )
        rows = await self.session.execute(
            select(CompetitorReport)
            .where(CompetitorReport.group_id == group_id)
            .order_by(CompetitorReport.created_at.desc(), CompetitorReport.id)
            .limit(limit)
            .offset(offset)
        )
        return list(rows.scalars()), int(total or 0)

    async def latest_for_groups(
        self, group_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, CompetitorReport]:
        if not group_ids:
            return {}
        rows = await self.session.execute(
            select(CompetitorReport)
            .where(CompetitorReport.group_id.in_(group_ids))
            .ext(distinct_on(CompetitorReport.group_id))
            .order_by(CompetitorReport.group_id, CompetitorReport.created_at.desc())
        )
        return {r.group_id: r for r in rows.scalars()}
