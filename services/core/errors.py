"""Domain errors. Services raise these; the gateway maps each to one HTTP status and code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    code = "error"
    # When True the unit of work still commits what was written before the error was raised
    # (a security revocation must survive the refusal it causes).
    keeps_changes = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field_errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field_errors = field_errors or []
        self.headers = headers or {}
        self.extra = extra or {}


class InvalidInput(DomainError):
    code = "invalid_input"


class MalformedBody(InvalidInput):
    """The request body could not be decoded at all (not JSON, not UTF-8): 400, not 422."""

    code = "malformed_body"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class NotAuthenticated(DomainError):
    code = "not_authenticated"


class TokenReused(NotAuthenticated):
    code = "token_reused"
    keeps_changes = True


class PermissionDenied(DomainError):
    code = "permission_denied"


class QuotaExceeded(DomainError):
    code = "quota_exceeded"


class Throttled(DomainError):
    code = "too_many_requests"


class TransientError(Exception):
    """A failure worth retrying later (network, 429, 5xx, lock timeout)."""
