"""Competitor module routes: groups, their comparison, and positioning reports."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from gateway.controllers.product import data_source
from gateway.dependencies import CurrentUser, read_cache, resources
from gateway.pagination import Limit, Offset
from services.competitor.schemas import (
    CompetitorGroupCreate,
    CompetitorGroupCreated,
    CompetitorGroupDetail,
    CompetitorGroupFilter,
    CompetitorGroupRead,
    CompetitorGroupUpdate,
    MembersAdd,
    ReportAccepted,
    ReportFilter,
    ReportRead,
    ReportSummary,
)
from services.competitor.service import CompetitorService
from services.core.pagination import Page
from services.core.uow import UnitOfWork
from services.product.catalog import ProductCatalog


async def provide_competitor_service(
    state: State, uow: NamedDependency[UnitOfWork]
) -> CompetitorService:
    settings = resources(state).settings
    products = ProductCatalog(uow, data_source(state), read_cache(state), settings=settings)
    return CompetitorService(uow, products, settings)


async def provide_group_filter(limit: Limit = 50, offset: Offset = 0) -> CompetitorGroupFilter:
    """The group list's paging."""
    return CompetitorGroupFilter(limit=limit, offset=offset)


async def provide_report_filter(limit: Limit = 50, offset: Offset = 0) -> ReportFilter:
    """The report list's paging."""
    return ReportFilter(limit=limit, offset=offset)


class CompetitorGroupController(Controller):
    path = "/api/v1/competitor-groups"
    tags = ["competitor groups"]
    dependencies = {"competitor_service": Provide(provide_competitor_service)}

    @post("/", status_code=201)
    async def create_group(
        self,
        data: JSONBody[CompetitorGroupCreate],
        current_user: NamedDependency[CurrentUser],
        competitor_service: NamedDependency[CompetitorService],
    ) -> CompetitorGroupCreated:
        """Create a group: your product and 3-5 competitors (untracked ones get tracked)."""
        return await competitor_service.create_group(current_user.user, data)

    @get("/", dependencies={"filters": Provide(provide_group_filter)})
    async def list_groups(
        self,
        current_user: NamedDependency[CurrentUser],
        competitor_service: NamedDependency[CompetitorService],
        filters: NamedDependency[CompetitorGroupFilter],
    ) -> Page[CompetitorGroupRead]:
        """Your competitor groups, newest first."""
        items, total = await competitor_service.list_groups(current_user.user, filters)
        return filters.page(items, total)

    @get("/{group_id:uuid}")
    async def get_group(
        self,
        group_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        competitor_service: NamedDependency[CompetitorService],
    ) -> CompetitorGroupDetail:
        """A group with its deterministic comparison from the latest data."""
        return await competitor_service.get_group(current_user.user, group_id)

    @patch("/{group_id:uuid}")
    async def rename_group(
        self,
        group_id: FromPath[uuid.UUID],
        data: JSONBody[CompetitorGroupUpdate],
        current_user: NamedDependency[CurrentUser],
        competitor_service: NamedDependency[CompetitorService],
    ) -> CompetitorGroupRead:
        """Rename a group."""
        return await competitor_service.rename_group(current_user.user, group_id, data)

    @delete("/{group_id:uuid}", status_code=204)
    async def delete_group(
        self,
        group_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        competitor_service: NamedDependency[CompetitorService],
    ) -> None:
        """Delete a group and its reports (its competitors stay tracked)."""
        await competitor_service.delete_group(current_user.user, group_id)

    @post("/{group_id:uuid}/competitors", status_code=200)
    async def add_competitors(
        self,
        group_id: FromPath[uuid.UUID],
        data: JSONBody[MembersAdd],
        current_user: NamedDependency[CurrentUser],
        competitor_service: NamedDependency[CompetitorService],
    ) -> CompetitorGroupRead:
        """Add competitors (ASINs or URLs), up to 5 in the group."""
        return await competitor_service.add_members(current_user.user, group_id, data)

    @delete("/{group_id:uuid}/competitors/{tracked_product_id:uuid}", status_code=200)
    async def remove_competitor(
        self,
        group_id: FromPath[uuid.UUID],
        tracked_product_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        competitor_service: NamedDependency[CompetitorService],
    ) -> CompetitorGroupRead:
        """Remove a competitor (at least 3 stay); it remains tracked."""
        return await competitor_service.remove_member(
            current_user.user, group_id, tracked_product_id
        )

    @post("/{group_id:uuid}/reports", status_code=202)
    async def start_report(
        self,
        group_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        competitor_service: NamedDependency[CompetitorService],
        force: FromQuery[bool] = False,
    ) -> ReportAccepted:
        """Start a positioning report in the background (a running one is returned instead)."""
        return await competitor_service.request_report(current_user.user, group_id, force)

    @get("/{group_id:uuid}/reports", dependencies={"filters": Provide(provide_report_filter)})
    async def list_reports(
        self,
        group_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        competitor_service: NamedDependency[CompetitorService],
        filters: NamedDependency[ReportFilter],
    ) -> Page[ReportSummary]:
        """The group's reports, newest first."""
        items, total = await competitor_service.list_reports(current_user.user, group_id, filters)
        return filters.page(items, total)

    @get("/{group_id:uuid}/reports/{report_id:uuid}")
    async def get_report(
        self,
        group_id: FromPath[uuid.UUID],
        report_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        competitor_service: NamedDependency[CompetitorService],
    ) -> ReportRead:
        """A report's status, data freshness, comparison, result, tokens and cost."""
        return await competitor_service.get_report(current_user.user, group_id, report_id)
