"""The gateway's app factory: one Litestar app routing to the auth, product, competitor and
optimization modules, wrapped by the request-context and rate-limit layers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.openapi import OpenAPIConfig
from litestar.types import ASGIApp

from gateway.controllers.admin import AdminController
from gateway.controllers.alerts import AlertController, ChannelController
from gateway.controllers.auth import AuthController
from gateway.controllers.competitor import CompetitorGroupController
from gateway.controllers.health import HealthController
from gateway.controllers.optimization import OptimizationController
from gateway.controllers.product import ProductController
from gateway.controllers.queues_admin import QueueAdminController
from gateway.controllers.system import SystemController
from gateway.dependencies import DEPENDENCIES
from gateway.middleware import RequestContextMiddleware, trusted_networks
from gateway.observability import MetricsController, http_metrics
from gateway.openapi import document as document_openapi
from gateway.problems import EXCEPTION_HANDLERS
from gateway.ratelimit import RateLimitMiddleware
from gateway.state import Resources
from gateway.version import VERSION
from gateway.web import setup as web
from gateway.web.routes import PAGE_ROUTERS
from services.core.db import create_engine, create_sessionmaker
from services.core.jobs import create_arq_pool
from services.core.settings import Settings


def create_litestar(settings: Settings) -> Litestar:
    """The Litestar application alone (routes, dependencies, error format, metrics, OpenAPI)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(settings)
        redis = await create_arq_pool(settings)
        app.state.resources = Resources(settings, engine, create_sessionmaker(engine), redis)
        web.register_session_store(app, redis)
        try:
            yield
        finally:
            await redis.aclose()
            await engine.dispose()

    templates = web.template_config()
    app = Litestar(
        route_handlers=[
            *PAGE_ROUTERS,
            web.static_router(),
            AuthController,
            ProductController,
            SystemController,
            AlertController,
            ChannelController,
            AdminController,
            HealthController,
            MetricsController,
            CompetitorGroupController,
            OptimizationController,
            QueueAdminController,
        ],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[http_metrics, web.session_config(settings).middleware],
        template_config=templates,
        plugins=[web.flash_plugin(templates)],
        csrf_config=web.csrf_config(settings),
        lifespan=[lifespan],
        cors_config=CORSConfig(allow_origins=settings.http.cors_origins)
        if settings.http.cors_origins
        else None,
        openapi_config=OpenAPIConfig(
            title="Shelfwatch",
            version=VERSION,
            path="/schema",
            # Served from vendored files: /schema works offline and under the strict CSP.
            render_plugins=[web.LocalSwaggerRenderPlugin(path=["/", "/swagger"])],
        ),
        request_max_body_size=settings.http.max_body_bytes,
        debug=False,
        # Our JSON logging is configured once per process; Litestar must not replace it.
        logging_config=None,
    )
    document_openapi(app)
    return app


def wrap_edge(app: Litestar, settings: Settings) -> ASGIApp:
    """Request ids, access log, security headers and rate limits outside the router, so that
    unknown routes and refused calls carry them too."""
    limited = RateLimitMiddleware(app, settings)
    return RequestContextMiddleware(limited, trusted_networks(settings.http.trusted_proxies))


def create_app(settings: Settings) -> ASGIApp:
    """The served ASGI app."""
    return wrap_edge(create_litestar(settings), settings)
