"""Optimization: a product's listing score, suggestion runs, decisions and experiments.

Every read and write goes through ``OptimizationService`` (the one the JSON API uses); a run's
progress is polled by htmx from a status fragment, no inline script."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field

from gateway.controllers.optimization import provide_optimization_service
from gateway.web.kit import AnyRequest, PageUser, flash, read_form, redirect, safe_next
from gateway.web.pages.common import SERVICES, product_labels, seller_page
from services.alerts.service import AlertService
from services.core.errors import Conflict, InvalidInput
from services.optimization.schemas import (
    RULE_BASED_NOTE,
    ApplyRequest,
    ExperimentFilter,
    ExperimentStatus,
    RunFilter,
)
from services.optimization.service import OptimizationService
from services.product.marketplaces import MARKETPLACES, Marketplace
from services.product.service import ProductService

POLL = "2s"
COMPONENT_LABELS = {
    "title": "Title",
    "bullets": "Bullets",
    "description": "Description",
    "images": "Images and video",
    "price_position": "Price position",
    "rating_reviews": "Rating and reviews",
}
VERDICT_LABELS = {
    "improved": "Improved",
    "worse": "Worse",
    "no_clear_change": "No clear change",
    "insufficient_data": "Not enough data",
}
METRIC_LABELS = {
    "price": "Price",
    "buybox_share": "Buy Box share",
    "bsr": "Subcategory BSR",
    "rating": "Rating",
    "review_velocity": "Review velocity",
    "in_stock_share": "In-stock share",
}


class DismissForm(BaseModel):
    reason: str = Field(default="", max_length=500)
    back: str = ""


class ApplyForm(BaseModel):
    live_at: str = Field(default="", max_length=40)
    back: str = ""


def parse_live_at(text: str) -> datetime | None:
    """The ``datetime-local`` (or date) field read as UTC; blank means now."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput("Give the date the change went live, e.g. 2026-11-20 09:00") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class OptimizationPages(Controller):
    path = "/optimization"
    include_in_schema = False
    dependencies = {**SERVICES, "optimization_service": Provide(provide_optimization_service)}

    @get("/")
    async def index(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
        optimization_service: NamedDependency[OptimizationService],
        alert_service: NamedDependency[AlertService],
    ) -> Template:
        """Your products to optimize, and the running and finished experiments."""
        rows = await product_labels(product_service, page_user.user)
        own = [r for r in rows.values() if r.role == "own" and r.is_active]
        recent = ExperimentFilter(limit=10)
        experiments = recent.page(
            *await optimization_service.list_experiments(page_user.id, recent)
        )
        return await seller_page(
            request,
            "optimization/index.html",
            page_user,
            alert_service,
            title="Optimization",
            products=own,
            experiments=experiments.items,
            experiments_total=experiments.total,
            labels=rows,
            verdict_labels=VERDICT_LABELS,
        )

    async def _product_context(
        self, page_user: PageUser, product_service: ProductService, tracking_id: uuid.UUID
    ) -> tuple[Any, str]:
        detail = await product_service.get(page_user.user, tracking_id)
        currency = detail.latest.currency if detail.latest else None
        currency = currency or MARKETPLACES[Marketplace(detail.marketplace)].currency
        return detail, currency

    @get("/products/{tracking_id:uuid}")
    async def product(
        self,
        request: AnyRequest,
        tracking_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
        optimization_service: NamedDependency[OptimizationService],
        alert_service: NamedDependency[AlertService],
    ) -> Template:
        """The listing score with its components, the latest suggestions, runs, experiments."""
        detail, currency = await self._product_context(page_user, product_service, tracking_id)
        score = await optimization_service.listing_score(page_user.id, tracking_id)
        paging = RunFilter(limit=10)
        runs = paging.page(*await optimization_service.list_runs(page_user.id, tracking_id, paging))
        latest = await optimization_service.latest_suggestions(page_user.id, tracking_id)
        running = next((r for r in runs.items if r.status in ("queued", "running")), None)
        of_product = ExperimentFilter(tracked_product_id=tracking_id, limit=20)
        experiments = of_product.page(
            *await optimization_service.list_experiments(page_user.id, of_product)
        )
        return await seller_page(
            request,
            "optimization/product.html",
            page_user,
            alert_service,
            title=f"Optimize · {detail.alias or detail.asin}",
            p=detail,
            currency=currency,
            score=score,
            runs=runs.items,
            run=latest,
            running=running,
            experiments=experiments.items,
            component_labels=COMPONENT_LABELS,
            verdict_labels=VERDICT_LABELS,
            rule_note=RULE_BASED_NOTE,
            back=f"/optimization/products/{tracking_id}",
            poll=POLL,
        )

    @post("/products/{tracking_id:uuid}/runs")
    async def start_run(
        self,
        request: AnyRequest,
        tracking_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        optimization_service: NamedDependency[OptimizationService],
    ) -> Redirect:
        """Start a suggestion run (the going one is shown instead)."""
        accepted = await optimization_service.start_run(page_user.id, tracking_id)
        if accepted.deduplicated:
            flash(
                request, "Suggestions are already being prepared; here is their progress.", "info"
            )
        return redirect(f"/optimization/runs/{accepted.run_id}")

    @get("/runs/{run_id:uuid}")
    async def run(
        self,
        request: AnyRequest,
        run_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
        optimization_service: NamedDependency[OptimizationService],
        alert_service: NamedDependency[AlertService],
    ) -> Template:
        """One run: its progress while it runs, then its ranked suggestions."""
        run = await optimization_service.get_run(page_user.id, run_id)
        detail, currency = await self._product_context(
            page_user, product_service, run.tracked_product_id
        )
        return await seller_page(
            request,
            "optimization/run.html",
            page_user,
            alert_service,
            title=f"Suggestions · {detail.alias or detail.asin}",
            p=detail,
            currency=currency,
            run=run,
            component_labels=COMPONENT_LABELS,
            back=f"/optimization/runs/{run_id}",
            poll=POLL,
        )

    @get("/runs/{run_id:uuid}/status")
    async def run_status(
        self,
        run_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        optimization_service: NamedDependency[OptimizationService],
    ) -> Template:
        """The progress fragment htmx polls; once finished it asks the page to reload."""
        run = await optimization_service.get_run(page_user.id, run_id)
        finished = run.status in ("done", "failed")
        return Template(
            template_name="optimization/_run_status.html",
            context={"run": run, "poll": POLL},
            headers={"HX-Refresh": "true"} if finished else None,
        )

    @post("/suggestions/{suggestion_id:uuid}/accept")
    async def accept(
        self,
        request: AnyRequest,
        suggestion_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        optimization_service: NamedDependency[OptimizationService],
    ) -> Redirect:
        form = await read_form(request, DismissForm)
        back = safe_next(form.values.get("back"), "/optimization")
        try:
            await optimization_service.accept(page_user.id, suggestion_id)
        except Conflict as exc:
            flash(request, exc.message + ".", "warning")
        else:
            flash(request, "Accepted. Mark it applied once the change is live.", "success")
        return redirect(f"{back}#s-{suggestion_id}")

    @post("/suggestions/{suggestion_id:uuid}/dismiss")
    async def dismiss(
        self,
        request: AnyRequest,
        suggestion_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        optimization_service: NamedDependency[OptimizationService],
    ) -> Redirect:
        """Dismiss with a reason (a blank reason is refused with the message on the page)."""
        form = await read_form(request, DismissForm)
        back = safe_next(form.values.get("back"), "/optimization")
        reason = form.data.reason if form.data else ""
        try:
            await optimization_service.dismiss(page_user.id, suggestion_id, reason)
        except InvalidInput:
            flash(request, "Say why you dismiss the suggestion (a few words are enough).", "error")
        except Conflict as exc:
            flash(request, exc.message + ".", "warning")
        else:
            flash(request, "Suggestion dismissed.", "info")
        return redirect(f"{back}#s-{suggestion_id}")

    @post("/suggestions/{suggestion_id:uuid}/apply")
    async def apply(
        self,
        request: AnyRequest,
        suggestion_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        optimization_service: NamedDependency[OptimizationService],
    ) -> Redirect:
        """Mark applied (live date, default now) and start measuring its impact."""
        form = await read_form(request, ApplyForm)
        back = safe_next(form.values.get("back"), "/optimization")
        try:
            live_at = parse_live_at(form.data.live_at if form.data else "")
            experiment = await optimization_service.apply(
                page_user.id, suggestion_id, ApplyRequest(live_at=live_at)
            )
        except InvalidInput as exc:
            flash(request, exc.message + ".", "error")
        except Conflict as exc:
            flash(request, exc.message + ".", "warning")
        else:
            flash(
                request,
                "Marked applied. The experiment compares the days before and after the change "
                f"and gives its verdict after {experiment.measure_end:%d %b %Y}.",
                "success",
            )
            return redirect(f"/optimization/experiments/{experiment.id}")
        return redirect(f"{back}#s-{suggestion_id}")

    @get("/experiments")
    async def experiments(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
        optimization_service: NamedDependency[OptimizationService],
        alert_service: NamedDependency[AlertService],
        status: FromQuery[Literal["running", "evaluated"] | None] = None,
    ) -> Template:
        """Running and finished experiments with their verdicts."""
        filters = ExperimentFilter(status=ExperimentStatus(status) if status else None, limit=100)
        result = filters.page(*await optimization_service.list_experiments(page_user.id, filters))
        return await seller_page(
            request,
            "optimization/experiments.html",
            page_user,
            alert_service,
            title="Experiments",
            experiments=result.items,
            total=result.total,
            status=status or "",
            labels=await product_labels(product_service, page_user.user),
            verdict_labels=VERDICT_LABELS,
        )

    @get("/experiments/{experiment_id:uuid}")
    async def experiment(
        self,
        request: AnyRequest,
        experiment_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
        optimization_service: NamedDependency[OptimizationService],
        alert_service: NamedDependency[AlertService],
    ) -> Template:
        """One experiment: windows, before/after per metric, the method and the verdict."""
        experiment = await optimization_service.get_experiment(page_user.id, experiment_id)
        detail, currency = await self._product_context(
            page_user, product_service, experiment.tracked_product_id
        )
        metrics = experiment.result.get("metrics", []) if experiment.result else []
        return await seller_page(
            request,
            "optimization/experiment.html",
            page_user,
            alert_service,
            title="Experiment",
            e=experiment,
            p=detail,
            currency=currency,
            metrics=metrics,
            baseline=experiment.baseline.get("metrics", {}),
            metric_labels=METRIC_LABELS,
            verdict_labels=VERDICT_LABELS,
        )


__all__: Sequence[str] = ["OptimizationPages"]
