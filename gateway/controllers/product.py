"""Product module routes: tracking products and reading their state."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from gateway.dependencies import CurrentUser, resources
from services.core.uow import UnitOfWork
from services.product.schemas import TrackedProductCreate, TrackedProductRead
from services.product.service import ProductService


def data_source(state: State) -> str:
    return "simulator" if resources(state).settings.apify.simulated else "apify"


async def provide_product_service(state: State, uow: NamedDependency[UnitOfWork]) -> ProductService:
    return ProductService(uow, data_source(state))


class ProductController(Controller):
    path = "/api/v1/products"
    tags = ["products"]
    dependencies = {"product_service": Provide(provide_product_service)}

    @post("/", status_code=201)
    async def track(
        self,
        data: JSONBody[TrackedProductCreate],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
    ) -> TrackedProductRead:
        """Track a product by ASIN or Amazon URL."""
        return await product_service.track(current_user.user, data)

    @get("/{tracking_id:uuid}")
    async def detail(
        self,
        tracking_id: FromPath[uuid.UUID],
        current_user: NamedDependency[CurrentUser],
        product_service: NamedDependency[ProductService],
    ) -> TrackedProductRead:
        """One tracked product with its latest good snapshot and its age."""
        return await product_service.get(current_user.user, tracking_id)
