"""Competitors: the seller's groups, the deterministic comparison, positioning reports.

Every read and write goes through ``CompetitorService`` (the one the JSON API uses); the
report's progress is polled by htmx from a status fragment, no inline script."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field, ValidationError

from gateway.controllers.competitor import provide_competitor_service
from gateway.web.kit import (
    AnyRequest,
    PageUser,
    domain_errors,
    flash,
    read_form,
    redirect,
    validation_errors,
)
from gateway.web.pages.common import SERVICES, product_labels, seller_page
from services.alerts.service import AlertService
from services.competitor.schemas import (
    MAX_COMPETITORS,
    MIN_COMPETITORS,
    CompetitorGroupCreate,
    CompetitorGroupFilter,
    CompetitorGroupUpdate,
    MembersAdd,
    ReportFilter,
)
from services.competitor.service import CompetitorService
from services.core.errors import DomainError, InvalidInput, NotFound, QuotaExceeded
from services.product.marketplaces import MARKETPLACES, Marketplace
from services.product.service import ProductService

STATUS_LABELS = {
    "queued": "Queued",
    "refreshing_data": "Refreshing data",
    "analysing": "Analysing",
    "done": "Done",
    "failed": "Failed",
}
STEPS = ("queued", "refreshing_data", "analysing", "done")
# How often the report page asks for the status while a report runs (htmx ``every``).
POLL = "2s"


class GroupForm(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    main_tracked_product_id: uuid.UUID
    competitors: str = Field(default="", max_length=12_000)


class RenameForm(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class MembersForm(BaseModel):
    competitors: str = Field(default="", max_length=12_000)


def competitor_lines(text: str) -> list[str]:
    """One ASIN or URL per line (commas and spaces separate too); blank lines ignored."""
    return [
        part.strip()
        for line in text.splitlines()
        for part in line.replace(",", " ").split()
        if part.strip()
    ]


def competitor_errors(exc: DomainError, refs: list[str]) -> dict[str, str]:
    """The service's per-item errors (``competitors[2]``) shown under the one textarea, each
    naming the line it is about."""
    errors = domain_errors(exc)
    lines = []
    for item in exc.field_errors:
        if item.field == "competitors":
            # The bound's full sentence ("3 to 5 competitors (1 asked)") reads better there.
            errors["competitors"] = exc.message
        elif item.field.startswith("competitors["):
            index = int(item.field[len("competitors[") : -1])
            ref = refs[index] if index < len(refs) else "?"
            lines.append(f"{ref}: {item.message}")
            errors.pop(item.field, None)
    if lines:
        errors["competitors"] = "; ".join(lines)
    return errors


def comparison_rows(c: Any) -> list[dict[str, Any]]:
    """One row per member (main first) joining the comparison's per-member lists by ASIN."""
    price = {d.asin: d for d in c.price.competitors}
    buybox = {b.asin: b for b in c.buybox}
    bsr = {b.asin: b for b in c.bsr.competitors}
    reviews = {r.asin: r for r in c.reviews.competitors}
    listing = {item.asin: item for item in c.listing}
    rows = []
    for m in c.members:
        main = m.role == "main"
        rows.append(
            {
                "m": m,
                "main": main,
                "price": c.price.main_price if main else getattr(price.get(m.asin), "price", None),
                "diff": None if main else price.get(m.asin),
                "buybox": buybox.get(m.asin),
                "rank": c.bsr.main_rank if main else getattr(bsr.get(m.asin), "rank", None),
                "gap": None if main else getattr(bsr.get(m.asin), "gap", None),
                "rating": c.reviews.main_rating
                if main
                else getattr(reviews.get(m.asin), "rating", None),
                "review_count": c.reviews.main_review_count
                if main
                else getattr(reviews.get(m.asin), "review_count", None),
                "per_30d": c.reviews.main_reviews_per_30d
                if main
                else getattr(reviews.get(m.asin), "reviews_per_30d", None),
                "reviews": None if main else reviews.get(m.asin),
                "listing": listing.get(m.asin),
            }
        )
    return rows


def group_currency(detail: Any) -> str:
    currency = detail.comparison.price.currency if detail.comparison else None
    return str(currency or MARKETPLACES[Marketplace(detail.marketplace)].currency)


class CompetitorPages(Controller):
    path = "/competitors"
    include_in_schema = False
    dependencies = {**SERVICES, "competitor_service": Provide(provide_competitor_service)}

    @get("/")
    async def groups(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        competitor_service: NamedDependency[CompetitorService],
        alert_service: NamedDependency[AlertService],
    ) -> Template:
        """The seller's competitor groups, newest first."""
        groups = CompetitorGroupFilter(limit=100)
        result = groups.page(*await competitor_service.list_groups(page_user.user, groups))
        return await seller_page(
            request,
            "competitors/list.html",
            page_user,
            alert_service,
            title="Competitors",
            groups=result.items,
            total=result.total,
            status_labels=STATUS_LABELS,
        )

    async def _new_page(
        self,
        request: AnyRequest,
        page_user: PageUser,
        product_service: ProductService,
        alert_service: AlertService,
        *,
        status_code: int = 200,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
    ) -> Template:
        rows = await product_labels(product_service, page_user.user)
        own = [r for r in rows.values() if r.role == "own" and r.is_active]
        options = [
            (str(r.id), f"{r.alias or r.title or r.asin} · {r.asin} · {r.marketplace}") for r in own
        ]
        return await seller_page(
            request,
            "competitors/new.html",
            page_user,
            alert_service,
            status_code=status_code,
            title="New competitor group",
            options=options,
            values=values or {},
            errors=errors or {},
            min_competitors=MIN_COMPETITORS,
            max_competitors=MAX_COMPETITORS,
            quota=page_user.user.plan.max_tracked_products,
        )

    @get("/new")
    async def new_group_form(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
        alert_service: NamedDependency[AlertService],
    ) -> Template:
        """Create a group: one of your products and 3-5 competitors."""
        return await self._new_page(request, page_user, product_service, alert_service)

    @post("/new")
    async def create_group(
        self,
        request: AnyRequest,
        page_user: NamedDependency[PageUser],
        product_service: NamedDependency[ProductService],
        competitor_service: NamedDependency[CompetitorService],
        alert_service: NamedDependency[AlertService],
    ) -> Template | Redirect:
        """Create the group; untracked competitors are tracked (quota refusal shown)."""
        form = await read_form(request, GroupForm)
        errors = form.errors
        if form.data is not None:
            refs = competitor_lines(form.data.competitors)
            try:
                created = await competitor_service.create_group(
                    page_user.user,
                    CompetitorGroupCreate(
                        name=form.data.name.strip(),
                        main_tracked_product_id=form.data.main_tracked_product_id,
                        competitors=refs,
                    ),
                )
            except ValidationError as exc:
                errors = validation_errors(exc)
                if "competitors" in errors:
                    errors["competitors"] = (
                        f"Give {MIN_COMPETITORS} to {MAX_COMPETITORS} competitors, one per line"
                    )
            except NotFound as exc:
                errors = domain_errors(exc)
                errors["main_tracked_product_id"] = "Choose one of your own tracked products"
            except (InvalidInput, QuotaExceeded) as exc:
                errors = competitor_errors(exc, refs)
            else:
                note = (
                    f" Now also tracking {', '.join(created.auto_tracked)} as competitors; "
                    "their numbers arrive with the next crawl."
                    if created.auto_tracked
                    else ""
                )
                flash(request, f"Group “{created.name}” created.{note}", "success")
                return redirect(f"/competitors/{created.id}")
        return await self._new_page(
            request,
            page_user,
            product_service,
            alert_service,
            status_code=422,
            values=form.values,
            errors=errors,
        )

    async def _group_page(
        self,
        request: AnyRequest,
        page_user: PageUser,
        competitor_service: CompetitorService,
        alert_service: AlertService,
        group_id: uuid.UUID,
        *,
        status_code: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> Template:
        detail = await competitor_service.get_group(page_user.user, group_id)
        paging = ReportFilter(limit=20)
        reports = paging.page(
            *await competitor_service.list_reports(page_user.user, group_id, paging)
        )
        labels = {m.asin: m.label or m.asin for m in detail.comparison.members}
        for member in [detail.main, *detail.competitors]:
            if member.alias:
                labels[member.asin] = member.alias
        return await seller_page(
            request,
            "competitors/detail.html",
            page_user,
            alert_service,
            status_code=status_code,
            title=detail.name,
            g=detail,
            c=detail.comparison,
            rows=comparison_rows(detail.comparison),
            stale=[f for f in detail.freshness if f.stale],
            labels=labels,
            currency=group_currency(detail),
            reports=reports.items,
            status_labels=STATUS_LABELS,
            errors=errors or {},
            values=values or {"name": detail.name},
            min_competitors=MIN_COMPETITORS,
            max_competitors=MAX_COMPETITORS,
        )

    @get("/{group_id:uuid}")
    async def group(
        self,
        request: AnyRequest,
        group_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        competitor_service: NamedDependency[CompetitorService],
        alert_service: NamedDependency[AlertService],
    ) -> Template:
        """A group: members, the comparison from the latest data, reports."""
        return await self._group_page(
            request, page_user, competitor_service, alert_service, group_id
        )

    @post("/{group_id:uuid}/rename")
    async def rename(
        self,
        request: AnyRequest,
        group_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        competitor_service: NamedDependency[CompetitorService],
        alert_service: NamedDependency[AlertService],
    ) -> Template | Redirect:
        form = await read_form(request, RenameForm)
        name = form.data.name.strip() if form.data else ""
        if name:
            await competitor_service.rename_group(
                page_user.user, group_id, CompetitorGroupUpdate(name=name)
            )
            flash(request, "Group renamed.", "success")
            return redirect(f"/competitors/{group_id}")
        return await self._group_page(
            request,
            page_user,
            competitor_service,
            alert_service,
            group_id,
            status_code=422,
            errors={"name": "Give the group a name (up to 200 characters)"},
            values=form.values,
        )

    @post("/{group_id:uuid}/members")
    async def add_members(
        self,
        request: AnyRequest,
        group_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        competitor_service: NamedDependency[CompetitorService],
        alert_service: NamedDependency[AlertService],
    ) -> Template | Redirect:
        """Add competitors (ASINs or URLs) up to five in the group."""
        form = await read_form(request, MembersForm)
        refs = competitor_lines(form.data.competitors if form.data else "")
        errors: dict[str, str]
        try:
            if not refs:
                raise InvalidInput("Paste at least one ASIN or product URL")
            await competitor_service.add_members(
                page_user.user, group_id, MembersAdd(competitors=refs)
            )
        except ValidationError:
            errors = {"competitors": f"At most {MAX_COMPETITORS} competitors at once"}
        except (InvalidInput, QuotaExceeded) as exc:
            errors = competitor_errors(exc, refs)
            errors.setdefault("competitors", exc.message)
        else:
            flash(request, f"Added {len(refs)} competitor(s).", "success")
            return redirect(f"/competitors/{group_id}#members")
        errors.pop("_form", None)
        name = (await competitor_service.get_group(page_user.user, group_id)).name
        return await self._group_page(
            request,
            page_user,
            competitor_service,
            alert_service,
            group_id,
            status_code=422,
            errors=errors,
            values={"name": name, **form.values},
        )

    @post("/{group_id:uuid}/members/{tracking_id:uuid}/remove")
    async def remove_member(
        self,
        request: AnyRequest,
        group_id: FromPath[uuid.UUID],
        tracking_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        competitor_service: NamedDependency[CompetitorService],
    ) -> Redirect:
        """Remove a competitor (at least three stay); it stays tracked."""
        try:
            await competitor_service.remove_member(page_user.user, group_id, tracking_id)
        except InvalidInput as exc:
            flash(request, exc.message + ": add another before removing this one.", "warning")
        else:
            flash(request, "Competitor removed from the group; it is still tracked.", "success")
        return redirect(f"/competitors/{group_id}#members")

    @post("/{group_id:uuid}/delete")
    async def delete_group(
        self,
        request: AnyRequest,
        group_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        competitor_service: NamedDependency[CompetitorService],
    ) -> Redirect:
        """Delete the group and its reports; competitors stay tracked."""
        await competitor_service.delete_group(page_user.user, group_id)
        flash(
            request,
            "Group deleted. Its competitors are still tracked; stop them on the Products page "
            "if you no longer need them.",
            "info",
        )
        return redirect("/competitors")

    @post("/{group_id:uuid}/reports")
    async def start_report(
        self,
        request: AnyRequest,
        group_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        competitor_service: NamedDependency[CompetitorService],
    ) -> Redirect:
        """Start a positioning report (the running one is shown instead unless forced)."""
        form = await request.form()
        force = form.get("force") == "1"
        accepted = await competitor_service.request_report(page_user.user, group_id, force)
        if accepted.deduplicated:
            flash(request, "A report is already being prepared; here is its progress.", "info")
        return redirect(f"/competitors/{group_id}/reports/{accepted.id}")

    @get("/{group_id:uuid}/reports/{report_id:uuid}")
    async def report(
        self,
        request: AnyRequest,
        group_id: FromPath[uuid.UUID],
        report_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        competitor_service: NamedDependency[CompetitorService],
        alert_service: NamedDependency[AlertService],
    ) -> Template:
        """A report: its progress while it runs, then summary, SWOT and recommendations."""
        group = await competitor_service.get_group(page_user.user, group_id)
        report = await competitor_service.get_report(page_user.user, group_id, report_id)
        return await seller_page(
            request,
            "competitors/report.html",
            page_user,
            alert_service,
            title=f"Report · {group.name}",
            g=group,
            r=report,
            currency=group_currency(group),
            status_labels=STATUS_LABELS,
            steps=STEPS,
            poll=POLL,
        )

    @get("/{group_id:uuid}/reports/{report_id:uuid}/status")
    async def report_status(
        self,
        group_id: FromPath[uuid.UUID],
        report_id: FromPath[uuid.UUID],
        page_user: NamedDependency[PageUser],
        competitor_service: NamedDependency[CompetitorService],
    ) -> Template:
        """The progress fragment htmx polls; once finished it asks the page to reload."""
        report = await competitor_service.get_report(page_user.user, group_id, report_id)
        finished = report.status in ("done", "failed")
        return Template(
            template_name="competitors/_report_status.html",
            context={
                "g": {"id": group_id},
                "r": report,
                "status_labels": STATUS_LABELS,
                "steps": STEPS,
                "poll": POLL,
            },
            headers={"HX-Refresh": "true"} if finished else None,
        )


__all__: Sequence[str] = ["CompetitorPages"]
