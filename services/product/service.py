"""Tracking products: the seller's side of the shared catalogue."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.alerts.repository import AlertRepository
from services.alerts.thresholds import Thresholds
from services.auth.models import User
from services.core.errors import Conflict, FieldError, InvalidInput, NotFound, QuotaExceeded
from services.core.pagination import MAX_PAGE_SIZE
from services.core.uow import UnitOfWork
from services.product import queries
from services.product.asin import InvalidProductReference, parse_product_reference
from services.product.cache import ReadCache, list_version_key
from services.product.history import HistoryService
from services.product.models import Product, TrackedProduct
from services.product.read_models import latest_state
from services.product.repository import ProductRepository, TrackingRepository
from services.product.schemas import (
    BsrEntryRead,
    BulkLineResult,
    BulkTrackResult,
    HistoryRead,
    ListingRead,
    ListingVersionRead,
    TrackedProductCreate,
    TrackedProductDetail,
    TrackedProductRead,
    TrackedProductRow,
    TrackedProductUpdate,
    tracked_read,
)


def _tags(tags: list[str]) -> list[str]:
    cleaned = sorted({t.strip() for t in tags if t.strip()})
    if any(len(t) > 50 for t in cleaned):
        raise InvalidInput("A tag is too long", field_errors=[FieldError("tags", "50 chars max")])
    return cleaned


def _diff(newer: dict[str, Any], older: dict[str, Any] | None) -> dict[str, Any]:
    """What changed from ``older`` to ``newer``, field by field."""
    if older is None:
        return {}
    changes: dict[str, Any] = {}
    for field in ("title", "brand", "description", "video_count"):
        if newer[field] != older[field]:
            changes[field] = {"old": older[field], "new": newer[field]}
    for field in ("bullets", "images", "category_path"):
        old, new = list(older[field] or []), list(newer[field] or [])
        if old != new:
            changes[field] = {
                "added": [x for x in new if x not in old],
                "removed": [x for x in old if x not in new],
                "reordered": sorted(old) == sorted(new),
            }
    return changes


class ProductService:
    """Track products and read their state, always scoped to one seller."""

    def __init__(self, uow: UnitOfWork, data_source: str, cache: ReadCache) -> None:
        self.uow = uow
        self.data_source = data_source
        self.cache = cache
        self.products = ProductRepository(uow.session)
        self.trackings = TrackingRepository(uow.session)

    async def _reference(self, data: TrackedProductCreate) -> tuple[str, str]:
        try:
            ref = parse_product_reference(data.product, data.marketplace)
        except InvalidProductReference as exc:
            raise InvalidInput(str(exc), field_errors=[FieldError("product", str(exc))]) from exc
        if ref.marketplace is None:
            raise InvalidInput(
                "A marketplace is needed with a bare ASIN",
                field_errors=[FieldError("marketplace", "required when product is an ASIN")],
            )
        if data.marketplace is not None and data.marketplace != ref.marketplace:
            raise InvalidInput(
                "The URL belongs to another marketplace than the one given",
                field_errors=[FieldError("marketplace", f"the URL is on {ref.marketplace.value}")],
            )
        return ref.marketplace.value, ref.asin

    async def _check_quota(self, user: User, adding: int = 1) -> None:
        # Serialises one seller's concurrent track/resume calls, so the count stays true.
        await self.uow.session.execute(select(User.id).where(User.id == user.id).with_for_update())
        active = await self.trackings.count_active_for_user(user.id)
        if active + adding > user.plan.max_tracked_products:
            raise QuotaExceeded(
                f"Your plan tracks at most {user.plan.max_tracked_products} products "
                f"({active} tracked now)",
                code="tracking_quota_exceeded",
            )

    async def track(self, user: User, data: TrackedProductCreate) -> TrackedProductRead:
        """Start tracking one product; 409 when already tracked, 403 past the plan's quota."""
        marketplace, asin = await self._reference(data)
        await self._check_quota(user)
        product = await self.products.get_or_create(marketplace, asin)
        if await self.trackings.get_for_user(user.id, product.id) is not None:
            raise Conflict("You already track this product", code="already_tracked")
        tracking = TrackedProduct(
            user_id=user.id,
            product_id=product.id,
            alias=data.alias,
            tags=_tags(data.tags),
            role=data.role.value,
            frequency=data.frequency.value,
            thresholds=data.thresholds.model_dump(mode="json", exclude_defaults=True),
        )
        try:
            async with self.uow.session.begin_nested():
                await self.trackings.add(tracking)
        except IntegrityError as exc:  # the same seller tracked it concurrently
            raise Conflict("You already track this product", code="already_tracked") from exc
        await self.uow.session.refresh(tracking)
        await self._lists_changed(user)
        latest = await latest_state(self.products, self.cache, product.id)
        return tracked_read(tracking, product, latest, self.data_source)

    async def track_many(self, user: User, items: list[dict[str, Any]]) -> BulkTrackResult:
        """Each line on its own (in a savepoint): tracked, already tracked, or invalid + why."""
        lines: list[BulkLineResult] = []
        for number, raw in enumerate(items, start=1):
            label = str(raw.get("product")) if isinstance(raw, dict) else None
            try:
                data = TrackedProductCreate.model_validate(raw)
                async with self.uow.session.begin_nested():
                    created = await self.track(user, data)
                lines.append(
                    BulkLineResult(
                        line=number, product=label, result="tracked", tracked_product_id=created.id
                    )
                )
            except ValidationError as exc:
                reason = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors()
                )
                lines.append(
                    BulkLineResult(line=number, product=label, result="invalid", reason=reason)
                )
            except Conflict:
                lines.append(BulkLineResult(line=number, product=label, result="already_tracked"))
            except (InvalidInput, QuotaExceeded) as exc:
                lines.append(
                    BulkLineResult(line=number, product=label, result="invalid", reason=exc.message)
                )
        return BulkTrackResult(
            tracked=sum(1 for r in lines if r.result == "tracked"),
            already_tracked=sum(1 for r in lines if r.result == "already_tracked"),
            invalid=sum(1 for r in lines if r.result == "invalid"),
            lines=lines,
        )

    async def own_tracking(
        self, user: User, tracking_id: uuid.UUID
    ) -> tuple[TrackedProduct, Product]:
        tracking = await self.trackings.get_by_id_for_user(user.id, tracking_id)
        product = await self.products.get(tracking.product_id) if tracking else None
        if tracking is None or product is None:
            raise NotFound("No such tracked product")
        return tracking, product

    async def get(self, user: User, tracking_id: uuid.UUID) -> TrackedProductDetail:
        """Latest good state (every BSR entry), current listing, recent alerts, thresholds."""
        tracking, product = await self.own_tracking(user, tracking_id)
        latest = await latest_state(self.products, self.cache, product.id)
        base = tracked_read(tracking, product, latest, self.data_source)
        versions = await queries.listing_versions(self.uow.session, product.id, 1)
        alerts = await AlertRepository(self.uow.session).recent_for_tracking(tracking.id, 10)
        return TrackedProductDetail(
            **base.model_dump(),
            thresholds=Thresholds.model_validate(tracking.thresholds or {}),
            listing=ListingRead.model_validate(dict(versions[0])) if versions else None,
            recent_alerts=[
                {
                    "id": str(a.id),
                    "rule": a.rule,
                    "severity": a.severity,
                    "message": a.message,
                    "created_at": a.created_at.isoformat(),
                    "read": a.read_at is not None,
                }
                for a in alerts
            ],
            last_crawled_at=product.last_crawled_at,
        )

    async def update(
        self, user: User, tracking_id: uuid.UUID, data: TrackedProductUpdate
    ) -> TrackedProductDetail:
        tracking, _ = await self.own_tracking(user, tracking_id)
        if data.alias is not None:
            tracking.alias = data.alias or None
        if data.tags is not None:
            tracking.tags = _tags(data.tags)
        if data.role is not None:
            tracking.role = data.role.value
        if data.frequency is not None:
            tracking.frequency = data.frequency.value
        if data.thresholds is not None:
            tracking.thresholds = data.thresholds.model_dump(mode="json", exclude_defaults=True)
        await self.uow.session.flush()
        await self._lists_changed(user)
        return await self.get(user, tracking_id)

    async def set_active(
        self, user: User, tracking_id: uuid.UUID, active: bool
    ) -> TrackedProductDetail:
        """Stop tracking (history is kept) or resume it (within the plan's quota)."""
        tracking, _ = await self.own_tracking(user, tracking_id)
        if active and not tracking.is_active:
            await self._check_quota(user)
        tracking.is_active = active
        await self.uow.session.flush()
        await self._lists_changed(user)
        return await self.get(user, tracking_id)

    async def _lists_changed(self, user: User) -> None:
        # After the commit: a list read before it must not be cached under the new version.
        key = list_version_key(user.id)

        async def bump() -> None:
            await self.cache.bump(key)

        self.uow.after_commit.append(bump)

    async def list_tracked(
        self,
        user: User,
        *,
        tag: str | None = None,
        role: str | None = None,
        active: bool | None = None,
        crawl_status: str | None = None,
        q: str | None = None,
        sort: str = "created_at",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[TrackedProductRow], int]:
        params = [
            tag,
            role,
            active,
            crawl_status,
            q,
            sort,
            descending,
            min(limit, MAX_PAGE_SIZE),
            offset,
        ]
        version = await self.cache.version(list_version_key(user.id))
        key = None
        if version is not None:
            digest = hashlib.sha256(json.dumps(params).encode()).hexdigest()[:24]
            key = f"cache:list:{user.id}:{version}:{digest}"
            cached = await self.cache.get(key)
            if cached is not None:
                return [TrackedProductRow.model_validate(r) for r in cached["rows"]], cached[
                    "total"
                ]
        result = await self._list_from_db(
            user, tag, role, active, crawl_status, q, sort, descending, limit, offset
        )
        if key is not None:
            await self.cache.set(
                key, {"rows": [r.model_dump(mode="json") for r in result[0]], "total": result[1]}
            )
        return result

    async def _list_from_db(
        self,
        user: User,
        tag: str | None,
        role: str | None,
        active: bool | None,
        crawl_status: str | None,
        q: str | None,
        sort: str,
        descending: bool,
        limit: int,
        offset: int,
    ) -> tuple[list[TrackedProductRow], int]:
        rows, total = await queries.list_tracked(
            self.uow.session,
            user.id,
            week_ago=datetime.now(UTC) - timedelta(days=7),
            tag=tag,
            role=role,
            active=active,
            crawl_status=crawl_status,
            q=q,
            sort=sort,
            descending=descending,
            limit=min(limit, MAX_PAGE_SIZE),
            offset=offset,
        )
        return [
            TrackedProductRow(
                id=r["id"],
                product_id=r["product_id"],
                marketplace=r["marketplace"],
                asin=r["asin"],
                alias=r["alias"],
                title=r["title"],
                tags=list(r["tags"] or []),
                role=r["role"],
                frequency=r["frequency"],
                is_active=r["is_active"],
                currency=r["currency"],
                price=r["price"],
                buybox_price=r["buybox_price"],
                in_stock=r["in_stock"],
                rating=r["rating"],
                review_count=r["review_count"],
                main_bsr=BsrEntryRead(**r["bsr"][0]) if r["bsr"] else None,
                price_change_7d_pct=r["price_change_7d"],
                last_crawl_status=r["last_status"],
                as_of=r["as_of"],
            )
            for r in rows
        ], total

    async def history(
        self,
        user: User,
        tracking_id: uuid.UUID,
        metric: str,
        range_: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> HistoryRead:
        """One metric of a tracked product over a named or custom range."""
        _, product = await self.own_tracking(user, tracking_id)
        return await HistoryService(self.uow.session, self.cache).series(
            product, metric, range_, start, end
        )

    async def history_csv(
        self,
        user: User,
        tracking_id: uuid.UUID,
        range_: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> tuple[str, str]:
        """(file name, CSV text) of every good snapshot in the range."""
        _, product = await self.own_tracking(user, tracking_id)
        body = await HistoryService(self.uow.session, self.cache).csv(product, range_, start, end)
        return f"{product.marketplace}-{product.asin}-history.csv", body

    async def listing_versions(
        self, user: User, tracking_id: uuid.UUID, limit: int = 20
    ) -> list[ListingVersionRead]:
        """Listing versions, newest first, each with what changed against the one before."""
        _, product = await self.own_tracking(user, tracking_id)
        rows = [
            dict(r) for r in await queries.listing_versions(self.uow.session, product.id, limit)
        ]
        return [
            ListingVersionRead(
                **row, changes=_diff(row, rows[i + 1] if i + 1 < len(rows) else None)
            )
            for i, row in enumerate(rows[:limit])
        ]
