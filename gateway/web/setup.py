"""Wiring of the page stack into the app: templates, static files, sessions, CSRF, flash,
the Content-Security-Policy, and the API docs served from local assets."""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.plugins.flash import FlashConfig, FlashPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.stores.redis import RedisStore
from litestar.template import TemplateConfig

from gateway.web.formatting import FILTERS
from gateway.web.session import RotatingSessionConfig
from services.core.settings import Environment, Settings

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
# Other page modules (the admin dashboard) append their template folder here.
TEMPLATE_DIRS: list[Path] = [WEB_DIR / "templates"]
SESSION_STORE = "sessions"
SESSION_COOKIE = "shelfwatch_session"
# Where a session id's data lives in Redis: f"{SESSION_NAMESPACE}:{id}".
SESSION_NAMESPACE = "shelfwatch:session"
CSRF_COOKIE = "shelfwatch_csrf"
# Paths that never carry a session cookie and never need a CSRF token: the JSON API is
# authenticated by bearer tokens (a browser never attaches those on its own), the rest is
# read-only.
NO_SESSION_PATHS = ["^/api/", "^/static/", "^/schema", "^/health", "^/metrics"]
NO_CSRF_PATHS = ["^/api/", "^/schema", "^/health", "^/metrics"]


def cookies_secure(settings: Settings) -> bool:
    if settings.web.cookie_secure is not None:
        return settings.web.cookie_secure
    return settings.environment is not Environment.DEVELOPMENT


def csrf_secret(settings: Settings) -> str:
    # Derived from the JWT secret (already required and checked outside development), so a
    # deployment needs no second secret; HMAC keeps the two keys independent.
    key = settings.auth.jwt_secret.get_secret_value().encode()
    return hmac.new(key, b"shelfwatch-csrf-v1", hashlib.sha256).hexdigest()


def session_config(settings: Settings) -> RotatingSessionConfig:
    return RotatingSessionConfig(
        store=SESSION_STORE,
        key=SESSION_COOKIE,
        max_age=settings.web.session_max_age_s,
        httponly=True,
        secure=cookies_secure(settings),
        samesite="lax",
        exclude=NO_SESSION_PATHS,
    )


def csrf_config(settings: Settings) -> CSRFConfig:
    return CSRFConfig(
        secret=csrf_secret(settings),
        cookie_name=CSRF_COOKIE,
        cookie_secure=cookies_secure(settings),
        cookie_httponly=True,
        cookie_samesite="lax",
        exclude=NO_CSRF_PATHS,
    )


def session_store(redis: Any) -> RedisStore:
    """Sessions on the gateway's own Redis pool, under their own key prefix."""
    return RedisStore(redis, namespace=SESSION_NAMESPACE, handle_client_shutdown=False)


def _add_filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters.update(FILTERS)


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(
        directory=list(TEMPLATE_DIRS), engine=JinjaTemplateEngine, engine_callback=_add_filters
    )


def flash_plugin(templates: TemplateConfig[JinjaTemplateEngine]) -> FlashPlugin:
    return FlashPlugin(config=FlashConfig(template_config=templates))


def static_router() -> Router:
    return create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        # Vendored files change only with a version bump; a week of caching is safe.
        cache_control=CacheControlHeader(max_age=7 * 86_400, public=True),
        include_in_schema=False,
    )


class LocalSwaggerRenderPlugin(OpenAPIRenderPlugin):
    """Swagger UI from the vendored files, started by a script file: works offline and under
    the strict CSP (Litestar's own plugins load a CDN and inline their start-up script)."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        spec_url = escape(self.get_openapi_json_route(request), quote=True)
        title = escape(str(openapi_schema.get("info", {}).get("title", "API")))
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{title} API</title>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<link rel='icon' href='/static/img/favicon.svg'>"
            "<link rel='stylesheet' href='/static/vendor/swagger-ui-dist/swagger-ui.css'>"
            "</head><body>"
            f"<div id='swagger-ui' data-spec-url='{spec_url}'></div>"
            "<script src='/static/vendor/swagger-ui-dist/swagger-ui-bundle.js'></script>"
            "<script src='/static/js/swagger-init.js'></script>"
            "</body></html>"
        ).encode()


def register_session_store(app: Litestar, redis: Any) -> None:
    app.stores.register(SESSION_STORE, session_store(redis), allow_override=True)
