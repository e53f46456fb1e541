"""Tracking products: the seller's side of the shared catalogue."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from services.auth.models import User
from services.core.errors import Conflict, FieldError, InvalidInput, NotFound, QuotaExceeded
from services.core.uow import UnitOfWork
from services.product.asin import InvalidProductReference, parse_product_reference
from services.product.models import TrackedProduct
from services.product.repository import ProductRepository, TrackingRepository
from services.product.schemas import TrackedProductCreate, TrackedProductRead, tracked_read


class ProductService:
    """Track products and read their latest state, always scoped to one seller."""

    def __init__(self, uow: UnitOfWork, data_source: str) -> None:
        self.uow = uow
        self.data_source = data_source
        self.products = ProductRepository(uow.session)
        self.trackings = TrackingRepository(uow.session)

    async def track(self, user: User, data: TrackedProductCreate) -> TrackedProductRead:
        """Start tracking one product; 409 when already tracked, 403 past the plan's quota."""
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
        active = await self.trackings.count_active_for_user(user.id)
        if active >= user.plan.max_tracked_products:
            raise QuotaExceeded(
                f"Your plan tracks at most {user.plan.max_tracked_products} products",
                code="tracking_quota_exceeded",
            )
        product = await self.products.get_or_create(ref.marketplace.value, ref.asin)
        if await self.trackings.get_for_user(user.id, product.id) is not None:
            raise Conflict("You already track this product", code="already_tracked")
        tracking = TrackedProduct(
            user_id=user.id,
            product_id=product.id,
            alias=data.alias,
            tags=sorted({t.strip() for t in data.tags if t.strip()}),
            role=data.role.value,
            frequency=data.frequency.value,
        )
        try:
            async with self.uow.session.begin_nested():
                await self.trackings.add(tracking)
        except IntegrityError as exc:  # the same seller tracked it concurrently
            raise Conflict("You already track this product", code="already_tracked") from exc
        await self.uow.session.refresh(tracking)
        return tracked_read(tracking, product, None, self.data_source)

    async def get(self, user: User, tracking_id: uuid.UUID) -> TrackedProductRead:
        """One tracked product with its latest snapshot; 404 for anything not the seller's."""
        tracking = await self.trackings.get_by_id_for_user(user.id, tracking_id)
        if tracking is None:
            raise NotFound("No such tracked product")
        product = await self.products.get(tracking.product_id)
        if product is None:
            raise NotFound("No such tracked product")
        latest = await self.products.latest_good_snapshot(product.id)
        return tracked_read(tracking, product, latest, self.data_source)
