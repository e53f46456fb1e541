"""What every page shares: the signed-in user from the session, rendering with the layout,
form parsing with field errors, flash notices, and errors shown as pages instead of JSON."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from litestar import Request, Response
from litestar.datastructures import State, UploadFile
from litestar.exceptions import HTTPException, NotFoundException
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.types import ExceptionHandlersMap
from pydantic import BaseModel, ValidationError

from gateway.dependencies import resources
from gateway.problems import DOMAIN_STATUS
from gateway.web.nav import nav_for
from services.auth.models import Role, User
from services.auth.service import AuthService
from services.core.errors import DomainError, NotFound, PermissionDenied
from services.core.logging import user_id_var

logger = logging.getLogger("gateway.web")

__all__ = ["flash"]

SESSION_USER_KEY = "user_id"
M = TypeVar("M", bound=BaseModel)
AnyRequest = Request[Any, Any, Any]


class LoginRequired(Exception):
    """No signed-in user on a page that needs one: answered with a redirect to sign in."""


@dataclass(frozen=True, slots=True)
class PageUser:
    """The seller (or admin) signed in through the session cookie."""

    user: User

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def is_admin(self) -> bool:
        return self.user.role == Role.ADMIN.value


async def provide_page_user(request: AnyRequest, state: State) -> PageUser:
    """The signed-in user; a missing, stale or disabled one is sent to the sign-in page."""
    raw = request.session.get(SESSION_USER_KEY) if request.session else None
    try:
        user_id = uuid.UUID(str(raw)) if raw else None
    except ValueError:
        user_id = None
    if user_id is None:
        raise LoginRequired
    res = resources(state)
    # Its own short session, like the API's bearer dependency: a refusal must not hold a
    # connection of the request's unit of work.
    async with res.sessionmaker() as session:
        try:
            user: User | None = await AuthService(session, res.redis, res.settings.auth).get_user(
                user_id
            )
        except NotFound:
            user = None
    if user is None or not user.is_active:
        request.clear_session()
        raise LoginRequired
    request.scope["state"]["user_id"] = str(user.id)
    user_id_var.set(str(user.id))
    return PageUser(user)


async def provide_page_admin(page_user: PageUser) -> PageUser:
    """The signed-in user if an admin; 403 page for anyone else."""
    if not page_user.is_admin:
        raise PermissionDenied("This page needs an admin account")
    return page_user


def page(
    request: AnyRequest,
    template: str,
    user: PageUser | None = None,
    *,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """Render a template inside the layout (nav for the user's role, simulator banner)."""
    settings = resources(request.app.state).settings
    return Template(
        template_name=template,
        status_code=status_code,
        context={
            "me": user,
            "nav": nav_for(user.role if user else None, request.url.path),
            "simulated": settings.apify.simulated,
            "path": request.url.path,
            **context,
        },
    )


def redirect(path: str) -> Redirect:
    """303 See Other: the browser follows a form post with a GET."""
    return Redirect(path=path, status_code=HTTP_303_SEE_OTHER)


def safe_next(value: str | None, default: str = "/") -> str:
    """A post-login target on this site only (no scheme, no host, no //evil.example)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


@dataclass
class FormResult(Generic[M]):
    """A posted form: the validated model, or the values to show again with per-field errors."""

    data: M | None
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadFile] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.data is not None and not self.errors


def validation_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "_form"
        message = str(error["msg"]).removeprefix("Value error, ")
        errors.setdefault(name, message)
    return errors


def domain_errors(exc: DomainError) -> dict[str, str]:
    """A service's refusal as form errors: each field error at its field, the message on top."""
    errors = {"_form": exc.message}
    for item in exc.field_errors:
        errors.setdefault(item.field, item.message)
    return errors


async def read_form(
    request: AnyRequest, model: type[M], *, lists: tuple[str, ...] = ()
) -> FormResult[M]:
    """Parse and validate a posted form against a schema; ``lists`` are multi-value fields."""
    form = await request.form()
    values: dict[str, str] = {}
    files: dict[str, UploadFile] = {}
    for key, value in form.multi_items():
        if key == "_csrf_token":
            continue
        if isinstance(value, UploadFile):
            files[key] = value
        elif key not in lists:
            values[key] = value
    payload: dict[str, Any] = {k: v for k, v in values.items() if k in model.model_fields}
    for key in lists:
        payload[key] = [v for v in form.getall(key) if isinstance(v, str)] if key in form else []
    try:
        return FormResult(model.model_validate(payload), values, files=files)
    except ValidationError as exc:
        return FormResult(None, values, validation_errors(exc), files=files)


def _login_required(request: AnyRequest, _: LoginRequired) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={target}" if target not in ("/", "/logout") else "/login"
    if request.headers.get("hx-request"):
        # htmx follows no redirects of a partial request; it navigates on HX-Redirect.
        return Response(content=b"", status_code=204, headers={"HX-Redirect": location})
    return Redirect(path=location, status_code=HTTP_303_SEE_OTHER)


def _domain_error(request: AnyRequest, exc: DomainError) -> Response[Any]:
    status = next((s for t, s in DOMAIN_STATUS.items() if isinstance(exc, t)), 400)
    return _render_error(request, status, exc.message)


def _http_error(request: AnyRequest, exc: HTTPException) -> Response[Any]:
    return _render_error(request, exc.status_code, exc.detail)


def _unexpected(request: AnyRequest, exc: Exception) -> Response[Any]:
    logger.exception("page failed", exc_info=exc)
    return _render_error(request, 500, "Something went wrong on our side; please try again.")


TITLES = {
    400: "That request was not understood",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    409: "Already done",
    422: "Please check your input",
    429: "Slow down a little",
    500: "Something went wrong",
}


def _render_error(request: AnyRequest, status: int, detail: str) -> Response[Any]:
    engine = request.app.template_engine
    assert engine is not None
    settings = resources(request.app.state).settings
    body = engine.get_template("error.html").render(
        request=request,
        me=None,
        nav=[],
        simulated=settings.apify.simulated,
        path=request.url.path,
        title=TITLES.get(status, "Something went wrong"),
        detail=detail,
        status=status,
        csrf_token=lambda: "",
    )
    return Response(content=body, status_code=status, media_type="text/html")


PAGE_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    LoginRequired: _login_required,
    DomainError: _domain_error,
    NotFoundException: _http_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
