"""Bulk tracking: many products tracked from one upload (a JSON body or a CSV file), each line
judged on its own as one ``track`` call would judge it, all written in a fixed number of
statements."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError

from services.core.errors import InvalidInput
from services.core.read_cache import ReadCache
from services.core.settings import Settings
from services.core.uow import OnSession, UnitOfWork
from services.product.repository import ProductRepository, TrackingRepository
from services.product.schemas import (
    BulkLineResult,
    BulkOutcome,
    BulkTrackResult,
    Seller,
    TrackedProductCreate,
)
from services.product.tracking import (
    PlanQuota,
    ask_first_crawl,
    clean_tags,
    lists_changed,
    product_reference,
    quota_exceeded,
)
from services.product.uploads import parse_bulk_upload


class BulkTrackService:
    """Track a seller's list of products in one request, with a result per line."""

    def __init__(
        self, uow: UnitOfWork, cache: ReadCache | None = None, *, settings: Settings | None = None
    ) -> None:
        self.uow = uow
        self.cache = cache or ReadCache(None, 0)
        self.settings = settings

    products = OnSession(ProductRepository)
    trackings = OnSession(TrackingRepository)
    quota = OnSession(PlanQuota)

    async def track_upload(self, user: Seller, body: bytes, content_type: str) -> BulkTrackResult:
        """Track the lines of a JSON {"items": [...]} body or a CSV upload (100 at most)."""
        return await self.track_many(user, parse_bulk_upload(body, content_type))

    async def track_many(self, user: Seller, items: list[Any]) -> BulkTrackResult:
        """Each line on its own: tracked, already tracked, or invalid + why. The lines are
        checked in order exactly as one ``track`` call each would be (reference, quota, already
        tracked, tags), but written with a fixed number of statements."""
        outcomes: dict[int, BulkLineResult] = {}
        wanted: list[tuple[int, str | None, TrackedProductCreate, tuple[str, str]]] = []
        for number, raw in enumerate(items, start=1):
            label = str(raw.get("product")) if isinstance(raw, dict) else None
            try:
                data = TrackedProductCreate.model_validate(raw)
                ref = product_reference(data.product, data.marketplace)
                wanted.append((number, label, data, ref))
            except ValidationError as exc:
                reason = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors()
                )
                outcomes[number] = _line(number, label, BulkOutcome.INVALID, reason)
            except InvalidInput as exc:
                outcomes[number] = _line(number, label, BulkOutcome.INVALID, exc.message)
        if wanted:
            maximum, active = await self.quota.locked(user)
            products = await self.products.get_or_create_many([ref for *_, ref in wanted])
            tracked = await self.trackings.product_ids_for_user(user.id, [p.id for p in products])
            rows: list[dict[str, Any]] = []
            lines: dict[int, tuple[int, str | None]] = {}
            for (number, label, data, _), product in zip(wanted, products, strict=True):
                if active + 1 > maximum:
                    error = quota_exceeded(maximum, active)
                    outcomes[number] = _line(number, label, BulkOutcome.INVALID, error.message)
                    continue
                if product.id in tracked:
                    outcomes[number] = _line(number, label, BulkOutcome.ALREADY_TRACKED)
                    continue
                try:
                    tags = clean_tags(data.tags)
                except InvalidInput as exc:
                    outcomes[number] = _line(number, label, BulkOutcome.INVALID, exc.message)
                    continue
                tracked.add(product.id)
                active += 1
                lines[product.id] = (number, label)
                rows.append(
                    {
                        "user_id": user.id,
                        "product_id": product.id,
                        "alias": data.alias,
                        "tags": tags,
                        "role": data.role,
                        "frequency": data.frequency,
                        "thresholds": data.thresholds.model_dump(
                            mode="json", exclude_defaults=True
                        ),
                    }
                )
            created = await self.trackings.add_many(rows)
            for product_id, (number, label) in lines.items():
                tracking_id = created.get(product_id)
                outcomes[number] = (
                    _line(number, label, BulkOutcome.TRACKED, tracking_id=tracking_id)
                    if tracking_id is not None
                    # tracked by a concurrent request of the same seller meanwhile
                    else _line(number, label, BulkOutcome.ALREADY_TRACKED)
                )
            if created:
                lists_changed(self.uow, self.cache, user.id)
                ask_first_crawl(self.uow, self.settings, [p for p in products if p.id in created])
        results = [outcomes[n] for n in sorted(outcomes)]
        return BulkTrackResult(
            tracked=sum(1 for r in results if r.result is BulkOutcome.TRACKED),
            already_tracked=sum(1 for r in results if r.result is BulkOutcome.ALREADY_TRACKED),
            invalid=sum(1 for r in results if r.result is BulkOutcome.INVALID),
            lines=results,
        )


def _line(
    number: int,
    label: str | None,
    result: BulkOutcome,
    reason: str | None = None,
    tracking_id: uuid.UUID | None = None,
) -> BulkLineResult:
    return BulkLineResult(
        line=number, product=label, result=result, reason=reason, tracked_product_id=tracking_id
    )
