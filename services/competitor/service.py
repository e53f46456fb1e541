"""The competitor module's public API: groups, their comparison, and positioning reports.

Product data is read only through ``ProductCatalog`` (never its tables)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from services.competitor.comparison import BsrEntry, Comparison, MemberData, compare
from services.competitor.jobs import CompetitorJob
from services.competitor.models import (
    CompetitorGroup,
    CompetitorGroupMember,
    CompetitorReport,
)
from services.competitor.report import PositioningReport
from services.competitor.repository import GroupRepository, ReportRepository
from services.competitor.schemas import (
    MAX_COMPETITORS,
    MIN_COMPETITORS,
    CompetitorGroupCreate,
    CompetitorGroupCreated,
    CompetitorGroupDetail,
    CompetitorGroupFilter,
    CompetitorGroupRead,
    CompetitorGroupUpdate,
    MemberFreshness,
    MemberRead,
    MembersAdd,
    ReportAccepted,
    ReportFilter,
    ReportRead,
    ReportSummary,
    ReportUsage,
)
from services.core.errors import FieldError, InvalidInput, NotFound
from services.core.jobs import Queue
from services.core.settings import Settings
from services.core.uow import UnitOfWork
from services.product.catalog import ProductCatalog
from services.product.schemas import ProductFacts, Seller, TrackedProductRead, TrackingRole


def report_job_id(report_id: uuid.UUID, step: int) -> str:
    return f"{CompetitorJob.RUN_REPORT}:{report_id}:{step}"


def member_data(role: str, asin: str, marketplace: str, facts: ProductFacts | None) -> MemberData:
    """What the comparison needs, from the product module's facts of one member."""
    latest = facts.latest if facts else None
    found = latest is not None and (facts is None or facts.last_status != "not_found")
    if facts is None or latest is None or not found:
        return MemberData(
            role="main" if role == "main" else "competitor",
            asin=asin,
            marketplace=marketplace,
            label=facts.alias if facts else None,
            found=False,
            as_of=facts.last_good_at if facts else None,
        )
    before = next((p for p in facts.series_30d if p.review_count is not None), None)
    window = (
        (latest.captured_at - before.t).total_seconds() / 86_400 if before is not None else None
    )
    listing = facts.listing
    return MemberData(
        role="main" if role == "main" else "competitor",
        asin=asin,
        marketplace=marketplace,
        label=facts.alias,
        found=True,
        as_of=latest.captured_at,
        currency=latest.currency,
        price=latest.price,
        buybox_price=latest.buybox_price,
        buybox_seller=latest.buybox_seller,
        in_stock=latest.in_stock,
        rating=latest.rating,
        review_count=latest.review_count,
        review_count_30d_ago=before.review_count if before and window and window >= 1 else None,
        review_window_days=window if window and window >= 1 else None,
        bsr=[BsrEntry(rank=b.rank, category=b.category) for b in latest.bsr],
        title=listing.title if listing else None,
        brand=listing.brand if listing else None,
        bullets=listing.bullets if listing else [],
        image_count=len(listing.images) if listing else None,
        video_count=listing.video_count if listing else None,
    )


def freshness(
    members: Sequence[tuple[str, str, ProductFacts | None]], now: datetime, window_s: int
) -> list[MemberFreshness]:
    """Which members' last good data is older than the window, and how old it is."""
    out = []
    for role, asin, facts in members:
        as_of = facts.last_good_at if facts else None
        age = Decimal(str(round((now - as_of).total_seconds() / 3600, 1))) if as_of else None
        out.append(
            MemberFreshness(
                asin=asin,
                role="main" if role == "main" else "competitor",
                stale=as_of is None or (now - as_of).total_seconds() > window_s,
                as_of=as_of,
                age_hours=age,
            )
        )
    return out


def report_summary(report: CompetitorReport) -> ReportSummary:
    return ReportSummary(
        id=report.id,
        group_id=report.group_id,
        status=report.status,
        source=report.source,
        model=report.model,
        prompt_version=report.prompt_version,
        simulated=report.simulated,
        failure_reason=report.failure_reason,
        created_at=report.created_at,
        started_at=report.started_at,
        finished_at=report.finished_at,
        usage=ReportUsage(
            input_tokens=report.input_tokens,
            cached_input_tokens=report.cached_input_tokens,
            output_tokens=report.output_tokens,
            cost_usd=report.cost_usd,
            from_cache=report.from_cache,
        ),
    )


def report_read(report: CompetitorReport) -> ReportRead:
    return ReportRead(
        **report_summary(report).model_dump(),
        freshness=[MemberFreshness.model_validate(f) for f in report.freshness or []],
        comparison=Comparison.model_validate(report.comparison) if report.comparison else None,
        report=PositioningReport.model_validate(report.result) if report.result else None,
    )


class CompetitorService:
    """Competitor groups of one seller; every id is checked against that seller."""

    def __init__(self, uow: UnitOfWork, products: ProductCatalog, settings: Settings) -> None:
        self.uow = uow
        self.products = products
        self.settings = settings
        self.groups = GroupRepository(uow.session)
        self.reports = ReportRepository(uow.session)

    async def competitors_of(
        self, user_id: uuid.UUID, main_tracking_id: uuid.UUID
    ) -> tuple[uuid.UUID, list[uuid.UUID]] | None:
        """(group id, competitor tracking ids) of the seller's newest group whose main product
        is this tracking; None when it is no group's main (used by optimization)."""
        group = await self.groups.newest_with_main(user_id, main_tracking_id)
        if group is None:
            return None
        return group.id, [m.tracking_id for m in await self.groups.members([group.id])]

    @staticmethod
    def compare(members: Sequence[MemberData]) -> Comparison:
        """The deterministic comparison of one main product (role ``main``) with competitors."""
        return compare(members)

    # --- groups ---------------------------------------------------------------------------

    async def _main(self, user: Seller, tracking_id: uuid.UUID) -> TrackedProductRead:
        try:
            main = await self.products.tracking_summary(user, tracking_id)
        except NotFound as exc:
            raise NotFound(
                "No such tracked product",
                field_errors=[FieldError("main_tracked_product_id", "unknown")],
            ) from exc
        if main.role != TrackingRole.OWN.value or not main.is_active:
            raise InvalidInput(
                "The main product must be one of your own products, actively tracked",
                field_errors=[
                    FieldError("main_tracked_product_id", "track it with role 'own' first")
                ],
            )
        return main

    def _resolve(self, main: TrackedProductRead, refs: list[str], existing: set[str]) -> list[str]:
        """The ASINs meant by ``refs``, each checked: same marketplace, not the main product,
        no duplicates, not already a member."""
        asins: list[str] = []
        errors: list[FieldError] = []
        for i, ref in enumerate(refs):
            where = f"competitors[{i}]"
            try:
                marketplace, asin = self.products.parse_reference(ref, main.marketplace)
            except InvalidInput as exc:
                errors.append(FieldError(where, exc.message))
                continue
            if marketplace != main.marketplace:
                errors.append(
                    FieldError(
                        where,
                        f"is on the {marketplace} marketplace; the main product is on "
                        f"{main.marketplace}",
                    )
                )
            elif asin == main.asin:
                errors.append(FieldError(where, "is the main product itself"))
            elif asin in asins:
                errors.append(FieldError(where, f"{asin} is given twice"))
            elif asin in existing:
                errors.append(FieldError(where, f"{asin} is already in this group"))
            else:
                asins.append(asin)
        if errors:
            raise InvalidInput("Some competitors cannot be used", field_errors=errors)
        return asins

    @staticmethod
    def _check_bound(count: int) -> None:
        if not MIN_COMPETITORS <= count <= MAX_COMPETITORS:
            raise InvalidInput(
                f"A group has {MIN_COMPETITORS} to {MAX_COMPETITORS} competitors ({count} asked)",
                code="competitor_count",
                field_errors=[
                    FieldError("competitors", f"{MIN_COMPETITORS}-{MAX_COMPETITORS} required")
                ],
            )

    async def _track(
        self, user: Seller, marketplace: str, asins: list[str]
    ) -> list[tuple[TrackedProductRead, bool]]:
        """Track every ASIN not yet tracked (competitor role), after one quota check for all."""
        needed = 0
        for asin in asins:
            found = await self.products.find_tracking(user, marketplace, asin)
            if found is None or not found.is_active:
                needed += 1
        await self.products.ensure_quota(user, needed)
        return [
            await self.products.track_or_get(user, marketplace, asin, TrackingRole.COMPETITOR)
            for asin in asins
        ]

    async def create_group(
        self, user: Seller, data: CompetitorGroupCreate
    ) -> CompetitorGroupCreated:
        """Create a group; competitors not yet tracked are tracked (403 past the quota)."""
        main = await self._main(user, data.main_tracked_product_id)
        self._check_bound(len(data.competitors))
        asins = self._resolve(main, data.competitors, set())
        tracked = await self._track(user, main.marketplace, asins)
        group = CompetitorGroup(
            id=uuid.uuid4(),
            user_id=user.id,
            name=data.name.strip(),
            marketplace=main.marketplace,
            main_tracking_id=main.id,
        )
        await self.groups.add(
            group,
            [
                CompetitorGroupMember(
                    group_id=group.id,
                    tracking_id=t.id,
                    asin=t.asin,
                    auto_tracked=created,
                    position=i,
                )
                for i, (t, created) in enumerate(tracked)
            ],
        )
        read = (await self._reads(user, [group]))[0]
        return CompetitorGroupCreated(
            **read.model_dump(), auto_tracked=[t.asin for t, created in tracked if created]
        )

    async def _group(
        self, user: Seller, group_id: uuid.UUID, for_update: bool = False
    ) -> CompetitorGroup:
        group = await self.groups.get_for_user(user.id, group_id, for_update=for_update)
        if group is None:
            raise NotFound("No such competitor group")
        return group

    async def _reads(
        self, user: Seller, groups: list[CompetitorGroup]
    ) -> list[CompetitorGroupRead]:
        members = await self.groups.members([g.id for g in groups])
        ids = [g.main_tracking_id for g in groups] + [m.tracking_id for m in members]
        facts = await self.products.facts(user, ids)
        latest = await self.reports.latest_for_groups([g.id for g in groups])

        def read_member(
            tracking_id: uuid.UUID, role: str, asin: str, auto: bool, marketplace: str
        ) -> MemberRead:
            f = facts.get(tracking_id)
            return MemberRead(
                tracked_product_id=tracking_id,
                role="main" if role == "main" else "competitor",
                marketplace=f.marketplace if f else marketplace,
                asin=f.asin if f else asin,
                alias=f.alias if f else None,
                auto_tracked=auto,
                is_active=f.is_active if f else False,
                as_of=f.last_good_at if f else None,
            )

        out = []
        for g in groups:
            main_facts = facts.get(g.main_tracking_id)
            report = latest.get(g.id)
            out.append(
                CompetitorGroupRead(
                    id=g.id,
                    name=g.name,
                    marketplace=g.marketplace,
                    main=read_member(
                        g.main_tracking_id,
                        "main",
                        main_facts.asin if main_facts else "",
                        False,
                        g.marketplace,
                    ),
                    competitors=[
                        read_member(
                            m.tracking_id, "competitor", m.asin, m.auto_tracked, g.marketplace
                        )
                        for m in members
                        if m.group_id == g.id
                    ],
                    created_at=g.created_at,
                    updated_at=g.updated_at,
                    latest_report_id=report.id if report else None,
                    latest_report_status=report.status if report else None,
                )
            )
        return out

    async def list_groups(
        self, user: Seller, filters: CompetitorGroupFilter
    ) -> tuple[list[CompetitorGroupRead], int]:
        """One page of the seller's groups, newest first, and their total: ``(items, total)``."""
        groups, total = await self.groups.list_for_user(user.id, filters.limit, filters.offset)
        items = await self._reads(user, groups) if groups else []
        return items, total

    async def comparison_inputs(
        self, user: Seller, group: CompetitorGroup
    ) -> tuple[list[tuple[str, str, ProductFacts | None]], list[uuid.UUID]]:
        members = await self.groups.members([group.id])
        ids = [group.main_tracking_id] + [m.tracking_id for m in members]
        facts = await self.products.facts(user, ids)
        main = facts.get(group.main_tracking_id)
        rows: list[tuple[str, str, ProductFacts | None]] = [
            ("main", main.asin if main else "", main)
        ]
        rows += [("competitor", m.asin, facts.get(m.tracking_id)) for m in members]
        return rows, ids

    def compare_rows(
        self, group: CompetitorGroup, rows: list[tuple[str, str, ProductFacts | None]]
    ) -> Comparison:
        return compare([member_data(role, asin, group.marketplace, f) for role, asin, f in rows])

    async def get_group(self, user: Seller, group_id: uuid.UUID) -> CompetitorGroupDetail:
        """A group with its comparison computed now from the latest data, and its freshness."""
        group = await self._group(user, group_id)
        read = (await self._reads(user, [group]))[0]
        rows, _ = await self.comparison_inputs(user, group)
        return CompetitorGroupDetail(
            **read.model_dump(),
            comparison=self.compare_rows(group, rows),
            freshness=freshness(
                rows, datetime.now(UTC), self.settings.competitor.freshness_window_s
            ),
        )

    async def rename_group(
        self, user: Seller, group_id: uuid.UUID, data: CompetitorGroupUpdate
    ) -> CompetitorGroupRead:
        group = await self._group(user, group_id, for_update=True)
        group.name = data.name.strip()
        await self.uow.session.flush()
        await self.uow.session.refresh(group)
        return (await self._reads(user, [group]))[0]

    async def add_members(
        self, user: Seller, group_id: uuid.UUID, data: MembersAdd
    ) -> CompetitorGroupRead:
        """Add competitors within the bound of 5 (tracked automatically when needed)."""
        group = await self._group(user, group_id, for_update=True)
        current = await self.groups.members([group.id])
        self._check_bound(len(current) + len(data.competitors))
        main = await self.products.tracking_summary(user, group.main_tracking_id)
        asins = self._resolve(main, data.competitors, {m.asin for m in current})
        tracked = await self._track(user, group.marketplace, asins)
        next_position = max((m.position for m in current), default=-1) + 1
        await self.groups.add_members(
            [
                CompetitorGroupMember(
                    group_id=group.id,
                    tracking_id=t.id,
                    asin=t.asin,
                    auto_tracked=created,
                    position=next_position + i,
                )
                for i, (t, created) in enumerate(tracked)
            ]
        )
        return (await self._reads(user, [group]))[0]

    async def remove_member(
        self, user: Seller, group_id: uuid.UUID, tracking_id: uuid.UUID
    ) -> CompetitorGroupRead:
        """Remove a competitor (the group keeps at least 3); its tracking goes on."""
        group = await self._group(user, group_id, for_update=True)
        current = await self.groups.members([group.id])
        if tracking_id not in {m.tracking_id for m in current}:
            raise NotFound("No such competitor in this group")
        self._check_bound(len(current) - 1)
        await self.groups.remove_member(group.id, tracking_id)
        return (await self._reads(user, [group]))[0]

    async def delete_group(self, user: Seller, group_id: uuid.UUID) -> None:
        """Delete a group and its reports; auto-tracked competitors stay tracked."""
        group = await self._group(user, group_id, for_update=True)
        await self.groups.delete(group)

    # --- reports --------------------------------------------------------------------------

    async def request_report(
        self, user: Seller, group_id: uuid.UUID, force: bool
    ) -> ReportAccepted:
        """Queue a positioning report on the low queue; a running one is returned instead
        unless ``force``."""
        # The group's row lock serialises two requests racing for the same group.
        group = await self._group(user, group_id, for_update=True)
        active = await self.reports.active_for_group(group.id)
        if active is not None and not force:
            return ReportAccepted(id=active.id, status=active.status, deduplicated=True)
        report = await self.reports.add(
            CompetitorReport(
                id=uuid.uuid4(), group_id=group.id, user_id=user.id, status="queued", forced=force
            )
        )
        self.uow.jobs.enqueue(
            CompetitorJob.RUN_REPORT,
            queue=Queue.LOW,
            job_id=report_job_id(report.id, 0),
            report_id=str(report.id),
        )
        return ReportAccepted(id=report.id, status="queued", deduplicated=False)

    async def get_report(
        self, user: Seller, group_id: uuid.UUID, report_id: uuid.UUID
    ) -> ReportRead:
        """A report's status, freshness, comparison, result, tokens and cost."""
        await self._group(user, group_id)
        report = await self.reports.get_for_user(user.id, group_id, report_id)
        if report is None:
            raise NotFound("No such report")
        return report_read(report)

    async def list_reports(
        self, user: Seller, group_id: uuid.UUID, filters: ReportFilter
    ) -> tuple[list[ReportSummary], int]:
        """One page of a group's past and running reports, newest first, and their total."""
        await self._group(user, group_id)
        reports, total = await self.reports.list_for_group(group_id, filters.limit, filters.offset)
        return [report_summary(r) for r in reports], total
