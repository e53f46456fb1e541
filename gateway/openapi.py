"""Make the generated OpenAPI tell the truth about what the gateway answers.

Litestar documents each route's success answer and a generic 400. Errors, though, come from one
place (``gateway.problems``) for every route, so they are documented from one place too: each
operation gets every problem status it can produce, as ``application/problem+json`` with the
``Problem`` schema; routes that need a bearer token declare the security scheme; the bulk
route, which reads its body itself, gets its JSON and CSV bodies described; the list convention
(every list answers one ``Page`` shape) is stated once on the document and on each page schema.
"""

from __future__ import annotations

from http import HTTPStatus

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
)

from gateway.dependencies import requires_admin
from gateway.problems import PROBLEM_JSON
from gateway.ratelimit import EXEMPT_PREFIXES

BEARER = "BearerAuth"
LIST_CONVENTION = (
    "Every list route answers one paginated shape, `Page`: `{items, total, limit, offset}`, where "
    "`total` counts every match of the filters and `limit` (1-100) and `offset` are the paging "
    "that was applied; each resource takes its filters and `limit`/`offset` as query parameters "
    "(the admin's live Redis views of queues, workers, schedule and a queue's jobs keep their "
    "own shapes)."
)
BULK_PATH = "/api/v1/products/bulk"

_PROBLEM = Schema(
    type=OpenAPIType.OBJECT,
    description="An RFC 9457 problem; ``code`` is stable, ``detail`` is for people.",
    required=["type", "title", "status", "code", "detail", "instance", "request_id"],
    properties={
        "type": Schema(type=OpenAPIType.STRING),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "code": Schema(type=OpenAPIType.STRING),
        "detail": Schema(type=OpenAPIType.STRING),
        "instance": Schema(type=OpenAPIType.STRING),
        "request_id": Schema(type=[OpenAPIType.STRING, OpenAPIType.NULL]),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(
                type=OpenAPIType.OBJECT,
                properties={
                    "field": Schema(type=OpenAPIType.STRING),
                    "message": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
)

# Operations (method, path) that refuse on purpose with these statuses, beyond the general rule.
_CONFLICTS = {
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/products"),
    ("POST", "/api/v1/products/{tracked_id}/refresh"),
    ("POST", "/api/v1/suggestions/{suggestion_id}/accept"),
    ("POST", "/api/v1/suggestions/{suggestion_id}/dismiss"),
    ("POST", "/api/v1/suggestions/{suggestion_id}/apply"),
}
_ANONYMOUS_401 = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh")}
_QUOTA_403 = {
    ("POST", "/api/v1/products"),
    ("POST", BULK_PATH),
    # Competitors not yet tracked are tracked, within the plan's quota.
    ("POST", "/api/v1/competitor-groups"),
    ("POST", "/api/v1/competitor-groups/{group_id}/competitors"),
}
# Operations whose body names one of the caller's records (404 when it names nothing theirs).
_BODY_IDS = {("POST", "/api/v1/competitor-groups")}


def _problem(status: int) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=HTTPStatus(status).phrase + " (problem details)",
        content={
            PROBLEM_JSON: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))
        },
    )


def _statuses(method: str, path: str, operation: Operation, secured: bool, admin: bool) -> set[int]:
    """The problem statuses ``gateway.problems`` and the edge layers can answer here."""
    if path.startswith(EXEMPT_PREFIXES):
        # Probes: no input, no rate limit; readiness answers its own 503 (documented there).
        return {500}
    # Every API route: undecodable input (400), services refusing input (422), rate limit
    # (429), our fault (500), the database or Redis being away (503).
    statuses = {400, 422, 429, 500, 503}
    if secured:
        statuses.add(401)
    if admin:
        statuses.add(403)
    # A path id, or an id in the query (``?channel_id=``), may name nothing the caller owns.
    query_ids = [p for p in operation.parameters or [] if getattr(p, "name", "").endswith("_id")]
    if "{" in path or query_ids:
        statuses.add(404)
    if operation.request_body is not None or method in ("POST", "PATCH", "PUT"):
        statuses.update({413, 415})
    key = (method, path)
    if key in _CONFLICTS:
        statuses.add(409)
    if key in _ANONYMOUS_401:
        statuses.add(401)
    if key in _QUOTA_403:
        statuses.add(403)
    if key in _BODY_IDS:
        statuses.add(404)
    return statuses


def _handlers(app: Litestar) -> dict[tuple[str, str], HTTPRouteHandler]:
    found: dict[tuple[str, str], HTTPRouteHandler] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler):
                for method in handler.http_methods:
                    found[(method.upper(), route.path_format)] = handler
    return found


def _needs(handler: HTTPRouteHandler | None) -> tuple[bool, bool]:
    """(needs a bearer token, needs an admin) from the dependencies the handler asks for."""
    if handler is None:
        return False, False
    names = set(handler.parsed_fn_signature.parameters)
    admin = "admin" in names or requires_admin in handler.resolve_guards()
    return admin or "current_user" in names, admin


def _bulk_body() -> RequestBody:
    return RequestBody(
        required=True,
        description='Up to 100 products: JSON ``{"items": [...]}`` or a CSV upload with a '
        "header line (product,marketplace,alias,tags,role,frequency; tags split by ';').",
        content={
            "application/json": OpenAPIMediaType(
                schema=Reference(ref="#/components/schemas/BulkTrack")
            ),
            "text/csv": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING, description="UTF-8 CSV with a header")
            ),
        },
    )


def document(app: Litestar) -> None:
    """Complete ``app``'s OpenAPI in place (before it is first served)."""
    schema: OpenAPI = app.openapi_schema
    components = schema.components if isinstance(schema.components, Components) else Components()
    schema.components = components
    components.schemas = dict(components.schemas or {})
    components.schemas["Problem"] = _PROBLEM
    components.security_schemes = dict(components.security_schemes or {})
    components.security_schemes[BEARER] = SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description="The access token from POST /api/v1/auth/login",
    )
    components.schemas["BulkTrack"] = Schema(
        type=OpenAPIType.OBJECT,
        required=["items"],
        properties={
            "items": Schema(
                type=OpenAPIType.ARRAY,
                min_items=1,
                max_items=100,
                # Each line is checked on its own and answered in the result, never a 4xx.
                items=Reference(ref="#/components/schemas/TrackedProductCreate"),
            )
        },
        additional_properties=False,
    )

    schema.info.description = LIST_CONVENTION
    for name, component in components.schemas.items():
        # Litestar names each parametrised Page after its item type (Page_AlertRead_, ...).
        if name.startswith("Page") and isinstance(component, Schema):
            component.description = LIST_CONVENTION

    handlers = _handlers(app)
    for path, item in (schema.paths or {}).items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation: Operation | None = getattr(item, method)
            if operation is None:
                continue
            secured, admin = _needs(handlers.get((method.upper(), path)))
            if method == "post" and path == BULK_PATH:
                operation.request_body = _bulk_body()
            if secured:
                operation.security = [{BEARER: []}]
            responses = dict(operation.responses or {})
            for status in sorted(_statuses(method.upper(), path, operation, secured, admin)):
                # Litestar's own 400 entry describes its validation shape as application/json:
                # ours are always problem+json.
                responses[str(status)] = _problem(status)
            operation.responses = responses
