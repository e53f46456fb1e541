"""Request and response types of the auth module."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.core.pagination import PageParams


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, examples=["seller@example.com"])
    password: str = Field(max_length=128)


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    password: str = Field(max_length=128)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=10, max_length=200)


class LogoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str | None = Field(default=None, min_length=10, max_length=200)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


class PlanRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    max_tracked_products: int
    rate_limit_per_minute: int
    refreshes_per_day: int


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    role: str
    is_active: bool
    plan: PlanRead
    created_at: datetime


class UserAdminUpdate(BaseModel):
    """What an admin may change on an account: its plan, role and whether it is active."""

    model_config = ConfigDict(extra="forbid")

    plan: str | None = Field(default=None, min_length=1, max_length=50)
    role: str | None = Field(default=None, pattern="^(seller|admin)$")
    is_active: bool | None = None


class PlanLimits(BaseModel):
    """What an account's plan allows: all other modules need to know of it."""

    model_config = ConfigDict(from_attributes=True)

    max_tracked_products: int
    refreshes_per_day: int


class PlanFilter(PageParams):
    """A page of the plans, smallest quota first."""
