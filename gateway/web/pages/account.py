"""Sign up, sign in and sign out through the session cookie."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field

from gateway.dependencies import resources
from gateway.web.kit import (
    SESSION_USER_KEY,
    AnyRequest,
    PageUser,
    flash,
    page,
    read_form,
    redirect,
    safe_next,
)
from gateway.web.session import rotate_session
from services.auth.schemas import UserCreate
from services.auth.service import AuthService
from services.core.errors import Conflict, InvalidInput, NotAuthenticated, Throttled


class SignInForm(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class SignUpForm(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=128)


def _signed_in(request: AnyRequest) -> bool:
    return bool(request.session and request.session.get(SESSION_USER_KEY))


def _start_session(request: AnyRequest, user_id: Any) -> None:
    rotate_session(request)
    request.set_session({SESSION_USER_KEY: str(user_id)})


class AccountPages(Controller):
    include_in_schema = False

    @get("/login")
    async def sign_in_form(
        self, request: AnyRequest, next: FromQuery[str | None] = None
    ) -> Template | Redirect:
        """The sign-in page."""
        if _signed_in(request):
            return redirect(safe_next(next))
        return page(request, "auth/login.html", title="Sign in", values={}, errors={}, next=next)

    @post("/login")
    async def sign_in(
        self, request: AnyRequest, auth_service: NamedDependency[AuthService]
    ) -> Template | Redirect:
        """Check the credentials under the same throttle as the API's login."""
        form = await read_form(request, SignInForm)
        target = safe_next(form.values.get("next"))

        def again(errors: dict[str, str], status: int) -> Template:
            values = {"email": form.values.get("email", "")}
            return page(
                request,
                "auth/login.html",
                status_code=status,
                title="Sign in",
                values=values,
                errors=errors,
                next=form.values.get("next"),
            )

        if form.data is None:
            return again(form.errors, 422)
        try:
            user = await auth_service.authenticate(
                form.data.email, form.data.password, request.scope["state"]["client_ip"]
            )
        except Throttled as exc:
            return again({"_form": exc.message}, 429)
        except NotAuthenticated as exc:
            return again({"_form": exc.message}, 401)
        _start_session(request, user.id)
        return redirect(target)

    @get("/signup")
    async def sign_up_form(self, request: AnyRequest, state: State) -> Template | Redirect:
        """The sign-up page, with the password rules."""
        if _signed_in(request):
            return redirect("/")
        return page(
            request,
            "auth/signup.html",
            title="Create your account",
            values={},
            errors={},
            password_min_length=resources(state).settings.auth.password_min_length,
        )

    @post("/signup")
    async def sign_up(
        self, request: AnyRequest, state: State, auth_service: NamedDependency[AuthService]
    ) -> Template | Redirect:
        """Create a seller account on the default plan and sign it in."""
        form = await read_form(request, SignUpForm)
        errors = form.errors
        if form.data is not None:
            try:
                user = await auth_service.register(
                    UserCreate(email=form.data.email, password=form.data.password)
                )
            except (InvalidInput, Conflict) as exc:
                errors = {"_form": exc.message}
                for item in exc.field_errors:
                    errors.setdefault(item.field, item.message)
                if isinstance(exc, Conflict):
                    errors["email"] = "This email already has an account — sign in instead."
            else:
                _start_session(request, user.id)
                flash(request, "Welcome to Shelfwatch! Add your first products below.", "success")
                return redirect("/products")
        return page(
            request,
            "auth/signup.html",
            status_code=422,
            title="Create your account",
            values={"email": form.values.get("email", "")},
            errors=errors,
            password_min_length=resources(state).settings.auth.password_min_length,
        )

    @post("/logout")
    async def sign_out(self, request: AnyRequest) -> Redirect:
        """End the session (its id is dropped from Redis) and go back to sign in."""
        rotate_session(request)
        request.set_session({})
        flash(request, "You are signed out.", "info")
        return redirect("/login")


__all__ = ["AccountPages", "PageUser"]
