"""Optimization routes: listing score, suggestion runs, decisions, experiments."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from gateway.controllers.product import data_source
from gateway.dependencies import CurrentUser, read_cache, resources
from gateway.pagination import Limit, Offset
from services.competitor.service import CompetitorService
from services.core.errors import NotFound
from services.core.pagination import Page
from services.core.uow import UnitOfWork
from services.optimization.schemas import (
    ApplyRequest,
    DismissRequest,
    ExperimentFilter,
    ExperimentRead,
    ExperimentStatus,
    RunAccepted,
    RunFilter,
    RunRead,
    RunSummary,
    ScoreRead,
    SuggestionRead,
)
from services.optimization.service import OptimizationService
from services.product.catalog import ProductCatalog


async def provide_optimization_service(
    state: State, uow: NamedDependency[UnitOfWork]
) -> OptimizationService:
    settings = resources(state).settings
    products = ProductCatalog(uow, data_source(state), read_cache(state))
    return OptimizationService(
        uow,
        settings.optimization,
        products,
        llm_configured=settings.openai.enabled,
        competitors=CompetitorService(uow, products, settings),
    )


async def provide_run_filter(limit: Limit = 20, offset: Offset = 0) -> RunFilter:
    """The run list's paging."""
    return RunFilter(limit=limit, offset=offset)


async def provide_experiment_filter(
    limit: Limit = 50,
    offset: Offset = 0,
    status: FromQuery[ExperimentStatus | None] = None,
    tracked_product_id: FromQuery[uuid.UUID | None] = None,
) -> ExperimentFilter:
    """The experiment list's query string as its one filter model."""
    return ExperimentFilter(
        limit=limit, offset=offset, status=status, tracked_product_id=tracked_product_id
    )


class OptimizationController(Controller):
    path = "/api/v1"
    tags = ["optimization"]
    dependencies = {"optimization_service": Provide(provide_optimization_service)}

    @get("/products/{tracking_id:uuid}/listing-score")
    async def listing_score(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        optimization_service: NamedDependency[OptimizationService],
    ) -> ScoreRead:
        """The deterministic 0-100 listing score with its components and how to raise each."""
        return await optimization_service.listing_score(current_user.user.id, tracking_id)

    @post("/products/{tracking_id:uuid}/optimization-runs", status_code=202)
    async def start_run(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        optimization_service: NamedDependency[OptimizationService],
    ) -> RunAccepted:
        """Start a suggestion run in the background (deduplicated while one is going)."""
        return await optimization_service.start_run(current_user.user.id, tracking_id)

    @get(
        "/products/{tracking_id:uuid}/optimization-runs",
        dependencies={"filters": Provide(provide_run_filter)},
    )
    async def list_runs(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        optimization_service: NamedDependency[OptimizationService],
        filters: NamedDependency[RunFilter],
    ) -> Page[RunSummary]:
        """The product's optimization runs, newest first."""
        items, total = await optimization_service.list_runs(
            current_user.user.id, tracking_id, filters
        )
        return filters.page(items, total)

    @get("/products/{tracking_id:uuid}/suggestions")
    async def latest_suggestions(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        optimization_service: NamedDependency[OptimizationService],
    ) -> RunRead:
        """The ranked suggestions of the product's newest finished run."""
        run = await optimization_service.latest_suggestions(current_user.user.id, tracking_id)
        if run is None:
            raise NotFound(
                "No finished optimization run yet: start one first", code="no_optimization_run"
            )
        return run

    @get("/optimization-runs/{run_id:uuid}")
    async def get_run(
        self,
        run_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        optimization_service: NamedDependency[OptimizationService],
    ) -> RunRead:
        """One run: status, score, ranked suggestions, LLM usage."""
        return await optimization_service.get_run(current_user.user.id, run_id)

    @post("/suggestions/{suggestion_id:uuid}/accept", status_code=200)
    async def accept(
        self,
        suggestion_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        optimization_service: NamedDependency[OptimizationService],
    ) -> SuggestionRead:
        """Accept an open suggestion."""
        return await optimization_service.accept(current_user.user.id, suggestion_id)

    @post("/suggestions/{suggestion_id:uuid}/dismiss", status_code=200)
    async def dismiss(
        self,
        suggestion_id: FromPath[uuid.UUID],
        data: JSONBody[DismissRequest],
        current_user: NamedDependency[CurrentUser],
        optimization_service: NamedDependency[OptimizationService],
    ) -> SuggestionRead:
        """Dismiss a suggestion with a reason."""
        return await optimization_service.dismiss(current_user.user.id, suggestion_id, data.reason)

    @post("/suggestions/{suggestion_id:uuid}/apply", status_code=201)
    async def apply(
        self,
        suggestion_id: FromPath[uuid.UUID],
        data: JSONBody[ApplyRequest],
        current_user: NamedDependency[CurrentUser],
        optimization_service: NamedDependency[OptimizationService],
    ) -> ExperimentRead:
        """Mark a suggestion applied (live_at defaults to now) and start measuring its impact."""
        return await optimization_service.apply(current_user.user.id, suggestion_id, data)

    @get("/experiments", dependencies={"filters": Provide(provide_experiment_filter)})
    async def list_experiments(
        self,
        current_user: NamedDependency[CurrentUser],
        optimization_service: NamedDependency[OptimizationService],
        filters: NamedDependency[ExperimentFilter],
    ) -> Page[ExperimentRead]:
        """Running and evaluated experiments with before/after figures and verdicts."""
        items, total = await optimization_service.list_experiments(current_user.user.id, filters)
        return filters.page(items, total)

    @get("/experiments/{experiment_id:uuid}")
    async def get_experiment(
        self,
        experiment_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        optimization_service: NamedDependency[OptimizationService],
    ) -> ExperimentRead:
        """One experiment: windows, baseline, per-metric figures, method and verdict."""
        return await optimization_service.get_experiment(current_user.user.id, experiment_id)
