"""Every error leaves the gateway as ``application/problem+json`` (RFC 9457) with a stable code."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DBAPIError

from services.core.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    MalformedBody,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    Throttled,
)
from services.core.logging import request_id_var
from services.core.metrics import OUTAGE_RESPONSES
from services.core.outage import RETRY_AFTER_S, OutageLog, dependency_of, is_transient

logger = logging.getLogger("gateway.errors")
outage_log = OutageLog(logger)

PROBLEM_JSON = "application/problem+json"

# The one table from domain error to HTTP status.
DOMAIN_STATUS: dict[type[DomainError], int] = {
    MalformedBody: 400,
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    NotAuthenticated: 401,
    PermissionDenied: 403,
    QuotaExceeded: 403,
    Throttled: 429,
}

# Stable codes for the statuses the framework raises itself.
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


def problem_body(
    status: int, code: str, detail: str, path: str, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": detail,
        "instance": path,
        "request_id": request_id_var.get(),
    }
    if errors:
        body["errors"] = errors
    return body


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body = problem_body(status, code, detail, request.url.path, errors)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _domain_status(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]
    return 400


def handle_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    errors = [{"field": e.field, "message": e.message} for e in exc.field_errors]
    response = problem_response(
        request, _domain_status(exc), exc.code, exc.message, errors, exc.headers
    )
    # Machine-readable details a client can act on (e.g. a quota's limit and usage).
    for key, value in exc.extra.items():
        response.content.setdefault(key, value)
    return response


def handle_validation_error(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[Any]:
    errors: list[dict[str, str]] = []
    if isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict):
                source = item.get("source")
                key = item.get("key") or ""
                errors.append(
                    {
                        "field": f"{source}.{key}" if source and key else str(key or source or ""),
                        "message": str(item.get("message", "invalid")),
                    }
                )
    # Litestar also reports malformed JSON as a 400 ValidationException without field errors.
    code = "validation_failed" if errors else "malformed_body"
    detail = "The request is not valid" if errors else "The request body could not be read"
    return problem_response(request, 400, code, detail, errors)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status >= 500:
        logger.error("http error", extra={"status": status, "detail": exc.detail})
        return problem_response(
            request, status, HTTP_CODES.get(status, "server_error"), "Server error"
        )
    detail = exc.detail if exc.detail and exc.detail != HTTPStatus(status).phrase else ""
    return problem_response(
        request,
        status,
        HTTP_CODES.get(status, "http_error"),
        detail or HTTPStatus(status).description or HTTPStatus(status).phrase,
        headers=dict(exc.headers or {}),
    )


# PostgreSQL refuses some text a client can send (a NUL byte): that is bad input, not a 500.
_CLIENT_DATA_SQLSTATES = {"22021", "22P05", "54000"}


def handle_database_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[Any]:
    if is_transient(exc):
        return handle_outage(request, exc)
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    cause = getattr(orig, "__cause__", None)
    state = state or getattr(cause, "sqlstate", None)
    if state in _CLIENT_DATA_SQLSTATES:
        return problem_response(
            request,
            400,
            "invalid_characters",
            "The request contains characters that cannot be stored",
        )
    return handle_unexpected(request, exc)


def handle_undecodable_body(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A body the JSON decoder gives up on (nesting too deep for its recursion limit, bytes
    that are not UTF-8) is the client's mistake: 400, never a 500."""
    logger.info("undecodable body", extra={"error_type": type(exc).__name__})
    return problem_response(request, 400, "malformed_body", "The request body could not be read")


def handle_outage(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """PostgreSQL or Redis away: 503 with Retry-After, logged once in a while without a
    traceback. The engine's pool drops the dead connections (pre-ping), so the first request
    after the server is back succeeds without restarting the gateway."""
    dependency = dependency_of(exc)
    OUTAGE_RESPONSES.labels(dependency).inc()
    outage_log.seen("dependency unavailable; answering 503", exc, path=request.url.path)
    return problem_response(
        request,
        503,
        "service_unavailable",
        "A server this request needs is briefly unavailable; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if is_transient(exc):
        return handle_outage(request, exc)
    logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
    return problem_response(
        request,
        500,
        "internal_error",
        "Something went wrong on our side; the request id helps us find it",
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: handle_domain_error,
    ValidationException: handle_validation_error,
    HTTPException: handle_http_exception,
    DBAPIError: handle_database_error,
    # Raised by msgspec/pydantic while turning the request body into values.
    RecursionError: handle_undecodable_body,
    UnicodeDecodeError: handle_undecodable_body,
    msgspec.DecodeError: handle_undecodable_body,
    Exception: handle_unexpected,
}
